"""Grades for learning-management systems: a Canvas gradebook CSV and Gradescope results.

Canvas
    :func:`canvas_csv` writes the file Canvas's *Gradebook > Import* accepts, shaped like
    Canvas's own gradebook export: the columns ``Student`` ("Last, First"), ``ID`` (the
    Canvas user id), ``SIS User ID``, ``SIS Login ID`` and ``Section``, then one column per
    assignment holding points. Canvas matches rows to students by ``ID`` or, when it is
    blank, by the SIS ids, so at least one of them must be known: ``ID`` comes from
    nbgrader's ``Student.lms_user_id`` (set when the roster came from the LMS) or the
    ``canvas_user_ids`` argument; ``SIS Login ID`` defaults to the nbgrader student id
    (normally the JupyterHub login, which is the SIS login at most schools). An assignment
    column is named ``"<name> (<canvas assignment id>)"`` when the id is given, which
    updates that existing Canvas assignment; a bare name makes Canvas offer to create a new
    assignment. The second row, ``Points Possible`` as in Canvas's export, gives each
    assignment's maximum (Canvas reads it for new assignments and ignores it otherwise);
    pass ``points_possible_row=False`` to omit it.

Gradescope
    :func:`gradescope_results` builds the ``results.json`` of Gradescope's autograder
    specification for one submission: ``score`` (the total, which overrides the sum of the
    tests), ``execution_time``, ``output``, ``visibility``, and ``tests``, a list of
    ``{"name", "score", "max_score", "status", "output", "visibility"}``. Every ``output`` is
    the student-readable text the gradebook holds (the test's message, the rejection
    reason, the run's notices); nothing else is added. :func:`submission_gradescope_results`
    builds the same JSON straight from a :class:`~autograder.results.SubmissionResult` (the
    Gradescope runner, which has no gradebook), :func:`write_gradescope_folder` one file
    per student (``gradetape export --format gradescope``); both share
    :func:`gradescope_json`, so the three never drift apart.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import pandas as pd

from autograder.results import SubmissionResult
from gradebook.export import to_csv
from gradebook.frames import scores_by_question, scores_by_test, submissions
from gradebook.grades import assignment_grades
from gradebook.policy import GradingPolicy
from gradebook.rows import Rows

CANVAS_ID_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"
"""The ``Student`` cell of the points row, spelled (indented) as in Canvas's export."""

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]


def canvas_table(
    rows: Rows,
    *,
    policy: GradingPolicy | None = None,
    canvas_assignment_ids: Mapping[str, int | str] | None = None,
    canvas_user_ids: Mapping[str, int | str] | None = None,
    sis_user_ids: Mapping[str, str] | None = None,
    sis_login_ids: Mapping[str, str] | None = None,
    sections: Mapping[str, str] | None = None,
    points_possible_row: bool = True,
) -> pd.DataFrame:
    """Return the Canvas gradebook import table (see the module docstring).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        policy: Scores after this policy's late penalty; default: nbgrader's scores.
        canvas_assignment_ids: Canvas assignment id per nbgrader assignment.
        canvas_user_ids: Canvas user id per student (else ``Student.lms_user_id``).
        sis_user_ids: SIS user id per student (else blank).
        sis_login_ids: SIS login id per student (else the nbgrader student id).
        sections: Section name per student (else blank).
        points_possible_row: Start with Canvas's ``Points Possible`` row.

    Returns:
        Columns ``CANVAS_ID_COLUMNS`` then one per assignment (points; missing work 0).
    """
    grades = assignment_grades(rows, policy)
    assignment_ids = canvas_assignment_ids or {}
    names = sorted(rows.assignments["assignment"])
    header = {a: f"{a} ({assignment_ids[a]})" if a in assignment_ids else a for a in names}
    points = grades.pivot(index="student", columns="assignment", values="score")
    points = points.reindex(columns=names).fillna(0.0) if len(points) else points
    people = rows.students.set_index("student").sort_index()
    table = pd.DataFrame(
        {
            "Student": [_display_name(s, people.loc[s]) for s in people.index],
            "ID": [
                _text((canvas_user_ids or {}).get(s, people.loc[s, "lms_user_id"]))
                for s in people.index
            ],
            "SIS User ID": [(sis_user_ids or {}).get(s, "") for s in people.index],
            "SIS Login ID": [(sis_login_ids or {}).get(s, s) for s in people.index],
            "Section": [(sections or {}).get(s, "") for s in people.index],
        },
        index=people.index,
    )
    for name in names:
        table[header[name]] = points[name] if name in points else 0.0
    table = table.reset_index(drop=True)
    if points_possible_row:
        maxima = rows.cells.groupby("assignment")["max_score"].sum()
        first: dict[str, Any] = dict.fromkeys(CANVAS_ID_COLUMNS, "")
        first["Student"] = POINTS_POSSIBLE
        first.update({header[a]: float(maxima.get(a, 0.0)) for a in names})
        table = pd.concat([pd.DataFrame([first]), table], ignore_index=True)
    return table


