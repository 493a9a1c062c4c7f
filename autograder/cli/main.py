"""The ``gradetape`` command: parses arguments, checks them, and delegates.

Every function it calls is callable from Python. Exit status: 0 when the command finished
(students may still have scored zero); 2 when it could not run: a bad option, path,
database, assignment name or ``gradetape.toml`` key (one line says what to do, checked
before any slow work), or a grader that fails its own reference solution.

Start-up stays quick: this module imports only the standard library and the cheap
:mod:`autograder.cli.preflight` (through the two below); each command imports what it needs
when it runs.
The parser and the dispatch are here, each command's checks in :mod:`autograder.cli.checks`
and what it does in :mod:`autograder.cli.commands`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from autograder.cli.checks import (
    check_audit,
    check_bundle,
    check_demo,
    check_export,
    check_grade,
    check_release,
    check_report,
    check_validate,
)
from autograder.cli.commands import (
    cmd_audit,
    cmd_demo,
    cmd_export,
    cmd_grade,
    cmd_gradescope_bundle,
    cmd_release,
    cmd_report,
    cmd_validate,
)
from autograder.cli.preflight import UsageError

EXIT_USAGE = 2


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
