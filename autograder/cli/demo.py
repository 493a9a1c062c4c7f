"""The demo class: release, grade a class of known submissions, check every score, report.

By default (``gradetape demo``, ``scripts/demo``) the class is *representative*: a few
exercises (:data:`~autograder.load.sample_class.DEMO_EXERCISES`, one of them a training
exercise), and per exercise the reference solution, the blank release, a malformed file, a
handful of known-wrong variants and a late hand-in of the reference. ``--all`` grades the
whole course with every variant (what the conformance battery covers). Either way the demo
checks that each student scored what they must and exits non-zero otherwise. The class
itself is written by :mod:`autograder.load.sample_class`.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.load.exercise import load_exercise
from autograder.load.release import release
from autograder.load.sample_class import DUE, LATE_BY, DemoPlan, build_class, demo_plan
from autograder.pipeline.batch import grade_assignment
from autograder.results import SubmissionResult
from autograder.settings import CourseSettings, load_settings

if TYPE_CHECKING:
    from gradebook.rows import Rows

#: The late penalty the demo's report applies (a fraction of the score per started day).
LATE_PENALTY_PER_DAY = 0.1


@dataclass
class DemoOutcome:
    """What the demo found (for the summary and the exit status)."""

    graded: int = 0
    problems: list[str] = field(default_factory=list)


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
