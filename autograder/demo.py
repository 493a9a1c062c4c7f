"""The demo class: release, grade a class of known submissions, print the table, report.

The class holds the reference, the blank release, every known-wrong variant and a malformed
file for each exercise, so the demo also checks that each scores what it must.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from .course import grade_assignment
from .exercise import Exercise, exercise_names, load_exercise
from .release import reference_submission, release, variant_submission, write_submission
from .results import SubmissionResult
from .settings import CourseSettings, load_settings


def build_class(exercise: Exercise, submitted: Path) -> dict[str, tuple[str, ...]]:
    """Write the demo submissions; returns student id -> the tests that student must lose.

    ``("*",)`` means every test (the blank release and the malformed file score zero).
    """
    import nbformat

    expected: dict[str, tuple[str, ...]] = {}
    folder = lambda student: submitted / student / exercise.name  # noqa: E731
    write_submission(reference_submission(exercise), folder("reference"), exercise.notebook)
    expected["reference"] = ()
    blank = nbformat.read(exercise.release_path, as_version=4)
    write_submission(blank, folder("blank"), exercise.notebook)
    expected["blank"] = ("*",)
    for variant in exercise.variants():
        student = f"variant-{variant.name}"
        write_submission(variant_submission(exercise, variant), folder(student), exercise.notebook)
        expected[student] = variant.loses
    broken = folder("malformed")
    broken.mkdir(parents=True, exist_ok=True)
    (broken / exercise.notebook).write_text('{"cells": [ {"cell_type": "code", ')
    expected["malformed"] = ("*",)
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


def run_demo(root: Path, out: Path, assignments: list[str] | None = None) -> int:
    """Run the whole demo; returns 0 when every student scored as expected, else 1."""
    from gradebook import format_table, per_student_table
    from gradebook.report import write_report

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    settings: CourseSettings = load_settings(
        root, db_url=f"sqlite:///{out / 'gradebook.db'}", submitted=out / "submitted"
    )
    names = assignments or exercise_names(settings)
    start = time.monotonic()
    problems: list[str] = []
    graded = 0
    for name in names:
        release(settings, name, settings.database)
        exercise = load_exercise(settings, name)
        expected = build_class(exercise, settings.submitted_dir)
        t0 = time.monotonic()
        report = grade_assignment(settings, name)
        elapsed = time.monotonic() - t0
        graded += len(report.results)
        print(
            f"\n{name}: {len(report.results)} submissions in {elapsed:.1f} s "
            f"({elapsed / max(1, len(report.results)):.2f} s each, {report.isolation})"
        )
        may = {f"variant-{v.name}": v.also_loses for v in exercise.variants()}
        for res in report.results:
            verdict = check(res, expected.get(res.student, ()), may.get(res.student, ()))
            if verdict != "ok":
                problems.append(f"{name}/{res.student}: {verdict}")
            lost = [t.test_id.split("::")[-1] for t in res.tests if not t.passed]
            what = res.reason or (", ".join(lost) if lost else "full marks")
            first = next((t for t in res.tests if not t.passed), None)
            if first is not None and not res.reason and res.student.startswith("variant-"):
                what += f" — {first.message}"
            print(
                f"  {'✓' if verdict == 'ok' else '✗'} {res.student:<38} "
                f"{res.score:5.1f}/{res.max_score:<5.1f} {res.duration_s:5.1f}s {what[:84]}"
            )
    total = time.monotonic() - start
    print("\nPer-student totals (nbgrader gradebook):")
    print(format_table(per_student_table(settings.database)))
    from gradebook import write_all_feedback

    path = write_report(settings.database, out / "report.html")
    pages = write_all_feedback(settings.database, out)
    print(f"\n{graded} submissions graded in {total:.1f} s; report: {path}")
    print(f"feedback: {len(pages)} pages under {out / 'feedback'}")
    if problems:
        print("UNEXPECTED SCORES:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0
