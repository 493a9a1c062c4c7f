"""The ``check_*`` of each command: its arguments make sense, checked before any slow work.

``gradetape`` runs a command's check first; a failure is a :class:`UsageError` (exit 2, one
line saying what to do). The checks themselves are in :mod:`autograder.cli.preflight`; these
wrappers apply them to one command's arguments. Standard library and preflight only, so
``gradetape --help`` stays quick.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

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


def course_root(args: argparse.Namespace) -> Path:
    """The course root these arguments name (``--root``), resolved."""
    return Path(args.root).resolve()


def course_settings(args: argparse.Namespace) -> CourseSettings:
    """The course settings for these arguments (read once per command line)."""
    cached = getattr(args, "_course_settings", None)
    if cached is not None:
        return cached
    from autograder.settings import load_settings

    settings = load_settings(
        course_root(args),
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
    check_root(course_root(args))
    settings = course_settings(args)
    check_exercises(settings.root, names)
    return settings


def _check_gradebook(args: argparse.Namespace, must_exist: bool) -> CourseSettings:
    """The root exists, ``gradetape.toml`` is valid and the gradebook can be reached."""
    root = course_root(args)
    if not root.is_dir():
        raise UsageError(f"the course root {root} does not exist; pass --root COURSE")
    settings = course_settings(args)
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
    course_settings(args)


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
