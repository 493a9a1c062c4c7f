"""The demo class: release, grade a class of known submissions, check every score, report.

By default (``gradetape demo``, ``scripts/demo``) the class is *representative*: a few
exercises (:data:`DEMO_EXERCISES`, one of them a training exercise), and per exercise the
reference solution, the blank release, a malformed file, a handful of known-wrong variants
and a late hand-in of the reference. ``--all`` grades the whole course with every variant
(what the conformance battery covers). Either way the demo checks that each student scored
what they must and exits non-zero otherwise.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.load.exercise import Exercise, exercise_names, load_exercise
from autograder.load.release import (
    reference_submission,
    release,
    variant_submission,
    write_submission,
)
from autograder.pipeline.batch import grade_assignment
from autograder.results import SubmissionResult
from autograder.settings import CourseSettings, load_settings

if TYPE_CHECKING:
    from gradebook.rows import Rows

#: The representative class's exercises: tensors, autodiff, manual backprop and training.
DEMO_EXERCISES = ("01_tensors", "04_gradient_tape", "07_training_loops")
#: Known-wrong variants per exercise in the representative class.
DEMO_VARIANTS = 3
#: The demo's due date (every demo assignment) and how late the late student hands in.
DUE = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
LATE_BY = timedelta(days=2, hours=3)
#: The late penalty the demo's report applies (a fraction of the score per started day).
LATE_PENALTY_PER_DAY = 0.1


@dataclass(frozen=True)
class DemoPlan:
    """What the demo grades.

    Attributes:
        exercises: The exercises, in order.
        variants: Known-wrong variants per exercise (``None``: every variant).
        late: Whether the class has a late hand-in of the reference (``late`` student).
    """

    exercises: tuple[str, ...]
    variants: int | None = DEMO_VARIANTS
    late: bool = True


@dataclass
class DemoOutcome:
    """What the demo found (for the summary and the exit status)."""

    graded: int = 0
    problems: list[str] = field(default_factory=list)


def demo_plan(settings: CourseSettings, names: list[str] | None, everything: bool) -> DemoPlan:
    """The plan for ``gradetape demo [NAMES] [--all]``.

    Args:
        settings: The course.
        names: Exercises asked for on the command line (``None`` or empty: the default set).
        everything: ``--all``: every exercise (unless named) and every variant, no late hand-in.

    Raises:
        FileNotFoundError: If a named exercise does not exist, naming those that do.
    """
    known = exercise_names(settings)
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise FileNotFoundError(
                f"no exercise {', '.join(map(repr, unknown))}; exercises: {', '.join(known)}"
            )
        chosen = tuple(names)
    elif everything:
        chosen = tuple(known)
    else:
        chosen = tuple(n for n in DEMO_EXERCISES if n in known) or tuple(known[:1])
    if everything:
        return DemoPlan(chosen, variants=None, late=False)
    return DemoPlan(chosen)


def build_class(
    exercise: Exercise,
    submitted: Path,
    variants: int | None = None,
    late: timedelta | None = None,
) -> dict[str, tuple[str, ...]]:
    """Write the demo submissions; returns student id -> the tests that student must lose.

    ``("*",)`` means every test (the blank release and the malformed file score zero).

    Args:
        exercise: The exercise.
        submitted: Where to write ``<student>/<exercise>/<notebook>``.
        variants: How many known-wrong variants (the first ones by name; ``None``: all).
        late: When given, a ``late`` student hands the reference in this long after
            :data:`DUE` (nbgrader's ``timestamp.txt``); it must keep full marks, the late
            penalty applies to the course grade only.
    """
    import nbformat

    expected: dict[str, tuple[str, ...]] = {}
    folder = lambda student: submitted / student / exercise.name  # noqa: E731
    reference = reference_submission(exercise)
    write_submission(reference, folder("reference"), exercise.notebook)
    expected["reference"] = ()
    blank = nbformat.read(exercise.release_path, as_version=4)
    write_submission(blank, folder("blank"), exercise.notebook)
    expected["blank"] = ("*",)
    chosen = exercise.variants()
    for variant in chosen if variants is None else chosen[:variants]:
        student = f"variant-{variant.name}"
        write_submission(variant_submission(exercise, variant), folder(student), exercise.notebook)
        expected[student] = variant.loses
    broken = folder("malformed")
    broken.mkdir(parents=True, exist_ok=True)
    (broken / exercise.notebook).write_text('{"cells": [ {"cell_type": "code", ')
    expected["malformed"] = ("*",)
    if late is not None:
        write_submission(reference, folder("late"), exercise.notebook)
        stamp = (DUE + late).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        (folder("late") / "timestamp.txt").write_text(stamp + "\n")
        expected["late"] = ()
    return expected


def check(
    result: SubmissionResult, must_lose: tuple[str, ...], may_lose: tuple[str, ...] = ()
) -> str:
    """``"ok"`` when the result is what the demo expects of that student, else why not."""
    failed = {t.test_id for t in result.tests if not t.passed}
    if must_lose == ("*",):
        return "ok" if result.score == 0 else f"expected 0, got {result.score:g}"
    if not must_lose:
        return "ok" if not failed else f"lost {sorted(failed)}"
    missing = set(must_lose) - failed
    if missing:
        return f"did not lose {sorted(missing)}"
    extra = failed - set(must_lose) - set(may_lose)
    return "ok" if not extra else f"also lost {sorted(extra)}"


def _set_due_date(db_url: str, assignment: str) -> None:
    from gradebook import open_gradebook

    with open_gradebook(db_url) as gb:
        gb.update_or_create_assignment(assignment, duedate=DUE.replace(tzinfo=None))


def _grade_one(settings: CourseSettings, name: str, plan: DemoPlan, outcome: DemoOutcome) -> None:
    """Release one exercise, write its class, grade it and check every student."""
    release(settings, name, settings.database)
    exercise = load_exercise(settings, name)
    expected = build_class(
        exercise, settings.submitted_dir, plan.variants, LATE_BY if plan.late else None
    )
    if plan.late:
        _set_due_date(settings.database, name)
    t0 = time.monotonic()
    report = grade_assignment(settings, name)
    elapsed = time.monotonic() - t0
    outcome.graded += len(report.results)
    print(
        f"\n{name}: {len(report.results)} submissions in {elapsed:.1f} s, answer key and "
        f"misconception runs included ({report.isolation})",
        flush=True,
    )
    may = {f"variant-{v.name}": v.also_loses for v in exercise.variants()}
    for res in report.results:
        verdict = check(res, expected.get(res.student, ()), may.get(res.student, ()))
        if verdict != "ok":
            outcome.problems.append(f"{name}/{res.student}: {verdict}")
        lost = [t.test_id.split("::")[-1] for t in res.tests if not t.passed]
        what = res.reason or (", ".join(lost) if lost else "full marks")
        first = next((t for t in res.tests if not t.passed), None)
        if first is not None and not res.reason and res.student.startswith("variant-"):
            what += f" — {first.message}"
        if res.student == "late" and res.timestamp is not None:
            what += f" (handed in {res.timestamp:%Y-%m-%d %H:%M}, due {DUE:%Y-%m-%d %H:%M})"
        print(
            f"  {'✓' if verdict == 'ok' else '✗'} {res.student:<38} "
            f"{res.score:5.1f}/{res.max_score:<5.1f} {res.duration_s:5.1f}s {what[:96]}",
            flush=True,
        )


def _check_late_penalty(rows: Rows, plan: DemoPlan, outcome: DemoOutcome) -> None:
    """The late student's course grade carries the late penalty (the raw score does not)."""
    from gradebook import GradingPolicy, assignment_grades

    grades = assignment_grades(rows, GradingPolicy(late_penalty_per_day=LATE_PENALTY_PER_DAY))
    late = grades[grades["student"] == "late"]
    for name in plan.exercises:
        row = late[late["assignment"] == name]
        if row.empty or not float(row["late_penalty"].iloc[0]) > 0:
            outcome.problems.append(f"{name}/late: no late penalty in the course grade")


def run_demo(
    root: Path, out: Path, assignments: list[str] | None = None, everything: bool = False
) -> int:
    """Run the demo; returns 0 when every student scored as expected, else 1.

    Args:
        root: The course root.
        out: The demo's folder (emptied first): submissions, gradebook, report, feedback.
        assignments: Exercises to grade (default: :data:`DEMO_EXERCISES`, or all with
            ``everything``).
        everything: Grade with every known-wrong variant and no late hand-in (``--all``).

    Raises:
        FileNotFoundError: If a named exercise does not exist.
    """
    from gradebook import (
        GradingPolicy,
        format_table,
        per_student_table,
        read_rows,
        write_all_feedback,
    )
    from gradebook.report import write_report

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    settings: CourseSettings = load_settings(
        root, db_url=f"sqlite:///{out / 'gradebook.db'}", submitted=out / "submitted"
    )
    plan = demo_plan(settings, assignments, everything)
    kind = "the whole course" if plan.variants is None else "a representative class"
    print(
        f"GradeTape demo: {kind} of {len(plan.exercises)} exercises ({', '.join(plan.exercises)})"
    )
    print(f"cache of answer keys and runs: {settings.cache} (delete it to start cold)", flush=True)
    start = time.monotonic()
    outcome = DemoOutcome()
    for name in plan.exercises:
        _grade_one(settings, name, plan, outcome)
    rows = read_rows(settings.database)  # graded: the one read for every output below
    if plan.late:
        _check_late_penalty(rows, plan, outcome)
    total = time.monotonic() - start
    print("\nPer-student totals (nbgrader gradebook):")
    print(format_table(per_student_table(rows)))
    policy = GradingPolicy(late_penalty_per_day=LATE_PENALTY_PER_DAY) if plan.late else None
    report = write_report(rows, out / "report.html", policy)
    pages = write_all_feedback(rows, out)
    print(f"\n{outcome.graded} submissions graded in {total:.1f} s.")
    print(f"report:   {report}")
    print(f"feedback: {len(pages)} pages under {out / 'feedback'}")
    print(f"gradebook: {out / 'gradebook.db'} (nbgrader's; `nbgrader formgrader` reads it)")
    if outcome.problems:
        print("UNEXPECTED SCORES:\n  " + "\n  ".join(outcome.problems), file=sys.stderr)
        return 1
    print("every student scored what they must.")
    return 0