def canvas_csv(
    rows: Rows, path_or_buffer: str | os.PathLike[str] | IO[str], **options: Any
) -> pd.DataFrame:
    """Write :func:`canvas_table` as a CSV file for Canvas's gradebook import.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        path_or_buffer: Where to write.
        **options: Keyword arguments of :func:`canvas_table`.

    Returns:
        The table written.
    """
    table = canvas_table(rows, **options)
    to_csv(table, path_or_buffer)
    return table


def gradescope_results(
    rows: Rows,
    assignment: str,
    student: str,
    *,
    visibility: Visibility = "visible",
) -> dict[str, Any]:
    """Return Gradescope's ``results.json`` content for one student's assignment.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        assignment: nbgrader assignment name.
        student: nbgrader student id.
        visibility: Gradescope visibility of the result and of each test.

    Returns:
        The results dict: ``score`` is the assignment's points (nbgrader's scores, manual
        grades included; Gradescope applies its own late policy), ``tests`` one entry per
        hidden test, ``output`` the rejection reason and the run's notices.

    Raises:
        KeyError: No such student or assignment in the gradebook.
    """
    if student not in set(rows.students["student"]):
        raise KeyError(f"no student {student!r} in the gradebook")
    if assignment not in set(rows.assignments["assignment"]):
        raise KeyError(f"no assignment {assignment!r} in the gradebook")
    return _ResultFrames.of(rows).results(assignment, student, visibility)


@dataclass(frozen=True)
class _ResultFrames:
    """The frames Gradescope results are cut from, computed once for any number of students."""

    questions: pd.DataFrame
    subs: pd.DataFrame
    tests: pd.DataFrame

    @classmethod
    def of(cls, rows: Rows) -> _ResultFrames:
        return cls(scores_by_question(rows), submissions(rows), scores_by_test(rows))

    def results(self, assignment: str, student: str, visibility: Visibility) -> dict[str, Any]:
        """:func:`gradescope_results` of one student (known to the gradebook)."""

        def mine(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[(frame["student"] == student) & (frame["assignment"] == assignment)]

        questions, sub, tests = mine(self.questions), mine(self.subs), mine(self.tests)
        lines: list[str] = []
        if sub.empty or bool(questions["missing"].all()):
            lines.append("No submission was received.")
        for rec in sub.itertuples():
            if isinstance(rec.reason, str) and rec.reason:
                lines.append(rec.reason)
            lines.extend(rec.notices if isinstance(rec.notices, list) else [])
        duration = float(sub["duration_s"].fillna(0.0).sum()) if len(sub) else 0.0
        entries = [
            GradescopeTest(
                str(t.question),
                str(t.test_id),
                float(t.points),
                float(t.max_points),
                bool(t.passed),
                str(t.message or ""),
            )
            for t in tests.itertuples()
        ]
        score = float(questions["score"].sum())
        return gradescope_json(score, duration, lines, entries, visibility)


@dataclass(frozen=True)
class GradescopeTest:
    """One hidden test's verdict, as Gradescope shows it.

    Attributes:
        question: The question (nbgrader ``grade_id``) the test belongs to.
        test_id: ``"<file>::<function>"``.
        score: Points awarded.
        max_score: Points the test is worth.
        passed: Whether it passed.
        message: The student-safe message (GradeTape's feedback text).
    """

    question: str
    test_id: str
    score: float
    max_score: float
    passed: bool
    message: str = ""


def gradescope_json(
    score: float,
    duration_s: float,
    lines: Sequence[str],
    tests: Sequence[GradescopeTest],
    visibility: Visibility = "visible",
) -> dict[str, Any]:
    """Gradescope's ``results.json`` content (no leaderboard; stdout hidden from students).

    Args:
        score: The submission's total (overrides the sum of the tests on Gradescope).
        duration_s: Grading time in seconds (written rounded up).
        lines: Student-readable lines of the top-level ``output``.
        tests: One entry per hidden test, in the order to show them.
        visibility: Gradescope visibility of the result and of each test.

    Returns:
        The results dict.
    """
    return {
        "score": round(float(score), 6),
        "execution_time": math.ceil(max(0.0, duration_s)),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": _test_name(t.question, t.test_id),
                "score": round(float(t.score), 6),
                "max_score": round(float(t.max_score), 6),
                "status": "passed" if t.passed else "failed",
                "output": t.message,
                "output_format": "text",
                "visibility": visibility,
            }
            for t in tests
        ],
    }


