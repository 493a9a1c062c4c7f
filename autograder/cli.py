"""The ``gradetape`` command: parses arguments and delegates (everything is callable from Python).

Exit status: 0 when the command finished (students may still have scored zero); 2 when
grading itself could not run (a broken grader, a missing exercise, a bad option).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .results import SubmissionResult


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve()


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .settings import load_settings

    return load_settings(
        _root(args),
        db_url=getattr(args, "db", None),
        submitted=Path(args.submitted).resolve() if getattr(args, "submitted", None) else None,
        isolation=getattr(args, "isolation", None),
        workers=getattr(args, "workers", None),
        warm=False if getattr(args, "cold", False) else None,
        scheduler=getattr(args, "scheduler", None),
        cache_dir=Path(args.cache_dir).resolve() if getattr(args, "cache_dir", None) else None,
    )


class Progress:
    """One stderr line per graded submission with counts, failures and an ETA."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.done = 0
        self.zero = 0
        self.total: int | None = None

    def __call__(self, result: SubmissionResult) -> None:
        """Report one graded submission."""
        self.done += 1
        self.zero += result.score == 0
        elapsed = time.monotonic() - self.start
        rate = elapsed / self.done
        eta = f" eta {rate * (self.total - self.done):4.0f} s" if self.total else ""
        print(
            f"  [{self.done:4d}] {result.student:<32} {result.score:6.1f}/{result.max_score:<6.1f}"
            f" {result.status.value:<9} zero so far: {self.zero}  {elapsed:6.1f} s{eta}",
            file=sys.stderr,
            flush=True,
        )

    def finish(self) -> None:
        """Print the summary line."""
        elapsed = time.monotonic() - self.start
        print(f"  {self.done} graded in {elapsed:.1f} s", file=sys.stderr)


