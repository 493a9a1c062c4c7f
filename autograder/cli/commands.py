"""The ``cmd_*`` of each command: what ``gradetape COMMAND`` does once its checks passed.

Each returns the exit status. Every module a command needs (TensorFlow, nbgrader, pandas,
the gradebook) is imported inside it, when it runs, so ``gradetape --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.cli.checks import course_root, course_settings
from autograder.cli.preflight import UsageError

if TYPE_CHECKING:
    from gradebook.rows import Rows


def cmd_release(args: argparse.Namespace) -> int:
    """Release assignments with nbgrader."""
    from autograder.load.exercise import exercise_names
    from autograder.load.release import release

    settings = course_settings(args)
    names = args.assignment or exercise_names(settings)
    for name in names:
        path = release(settings, name, settings.database)
        print(f"released {name} -> {path.relative_to(settings.root)}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade every submission of an assignment into the gradebook."""
    from autograder.cli.progress import make_progress

    settings = course_settings(args)
    progress = None if args.quiet else make_progress(settings.worker_count)
    try:
        if progress is not None:
            progress.stage("load")
        from autograder.pipeline.batch import grade_assignment
        from gradebook import format_table, per_student_table, read_rows

        report = grade_assignment(
            settings,
            args.assignment,
            on_result=progress.result if progress else None,
            force=args.force,
            on_stage=progress.stage if progress else None,
        )
        if progress is not None:
            progress.finish()
    finally:
        if progress is not None:
            progress.close()
    print(f"{args.assignment}: {len(report.results)} submissions graded ({report.isolation})")
    print(format_table(per_student_table(read_rows(settings.database), _policy(settings))))
    return 0


def _policy(settings: Any) -> Any:
    """The course's grading policy from the ``[grading]`` table of ``gradetape.toml``."""
    from gradebook.policy import load_policy

    try:
        return load_policy(settings.root)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_export(args: argparse.Namespace) -> int:
    """Export the gradebook: long CSV, wide CSV, Canvas CSV, Parquet or Gradescope JSON."""
    from autograder.cli.quickstart import light_nbgrader

    light_nbgrader()
    from gradebook import canvas_csv, export_long, read_rows, to_csv, to_parquet, wide_csv

    settings = course_settings(args)
    target = args.output or sys.stdout
    rows = read_rows(settings.database)  # the one read of the gradebook
    if args.format == "gradescope":
        return _export_gradescope(args, rows)
    if args.format == "csv":
        to_csv(export_long(rows), target)
    elif args.format == "wide":
        wide_csv(rows, target, _policy(settings))
    elif args.format == "canvas":
        canvas_csv(rows, target, policy=_policy(settings))
    else:
        for name, path in to_parquet(rows, args.output, _policy(settings)).items():
            print(f"{name}: {path}")
    return 0


def _export_gradescope(args: argparse.Namespace, rows: Rows) -> int:
    """``--format gradescope``: one student's results.json, or one per student in a folder."""
    import json

    from gradebook.lms import gradescope_results, write_gradescope_folder, write_gradescope_results

    try:
        if args.student:
            if args.output:
                path = write_gradescope_results(
                    rows, args.assignment, args.student, args.output, visibility=args.visibility
                )
                print(f"{args.student}: {path}")
            else:
                results = gradescope_results(
                    rows, args.assignment, args.student, visibility=args.visibility
                )
                print(json.dumps(results, indent=2))
            return 0
        paths = write_gradescope_folder(
            rows, args.assignment, args.output, visibility=args.visibility
        )
    except KeyError as exc:
        raise UsageError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(f"{len(paths)} results.json files under {args.output}")
    return 0


def cmd_gradescope_bundle(args: argparse.Namespace) -> int:
    """Build the Gradescope autograder zip of one exercise."""
    from autograder.integrations.gradescope_bundle import build_bundle

    settings = course_settings(args)
    path = build_bundle(settings, args.exercise, Path(args.output))
    size = path.stat().st_size / 1e6
    print(f"{args.exercise}: Gradescope autograder bundle {path} ({size:.1f} MB)")
    print("  upload it in Gradescope: Configure Autograder > Zip file upload.")
    print("  it holds the course seed and the answer key: keep it off anything students see.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report and the per-student feedback pages."""
    from autograder.cli.quickstart import light_nbgrader

    light_nbgrader()
    from gradebook import read_rows, write_all_feedback
    from gradebook.report import write_report

    settings = course_settings(args)
    policy = _policy(settings)
    rows = read_rows(settings.database)  # the one read: the report and every page share it
    path = write_report(rows, Path(args.output).resolve(), policy)
    print(f"report: {path}")
    pages = write_all_feedback(
        rows,
        settings.root,
        assignment=args.assignment,
        policy=policy,
        submitted=settings.submitted_dir,
    )
    print(f"feedback: {len(pages)} pages under {settings.root / 'feedback'}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Run a notebook's visible self-checks and say what would be graded."""
    from autograder.run.sandbox.factory import SandboxSpec, make_sandbox

    settings = course_settings(args)
    # The sandbox's worker (TensorFlow's import) starts now, while the notebook is read.
    spec = SandboxSpec(settings.isolation, limits=settings.limits, early=True, warn_weak=False)
    with make_sandbox(spec) as early:
        from autograder.review.validate import validate

        report = validate(Path(args.notebook), settings, sandbox=early)
    print(report.format())
    return int(report.exit_code)


def cmd_demo(args: argparse.Namespace) -> int:
    """Release, grade a demo class and check its scores, print the table, write the report."""
    from autograder.cli.demo import run_demo

    return run_demo(course_root(args), Path(args.out).resolve(), args.assignment or None, args.all)


def cmd_audit(args: argparse.Namespace) -> int:
    """Mutation audit of a grader: which plausible mistakes still get full marks."""
    from autograder.review.audit.report import format_result, write_html
    from autograder.review.audit.run import audit_exercise

    settings = course_settings(args)

    def progress(outcome: Any) -> None:
        if not args.quiet:
            print(f"  {outcome.fate.value:<22} {outcome.mutant.id}", file=sys.stderr, flush=True)

    result = audit_exercise(
        settings, args.exercise, args.max or None, args.workers, on_outcome=progress
    )
    print(format_result(result))
    if args.html:
        print(f"report: {write_html(result, Path(args.html).resolve())}")
    return 0