def submission_gradescope_results(
    result: SubmissionResult, *, visibility: Visibility = "visible"
) -> dict[str, Any]:
    """Gradescope's ``results.json`` for a freshly graded submission (no gradebook needed).

    The same text as :func:`gradescope_results` gives once ``result`` is recorded: the
    rejection reason and the run's notices on top, each test's message; never the review
    flags, which are for instructors.

    Args:
        result: The trusted side's verdict on one notebook.
        visibility: Gradescope visibility of the result and of each test.

    Returns:
        The results dict, tests in the answer key's order.
    """
    lines = [result.reason] if result.reason else []
    lines.extend(result.notices)
    entries = [
        GradescopeTest(t.question, t.test_id, t.points, t.max_points, t.passed, t.message)
        for t in result.tests
    ]
    return gradescope_json(result.score, result.duration_s, lines, entries, visibility)


def write_gradescope_results(
    rows: Rows,
    assignment: str,
    student: str,
    path: str | os.PathLike[str],
    *,
    visibility: Visibility = "visible",
) -> Path:
    """Write :func:`gradescope_results` as JSON to ``path`` (``/autograder/results/...``).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        assignment: nbgrader assignment name.
        student: nbgrader student id.
        path: The ``results.json`` to write (parents are created).
        visibility: Gradescope visibility of the result and of each test.

    Returns:
        The path written.
    """
    results = gradescope_results(rows, assignment, student, visibility=visibility)
    return _write_json(results, Path(path))


def _write_json(results: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return out


def _test_name(question: str, test_id: str) -> str:
    function = test_id.rsplit("::", 1)[-1]
    return f"{question}: {function}"


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _display_name(student: str, person: pd.Series) -> str:
    first, last = _text(person["first_name"]), _text(person["last_name"])
    if first and last:
        return f"{last}, {first}"
    return last or first or student


def write_gradescope_folder(
    rows: Rows,
    assignment: str,
    folder: str | os.PathLike[str],
    *,
    visibility: Visibility = "visible",
) -> list[Path]:
    """Write ``<folder>/<student>/results.json`` for every student of the gradebook.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        assignment: nbgrader assignment name.
        folder: Where to write (created).
        visibility: Gradescope visibility of the results and of each test.

    Returns:
        The files written, one per student, sorted by student id.

    Raises:
        KeyError: No such assignment in the gradebook.
        ValueError: A student id that cannot be a folder name (``/``, ``..``, a leading dot).
    """
    if assignment not in set(rows.assignments["assignment"]):
        known = ", ".join(sorted(rows.assignments["assignment"])) or "none"
        raise KeyError(f"no assignment {assignment!r} in the gradebook (assignments: {known})")
    out = Path(folder)
    frames = _ResultFrames.of(rows)
    written = []
    for student in sorted(rows.students["student"]):
        if not student or student.startswith(".") or "/" in student or "\\" in student:
            raise ValueError(
                f"student id {student!r} cannot name a folder; export that student with "
                "--student and --output FILE instead"
            )
        path = out / student / "results.json"
        written.append(_write_json(frames.results(assignment, student, visibility), path))
    return written
