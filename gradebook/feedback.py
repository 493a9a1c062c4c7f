"""Per-student feedback pages, in nbgrader's feedback layout.

:func:`write_all_feedback` writes ``<course>/feedback/<student>/<assignment>/<notebook>.html``
for every submitted notebook, which is where ``nbgrader generate_feedback`` puts its pages:
``nbgrader release_feedback`` then publishes them to the exchange and students get them with
``nbgrader fetch_feedback`` (release_feedback matches each page to the submission by the
notebook's hash, so the submitted notebooks and ``timestamp.txt`` must be in
``submitted/<student>/<assignment>/`` as usual).

A page holds each question's points, each hidden test's readable message, the rejection
reason and the run's notices: exactly what the gradebook holds, which is already
student-safe. Nothing else is added: no expected values, no stack traces, no review flags
(those are for instructors), no other student's data. The page is
``templates/feedback.html.j2`` (autoescaped, the one stylesheet inline); everything comes from
the :class:`~gradebook.rows.Rows` the caller read once (:func:`~gradebook.rows.read_rows`).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gradebook.frames import scores_by_question, scores_by_test, submissions
from gradebook.grades import assignment_grades
from gradebook.pages import render
from gradebook.policy import GradingPolicy
from gradebook.rows import Rows


def render_feedback(
    rows: Rows,
    assignment: str,
    student: str,
    notebook: str | None = None,
    policy: GradingPolicy | None = None,
) -> str:
    """Return the feedback page of one student's assignment (or one notebook of it).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        assignment: nbgrader assignment name.
        student: nbgrader student id.
        notebook: Only this notebook (nbgrader's layout has one page per notebook);
            default: every notebook of the assignment on one page.
        policy: The late policy whose penalty the page states (default: nbgrader's
            recorded ``late_submission_penalty``).

    Returns:
        A self-contained HTML page.

    Raises:
        KeyError: Unknown student, assignment or notebook.
    """
    return _render(_Snapshot.of(rows, policy), assignment, student, notebook)


def write_feedback(
    rows: Rows,
    assignment: str,
    student: str,
    path: str | os.PathLike[str],
    notebook: str | None = None,
    policy: GradingPolicy | None = None,
) -> Path:
    """Write :func:`render_feedback` to ``path`` and return it.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        assignment: nbgrader assignment name.
        student: nbgrader student id.
        path: The HTML file to write (parents are created).
        notebook: See :func:`render_feedback`.
        policy: See :func:`render_feedback`.

    Returns:
        The path written.
    """
    out = Path(path)
    page = render_feedback(rows, assignment, student, notebook, policy)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def write_all_feedback(
    rows: Rows,
    course_root: str | os.PathLike[str],
    *,
    assignment: str | None = None,
    feedback_directory: str = "feedback",
    policy: GradingPolicy | None = None,
    submitted: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write a page per submitted notebook into nbgrader's feedback layout.

    Next to each page go the submission's ``timestamp.txt`` and ``submission_secret.txt``
    (copied from ``submitted/<student>/<assignment>/``, where ``nbgrader collect`` put
    them): ``nbgrader release_feedback`` reads both and publishes the page under the hash
    ``fetch_feedback`` looks for. ``nbgrader generate_feedback`` (the autograded notebook
    with GradeTape's verdicts) writes the same files to the same place; either page works.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        course_root: nbgrader's ``CourseDirectory.root``.
        assignment: Only this assignment (default: all).
        feedback_directory: nbgrader's ``CourseDirectory.feedback_directory``.
        policy: See :func:`render_feedback`.
        submitted: The submissions folder (default: ``<root>/submitted``).

    Returns:
        The pages written, ``<root>/<feedback>/<student>/<assignment>/<notebook>.html``.
        Students with nothing submitted get no page (nbgrader could not release one).
    """
    snap = _Snapshot.of(rows, policy)
    root = Path(course_root) / feedback_directory
    handed_in = Path(submitted) if submitted is not None else Path(course_root) / "submitted"
    written = []
    for student, name, notebook in snap.submitted_notebooks(assignment):
        path = root / student / name / f"{notebook}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(snap, name, student, notebook), encoding="utf-8")
        for extra in RELEASE_FILES:
            origin = handed_in / student / name / extra
            if origin.is_file() and not origin.is_symlink():
                shutil.copyfile(origin, path.parent / extra)
        written.append(path)
    return written


RELEASE_FILES = ("timestamp.txt", "submission_secret.txt")
"""What ``nbgrader release_feedback`` reads next to a page (written by ``nbgrader submit``)."""


@dataclass(frozen=True)
class _Snapshot:
    """The frames every page is cut from, computed once from the rows."""

    rows: Rows
    questions: pd.DataFrame
    tests: pd.DataFrame
    subs: pd.DataFrame
    grades: pd.DataFrame
    _parts: dict[str, dict[tuple[str, str], pd.DataFrame]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Rows, policy: GradingPolicy | None = None) -> _Snapshot:
        return cls(
            rows,
            scores_by_question(rows),
            scores_by_test(rows),
            submissions(rows),
            assignment_grades(rows, policy),
        )

    def part(self, name: str, student: str, assignment: str) -> pd.DataFrame:
        """The rows of frame ``name`` of one student's assignment (grouped once per frame)."""
        frame: pd.DataFrame = getattr(self, name)
        if name not in self._parts:
            groups = frame.groupby(["student", "assignment"], sort=False)
            self._parts[name] = {(str(k[0]), str(k[1])): g for k, g in groups}
        return self._parts[name].get((student, assignment), frame.iloc[0:0])

    @functools.cached_property
    def students(self) -> frozenset[str]:
        return frozenset(self.rows.students["student"])

    @functools.cached_property
    def assignments(self) -> frozenset[str]:
        return frozenset(self.rows.assignments["assignment"])

    def submitted_notebooks(self, assignment: str | None) -> Iterator[tuple[str, str, str]]:
        present = self.questions[~self.questions["missing"]]
        if assignment is not None:
            present = present[present["assignment"] == assignment]
        keys = present[["student", "assignment", "notebook"]].drop_duplicates()
        yield from keys.itertuples(index=False, name=None)


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _late(grades: pd.DataFrame) -> dict[str, str] | None:
    """How late the assignment was and what it cost (the policy's number)."""
    if not len(grades):
        return None
    row = grades.iloc[0]
    days = int(row["days_late"])
    penalty = float(row["late_penalty"])
    if days <= 0 and penalty <= 0:
        return None
    when = f"{days} started day{'s' if days != 1 else ''} late" if days > 0 else "late"
    if pd.notna(row["timestamp"]) and pd.notna(row["duedate"]):
        hours = (row["timestamp"] - row["duedate"]) / pd.Timedelta(hours=1)
        when = f"submitted {hours:.1f} hours after the due date ({when})"
    cost = f"late penalty: {_points(penalty)} points" if penalty > 0 else "no late penalty"
    return {
        "when": when,
        "cost": cost,
        "score": _points(float(row["score"])),
        "max_score": _points(float(row["max_score"])),
    }


def _render(snap: _Snapshot, assignment: str, student: str, notebook: str | None) -> str:
    if student not in snap.students:
        raise KeyError(f"no student {student!r} in the gradebook")
    if assignment not in snap.assignments:
        raise KeyError(f"no assignment {assignment!r} in the gradebook")

    def mine(name: str) -> pd.DataFrame:
        return snap.part(name, student, assignment)

    q = mine("questions")
    if notebook is not None:
        if notebook not in set(q["notebook"]):
            raise KeyError(f"no notebook {notebook!r} in {assignment}")
        q = q[q["notebook"] == notebook]
    notebooks = sorted(set(q["notebook"]))
    t = mine("tests")
    t = t[t["notebook"].isin(notebooks)]
    s = mine("subs")
    s = s[s["notebook"].isin(notebooks)]
    context: dict[str, Any] = {
        "title": f"{assignment}" + (f" / {notebook}" if notebook else ""),
        "student": student,
        "score": _points(q["score"].sum()),
        "max_score": _points(q["max_score"].sum()),
        "missing": bool(len(q) and q["missing"].all()),
        "late": _late(mine("grades")),
        "reasons": [r for r in s["reason"].tolist() if isinstance(r, str) and r],
        "notices": [n for ns in s["notices"].tolist() if isinstance(ns, list) for n in ns],
        "questions": [
            {
                "label": r.question if len(notebooks) == 1 else f"{r.notebook}: {r.question}",
                "points": _points(r.score),
                "max_points": _points(r.max_score),
            }
            for r in q.itertuples()
        ],
        "checks": [
            {
                "question": r.question,
                "passed": bool(r.passed),
                "points": _points(r.points),
                "max_points": _points(r.max_points),
                "message": r.message or "",
            }
            for r in t.itertuples()
        ],
    }
    return render("feedback.html.j2", **context)
