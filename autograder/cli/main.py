"""The ``gradetape`` command: parses arguments, checks them, and delegates.

Every function it calls is callable from Python. Exit status: 0 when the command finished
(students may still have scored zero); 2 when it could not run: a bad option, path,
database, assignment name or ``gradetape.toml`` key (one line says what to do, checked
before any slow work), or a grader that fails its own reference solution.

Start-up stays quick: this module imports only the standard library and the cheap
:mod:`autograder.cli.preflight`; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.cli.preflight import (
    UsageError,
    check_database,
    check_exercises,
    check_graded,
    check_notebook,
    check_output_file,
    check_output_folder,
    check_root,
    check_scheduler,
    check_submitted,
)

if TYPE_CHECKING:
    from autograder.settings import CourseSettings
    from gradebook.rows import Rows

EXIT_USAGE = 2


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve()


def _settings(args: argparse.Namespace) -> CourseSettings:
    """The course settings for these arguments (read once per command line)."""
    cached = getattr(args, "_course_settings", None)
    if cached is not None:
        return cached
    from autograder.settings import load_settings

    settings = load_settings(
        _root(args),
        db_url=getattr(args, "db", None),
        submitted=Path(args.submitted).resolve() if getattr(args, "submitted", None) else None,
        isolation=getattr(args, "isolation", None),
        workers=getattr(args, "workers", None),
        warm=False if getattr(args, "cold", False) else None,
        scheduler=getattr(args, "scheduler", None),
        cache_dir=Path(args.cache_dir).resolve() if getattr(args, "cache_dir", None) else None,
    )
    args._course_settings = settings
    return settings


def _check_course(args: argparse.Namespace, names: Sequence[str] = ()) -> CourseSettings:
    """The root is a course, ``gradetape.toml`` is valid and every name is an exercise."""
    check_root(_root(args))
    settings = _settings(args)
    check_exercises(settings.root, names)
    return settings


def _check_gradebook(args: argparse.Namespace, must_exist: bool) -> CourseSettings:
    """The root exists, ``gradetape.toml`` is valid and the gradebook can be reached."""
    root = _root(args)
    if not root.is_dir():
        raise UsageError(f"the course root {root} does not exist; pass --root COURSE")
    settings = _settings(args)
    check_database(settings.database, bool(getattr(args, "db", None)), must_exist)
    return settings


def check_release(args: argparse.Namespace) -> None:
    """``release``: the exercises exist and the gradebook can be written."""
    settings = _check_course(args, args.assignment)
    check_database(settings.database, bool(args.db), must_exist=False)


def check_grade(args: argparse.Namespace) -> None:
    """``grade``: the exercise, the submissions, the gradebook and the options make sense."""
    settings = _check_course(args, [args.assignment])
    check_submitted(settings.submitted_dir, args.assignment, bool(args.submitted))
    if args.cache_dir:
        check_output_folder(Path(args.cache_dir), "--cache-dir")
    if args.scheduler:
        check_scheduler(args.scheduler)
    check_database(settings.database, bool(args.db), must_exist=False)


def check_export(args: argparse.Namespace) -> None:
    """``export``: the format's options, the output path and the gradebook."""
    if args.format == "gradescope":
        if not args.assignment:
            raise UsageError("--format gradescope needs --assignment NAME (the one to export)")
        if not args.output and not args.student:
            raise UsageError(
                "--format gradescope needs --output FOLDER (one <student>/results.json each) "
                "or --student ID"
            )
    else:
        for option in ("assignment", "student"):
            if getattr(args, option):
                raise UsageError(
                    f"--{option} is only for --format gradescope; leave it out for "
                    f"--format {args.format}"
                )
        if args.format == "parquet" and not args.output:
            raise UsageError("--format parquet needs --output DIRECTORY (one file per table)")
    if args.output:
        folder = args.format == "parquet" or (args.format == "gradescope" and not args.student)
        check = check_output_folder if folder else check_output_file
        check(Path(args.output), "--output")
    settings = _check_gradebook(args, must_exist=True)
    if args.assignment:
        check_graded(settings.database, args.assignment)