def cmd_release(args: argparse.Namespace) -> int:
    """Release assignments with nbgrader."""
    from .exercise import exercise_names
    from .release import release

    settings = _settings(args)
    names = args.assignment or exercise_names(settings)
    for name in names:
        path = release(settings, name, settings.database)
        print(f"released {name} -> {path.relative_to(settings.root)}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade every submission of an assignment into the gradebook."""
    from gradebook import format_table, per_student_table

    from .course import grade_assignment

    settings = _settings(args)
    progress = None if args.quiet else Progress()
    if progress is not None:
        from .grading import find_submissions

        progress.total = len(find_submissions(settings.submitted_dir, args.assignment))
    report = grade_assignment(settings, args.assignment, on_result=progress, force=args.force)
    if progress is not None:
        progress.finish()
    print(f"{args.assignment}: {len(report.results)} submissions graded ({report.isolation})")
    print(format_table(per_student_table(settings.database, _policy(settings))))
    return 0


def _policy(settings: Any) -> Any:
    """The course's grading policy from the ``[grading]`` table of ``gradetape.toml``."""
    from gradebook.policy import load_policy

    return load_policy(settings.root)


def cmd_export(args: argparse.Namespace) -> int:
    """Export the gradebook: long CSV, wide CSV, Canvas CSV, Parquet or Gradescope JSON."""
    from gradebook import canvas_csv, export_long, to_csv, to_parquet, wide_csv

    settings = _settings(args)
    target = args.output or sys.stdout
    if args.format == "gradescope":
        return _export_gradescope(args, settings.database)
    if args.format == "csv":
        to_csv(export_long(settings.database), target)
    elif args.format == "wide":
        wide_csv(settings.database, target, _policy(settings))
    elif args.format == "canvas":
        canvas_csv(settings.database, target, policy=_policy(settings))
    else:
        if not args.output:
            raise ValueError("--format parquet needs --output DIRECTORY")
        for name, path in to_parquet(settings.database, args.output, _policy(settings)).items():
            print(f"{name}: {path}")
    return 0


def _export_gradescope(args: argparse.Namespace, db_url: str) -> int:
    """``--format gradescope``: one student's results.json, or one per student in a folder."""
    import json

    from gradebook.lms import gradescope_results, write_gradescope_folder, write_gradescope_results

    if not args.assignment:
        raise ValueError("--format gradescope needs --assignment NAME")
    try:
        if args.student:
            if args.output:
                path = write_gradescope_results(
                    db_url, args.assignment, args.student, args.output, visibility=args.visibility
                )
                print(f"{args.student}: {path}")
            else:
                results = gradescope_results(
                    db_url, args.assignment, args.student, visibility=args.visibility
                )
                print(json.dumps(results, indent=2))
            return 0
        if not args.output:
            raise ValueError(
                "--format gradescope needs --output FOLDER (one <student>/results.json each) "
                "or --student ID"
            )
        paths = write_gradescope_folder(
            db_url, args.assignment, args.output, visibility=args.visibility
        )
    except KeyError as exc:
        raise ValueError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(f"{len(paths)} results.json files under {args.output}")
    return 0


def cmd_gradescope_bundle(args: argparse.Namespace) -> int:
    """Build the Gradescope autograder zip of one exercise."""
    from .gradescope import build_bundle

    settings = _settings(args)
    path = build_bundle(settings, args.exercise, Path(args.output))
    size = path.stat().st_size / 1e6
    print(f"{args.exercise}: Gradescope autograder bundle {path} ({size:.1f} MB)")
    print("  upload it in Gradescope: Configure Autograder > Zip file upload.")
    print("  it holds the course seed and the answer key: keep it off anything students see.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report and the per-student feedback pages."""
    from gradebook import write_all_feedback
    from gradebook.report import write_report

    settings = _settings(args)
    path = write_report(settings.database, Path(args.output).resolve(), _policy(settings))
    print(f"report: {path}")
    pages = write_all_feedback(
        settings.database,
        settings.root,
        assignment=args.assignment,
        policy=_policy(settings),
        submitted=settings.submitted_dir,
    )
    print(f"feedback: {len(pages)} pages under {settings.root / 'feedback'}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Run a notebook's visible self-checks and say what would be graded."""
    from .validate import validate

    report = validate(Path(args.notebook), _settings(args))
    print(report.format())
    return int(report.exit_code)


def cmd_demo(args: argparse.Namespace) -> int:
    """Release the course, grade a demo class, print the table, write the report."""
    from .demo import run_demo

    return run_demo(_root(args), Path(args.out).resolve(), args.assignment or None)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradetape``."""
    parser = argparse.ArgumentParser(prog="gradetape", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root",
        default=os.environ.get("GRADETAPE_ROOT", "."),
        help="course root (default: current directory)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="gradebook SQLAlchemy URL (default: sqlite gradebook.db)")

    p = sub.add_parser("release", help="generate student releases with nbgrader")
    p.add_argument("assignment", nargs="*", help="assignments (default: all)")
    common(p)
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("grade", help="grade submitted/<student>/<assignment>/*.ipynb")
    p.add_argument("assignment")
    p.add_argument("--submitted", help="submissions folder (default: ./submitted)")
    p.add_argument("--isolation", choices=["auto", "bwrap", "subprocess"])
    p.add_argument("--workers", type=int, help="sandboxes at once (default: one per core)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    p.add_argument("--cold", action="store_true", help="a new sandbox per job (no warm workers)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines (for CI)")
    p.add_argument("--scheduler", help="Dask scheduler address: grade on a Dask cluster")
    p.add_argument("--cache-dir", help="trusted cache of keys and results (default: .gradetape)")
    common(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("export", help="export scores")
    p.add_argument(
        "--format",
        choices=["csv", "wide", "canvas", "parquet", "gradescope"],
        default="csv",
        help="csv: one row per student, assignment and question; wide: one row per student; "
        "canvas: Canvas gradebook import; parquet: analyst tables (needs --output DIR); "
        "gradescope: results.json per student (needs --assignment, and --output DIR or "
        "--student ID)",
    )
    p.add_argument("--output", "-o", help="file or folder to write (default: stdout)")
    p.add_argument("--assignment", help="gradescope: the assignment to export")
    p.add_argument("--student", help="gradescope: only this student's results.json")
    p.add_argument(
        "--visibility",
        choices=["hidden", "after_due_date", "after_published", "visible"],
        default="visible",
        help="gradescope: visibility of the results and tests (default: visible)",
    )
    common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "gradescope-bundle", help="Gradescope autograder zip of one exercise (setup.sh, ...)"
    )
    p.add_argument("exercise")
    p.add_argument("--output", "-o", default="bundle.zip", help="zip to write (bundle.zip)")
    p.set_defaults(func=cmd_gradescope_bundle)

    p = sub.add_parser("report", help="HTML report and per-student feedback pages")
    p.add_argument("assignment", nargs="?", help="feedback for this assignment only")
    p.add_argument("--output", "-o", default="report.html")
    common(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("validate", help="run a notebook's visible self-checks")
    p.add_argument("notebook")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("demo", help="release, grade a demo class, report")
    p.add_argument("assignment", nargs="*", help="assignments (default: all)")
    p.add_argument("--out", default="demo", help="folder for the demo class (default: demo)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gradetape``; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    from .key import GraderError
    from .release import ReleaseError

    try:
        return int(args.func(args))
    except (
        GraderError,
        ReleaseError,
        FileNotFoundError,
        ValueError,
        RuntimeError,
        OSError,
    ) as exc:
        print(f"gradetape: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