def check_report(args: argparse.Namespace) -> None:
    """``report``: the output path, the gradebook and the assignment exist."""
    check_output_file(Path(args.output), "--output")
    settings = _check_gradebook(args, must_exist=True)
    if args.assignment:
        check_graded(settings.database, args.assignment)


def check_bundle(args: argparse.Namespace) -> None:
    """``gradescope-bundle``: the exercise exists and the zip can be written."""
    _check_course(args, [args.exercise])
    check_output_file(Path(args.output), "--output")


def check_validate(args: argparse.Namespace) -> None:
    """``validate``: the notebook is a notebook file and ``gradetape.toml`` is valid."""
    check_notebook(Path(args.notebook))
    _settings(args)


def check_audit(args: argparse.Namespace) -> None:
    """``audit``: the exercise exists and the outputs can be written."""
    _check_course(args, [args.exercise])
    if args.html:
        check_output_folder(Path(args.html).resolve().parent, "--html")
    if args.cache_dir:
        check_output_folder(Path(args.cache_dir), "--cache-dir")


def check_demo(args: argparse.Namespace) -> None:
    """``demo``: the exercises exist and the demo folder can be made."""
    _check_course(args, args.assignment)
    check_output_folder(Path(args.out), "--out")


def cmd_release(args: argparse.Namespace) -> int:
    """Release assignments with nbgrader."""
    from autograder.load.exercise import exercise_names
    from autograder.load.release import release

    settings = _settings(args)
    names = args.assignment or exercise_names(settings)
    for name in names:
        path = release(settings, name, settings.database)
        print(f"released {name} -> {path.relative_to(settings.root)}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade every submission of an assignment into the gradebook."""
    from autograder.cli.progress import make_progress

    settings = _settings(args)
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

    settings = _settings(args)
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

    settings = _settings(args)
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

    settings = _settings(args)
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
    from autograder.run.sandbox.early import EarlySandbox

    settings = _settings(args)
    # The sandbox's worker (TensorFlow's import) starts now, while the notebook is read.
    early = EarlySandbox(settings.isolation, settings.limits)
    try:
        from autograder.review.validate import validate

        report = validate(Path(args.notebook), settings, sandbox=early if early.usable else None)
    finally:
        early.close()
    print(report.format())
    return int(report.exit_code)


def cmd_demo(args: argparse.Namespace) -> int:
    """Release, grade a demo class and check its scores, print the table, write the report."""
    from autograder.cli.demo import run_demo

    return run_demo(_root(args), Path(args.out).resolve(), args.assignment or None, args.all)


class _VersionAction(argparse.Action):
    """``--version``: looked up only when asked, so start-up does not pay for it."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("gradetape")
        except PackageNotFoundError:
            number = "unknown (not installed; run scripts/bootstrap)"
        print(f"gradetape {number} (Python {sys.version.split()[0]})")
        parser.exit()


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 (one per core) or more")
    return value


EPILOGS = {
    "release": """examples:
  gradetape release                     # every exercise
  gradetape release 01_tensors 02_layers
""",
    "grade": """examples:
  gradetape grade 01_tensors            # submitted/<student>/01_tensors/*.ipynb
  gradetape grade 01_tensors --submitted /srv/class/submitted --db postgresql://user@host/db
  gradetape grade 01_tensors --workers 4 --quiet     # CI: no progress display
  gradetape grade 01_tensors --scheduler tcp://scheduler:8786

On a terminal a progress bar shows building the answer key, the known-wrong variants, then
each submission with an ETA; elsewhere (CI logs) one plain line each.
exit status: 0 when the batch finished (whatever students scored); 2 when grading could not
run (a bad option or path, a reference solution that fails its own grader).
""",
    "export": """examples:
  gradetape export                                  # long CSV on stdout
  gradetape export --format wide -o grades.csv      # one row per student
  gradetape export --format canvas -o canvas.csv    # Canvas gradebook import
  gradetape export --format parquet -o tables/      # analyst tables
  gradetape export --format gradescope --assignment 01_tensors -o gs/
  gradetape export --format gradescope --assignment 01_tensors --student ada
""",
    "gradescope-bundle": """examples:
  gradetape gradescope-bundle 01_tensors -o 01_tensors-gradescope.zip
The zip holds the course seed and the answer key: keep it off anything students see.
""",
    "report": """examples:
  gradetape report                          # report.html and every feedback page
  gradetape report 01_tensors -o out/report.html
""",
    "validate": """examples:
  gradetape validate exercises/01_tensors/01_tensors.ipynb
  gradetape validate ~/work/01_Tensors.IPYNB     # any case of .ipynb
""",
    "audit": """examples:
  gradetape audit 02_tensor_ops                     # 40 mutants, the table on stdout
  gradetape audit 05_backprop --max 0 --html audit-05.html   # every mutant, and a page
""",
    "demo": """examples:
  gradetape demo                        # a representative class, into demo/
  gradetape demo --all                  # every exercise and every known-wrong variant (slow)
  gradetape demo 01_tensors --out /tmp/demo
""",
}

MAIN_EPILOG = """examples:
  gradetape release 01_tensors
  gradetape grade 01_tensors
  gradetape export --format csv -o grades.csv
  gradetape report
  gradetape COMMAND --help              # options and examples of one command

Settings live in gradetape.toml in the course root (an unknown key is an error).
exit status: 0 done; 2 a bad input or grading could not run (one line says what to do).
"""


def cmd_audit(args: argparse.Namespace) -> int:
    """Mutation audit of a grader: which plausible mistakes still get full marks."""
    from autograder.review.audit.report import format_result, write_html
    from autograder.review.audit.run import audit_exercise

    settings = _settings(args)

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradetape``."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="gradetape",
        description="GradeTape: release, grade, export and report a TensorFlow course\n"
        "(nbgrader notebooks, hidden graders run in a sandbox).",
        epilog=MAIN_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--root",
        default=os.environ.get("GRADETAPE_ROOT", "."),
        help="course root, holding gradetape.toml (default: $GRADETAPE_ROOT, else the "
        "current directory)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO)")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do (gradetape COMMAND --help: its options and examples)",
    )

    def add(
        name: str,
        help: str,
        func: Callable[[argparse.Namespace], int],
        check: Callable[[argparse.Namespace], None],
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help, description=help, epilog=EPILOGS[name], formatter_class=formatter
        )
        p.set_defaults(func=func, check=check)
        return p

    def db(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            metavar="URL",
            help="gradebook SQLAlchemy URL, like sqlite:///gradebook.db or "
            "postgresql://user@host/db (default: $GRADETAPE_DB, else gradebook.db in the root)",
        )

    p = add("release", "generate student releases with nbgrader", cmd_release, check_release)
    p.add_argument("assignment", nargs="*", help="exercises to release (default: all)")
    db(p)

    p = add("grade", "grade submitted/<student>/<assignment>/*.ipynb", cmd_grade, check_grade)
    p.add_argument("assignment", help="the exercise to grade, like 01_tensors")
    p.add_argument(
        "--submitted",
        metavar="FOLDER",
        help="submissions, laid out <student>/<assignment>/*.ipynb (default: submitted/)",
    )
    p.add_argument(
        "--isolation",
        choices=["auto", "bwrap", "subprocess"],
        help="auto: bubblewrap when available; bwrap: refuse without it; subprocess: weak "
        "isolation (default: gradetape.toml, else auto)",
    )
    p.add_argument(
        "--workers",
        type=_non_negative,
        metavar="N",
        help="sandboxes at once (default: gradetape.toml; 0 = one per core)",
    )
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    p.add_argument(
        "--cold",
        action="store_true",
        help="a brand-new sandbox per job (no warm workers; same as warm = false)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress display (for CI)")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler address: grade on a Dask cluster"
    )
    p.add_argument(
        "--cache-dir",
        metavar="FOLDER",
        help="trusted cache of answer keys and results (default: .gradetape/cache)",
    )
    db(p)

    p = add("export", "export scores", cmd_export, check_export)
    p.add_argument(
        "--format",
        choices=["csv", "wide", "canvas", "parquet", "gradescope"],
        default="csv",
        help="csv: one row per student, assignment and question; wide: one row per student; "
        "canvas: Canvas gradebook import; parquet: analyst tables (needs --output DIR); "
        "gradescope: results.json per student (needs --assignment, and --output DIR or "
        "--student ID) (default: csv)",
    )
    p.add_argument(
        "--output", "-o", metavar="PATH", help="file or folder to write (default: stdout)"
    )
    p.add_argument("--assignment", metavar="NAME", help="gradescope: the assignment to export")
    p.add_argument("--student", metavar="ID", help="gradescope: only this student's results.json")
    p.add_argument(
        "--visibility",
        choices=["hidden", "after_due_date", "after_published", "visible"],
        default="visible",
        help="gradescope: visibility of the results and tests (default: visible)",
    )
    db(p)

    p = add(
        "gradescope-bundle",
        "Gradescope autograder zip of one exercise (setup.sh, run_autograder, key)",
        cmd_gradescope_bundle,
        check_bundle,
    )
    p.add_argument("exercise", help="the exercise to bundle, like 01_tensors")
    p.add_argument(
        "--output", "-o", metavar="ZIP", default="bundle.zip", help="zip to write (bundle.zip)"
    )

    p = add("report", "HTML report and per-student feedback pages", cmd_report, check_report)
    p.add_argument(
        "assignment", nargs="?", help="feedback pages for this assignment only (default: all)"
    )
    p.add_argument(
        "--output", "-o", metavar="FILE", default="report.html", help="report (report.html)"
    )
    db(p)

    p = add("validate", "run a notebook's visible self-checks", cmd_validate, check_validate)
    p.add_argument("notebook", help="the notebook file (.ipynb, any case)")

    p = add(
        "audit",
        "mutation audit: grade mutants of the reference solution, list the survivors",
        cmd_audit,
        check_audit,
    )
    p.add_argument("exercise", help="the exercise to audit, like 02_tensor_ops")
    p.add_argument(
        "--max",
        type=_non_negative,
        default=40,
        help="grade at most N mutants, a deterministic sample stratified over cells and "
        "operators (default 40: a few minutes for a training exercise on 2 cores; 0: all)",
    )
    p.add_argument("--html", metavar="FILE", help="also write the HTML report to this file")
    p.add_argument(
        "--workers", type=_non_negative, help="sandboxes at once (default: one per core)"
    )
    p.add_argument(
        "--isolation", choices=["auto", "bwrap", "subprocess"], help="isolation (default: auto)"
    )
    p.add_argument(
        "--cache-dir",
        metavar="FOLDER",
        help="trusted cache of keys and mutant runs (default: .gradetape)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    p = add("demo", "release, grade a demo class, check its scores, report", cmd_demo, check_demo)
    p.add_argument(
        "assignment",
        nargs="*",
        help="exercises (default: a representative few; with --all: every exercise)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="the whole course: every exercise, every known-wrong variant (slow)",
    )
    p.add_argument(
        "--out", metavar="FOLDER", default="demo", help="folder for the demo class (demo)"
    )
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "could not run" (exit 2, one message) rather than a bug.

    The grader's and release's own error classes count only once their modules are loaded:
    looking them up must not import TensorFlow or nbgrader.
    """
    kinds: list[type[BaseException]] = [
        UsageError,
        FileNotFoundError,
        ValueError,
        RuntimeError,
        OSError,
    ]
    for module, name in (
        ("autograder.judge.answer_key", "GraderError"),
        ("autograder.load.release", "ReleaseError"),
    ):
        loaded = sys.modules.get(module)
        if loaded is not None:
            kinds.append(getattr(loaded, name))
    return tuple(kinds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gradetape``; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    import logging

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        check = getattr(args, "check", None)  # a command added without checks still runs
        if check is not None:
            check(args)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("gradetape: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, _known_errors()):
            raise
        print(f"gradetape: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
