"""Exports of the gradebook: long and wide CSV, Parquet, a per-student table, terminals.

These back ``gradetape export`` (``--format csv``) and the terminal summaries. Each takes the
:class:`~gradebook.rows.Rows` read once by :func:`~gradebook.rows.read_rows`. The LMS
formats (Canvas, Gradescope) are in :mod:`gradebook.lms`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO

import pandas as pd

from gradebook.frames import scores_by_question, scores_by_student, scores_by_test, submissions
from gradebook.grades import assignment_grades, course_grades
from gradebook.policy import GradingPolicy
from gradebook.rows import Rows

LONG_COLUMNS = ["student", "assignment", "notebook", "question", "score", "max_score", "missing"]
TOTAL = "total"


def to_csv(frame: pd.DataFrame, path_or_buffer: str | os.PathLike[str] | IO[str]) -> None:
    """Write a DataFrame as CSV, without the index.

    Args:
        frame: The frame to write.
        path_or_buffer: A file path, or an open text stream such as ``sys.stdout``.
    """
    frame.to_csv(path_or_buffer, index=False, lineterminator="\n")


def export_long(rows: Rows) -> pd.DataFrame:
    """Return one row per student x question, every student of every assignment.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``LONG_COLUMNS``; students without a submission score 0.
    """
    return scores_by_question(rows)[LONG_COLUMNS]


def per_student_table(rows: Rows, policy: GradingPolicy | None = None) -> pd.DataFrame:
    """Return one row per student: each assignment's score, then the ``total``.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        policy: Scores after this policy's late penalty (the number nbgrader's
            ``late_submission_penalty`` holds once graded under it); default: nbgrader's.

    Returns:
        Columns ``student``, one per assignment (sorted by name, score after late
        penalty), and ``total``.
    """
    scores = scores_by_student(rows) if policy is None else assignment_grades(rows, policy)
    if scores.empty:
        return pd.DataFrame({"student": pd.Series(dtype=str), TOTAL: pd.Series(dtype=float)})
    wide = scores.pivot(index="student", columns="assignment", values="score")
    wide = wide.reindex(columns=sorted(wide.columns)).astype(float)
    wide[TOTAL] = wide.sum(axis=1)
    wide.columns.name = None
    return wide.reset_index()


def format_table(frame: pd.DataFrame) -> str:
    """Render a DataFrame as an aligned plain-text table for a terminal.

    Args:
        frame: The frame to render.

    Returns:
        The table; ``"(no rows)"`` for an empty frame. Floats print without trailing zeros.
    """
    if frame.empty:
        return "(no rows)"
    return frame.to_string(index=False, float_format=_number, na_rep="-")


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def wide_table(rows: Rows, policy: GradingPolicy | None = None) -> pd.DataFrame:
    """Return one row per student: a column per assignment and per question, then totals.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        policy: If given, assignment columns are after the policy's late penalty and the
            table ends with the course ``percent`` and ``letter``; otherwise they are
            nbgrader's scores (after nbgrader's own late penalty).

    Returns:
        Columns ``student, first_name, last_name, email``, then per assignment (sorted) the
        column ``<assignment>`` and one ``<assignment>/<question>`` per question (raw
        points; ``<assignment>/<notebook>/<question>`` if two notebooks share a question
        name), then ``total`` (and ``percent``, ``letter`` with a policy).
    """
    people = rows.students[["student", "first_name", "last_name", "email"]]
    questions = scores_by_question(rows)
    if policy is None:
        per_assignment = scores_by_student(rows)[["student", "assignment", "score"]]
    else:
        per_assignment = assignment_grades(rows, policy)[["student", "assignment", "score"]]
    if per_assignment.empty:
        return people.assign(**{TOTAL: pd.Series(dtype=float)}).reset_index(drop=True)
    clashes = questions.groupby(["assignment", "question"])["notebook"].nunique()
    clashing = set(clashes[clashes > 1].index)
    questions = questions.assign(
        column=[
            f"{a}/{n}/{q}" if (a, q) in clashing else f"{a}/{q}"
            for a, n, q in zip(
                questions["assignment"], questions["notebook"], questions["question"], strict=True
            )
        ]
    )
    by_assignment = per_assignment.pivot(index="student", columns="assignment", values="score")
    by_question = questions.pivot(index="student", columns="column", values="score")
    order: list[str] = []
    for assignment in sorted(by_assignment.columns):
        order.append(assignment)
        mine = questions.loc[questions["assignment"] == assignment, "column"]
        order.extend(dict.fromkeys(mine))  # the gradebook's question order, deduplicated
    wide = pd.concat([by_assignment, by_question], axis=1)[order].astype(float)
    wide[TOTAL] = by_assignment.sum(axis=1)
    if policy is not None:
        course = course_grades(rows, policy).set_index("student")
        wide["percent"] = course["percent"]
        wide["letter"] = course["letter"]
    wide.columns.name = None
    out = people.merge(wide.reset_index(), on="student", how="right")
    return out.sort_values("student").reset_index(drop=True)


def wide_csv(
    rows: Rows,
    path_or_buffer: str | os.PathLike[str] | IO[str],
    policy: GradingPolicy | None = None,
) -> pd.DataFrame:
    """Write :func:`wide_table` as CSV (one row per student) and return the frame.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        path_or_buffer: Where to write.
        policy: Passed to :func:`wide_table`.

    Returns:
        The table written.
    """
    frame = wide_table(rows, policy)
    to_csv(frame, path_or_buffer)
    return frame


PARQUET_TABLES = ("questions", "assignments", "tests", "submissions", "course")


def to_parquet(
    rows: Rows, directory: str | os.PathLike[str], policy: GradingPolicy | None = None
) -> dict[str, Path]:
    """Write the gradebook as Parquet files for analysts (one file per frame).

    Files: ``questions.parquet`` (:func:`~gradebook.frames.scores_by_question`),
    ``assignments.parquet`` (:func:`~gradebook.grades.assignment_grades`),
    ``tests.parquet`` (:func:`~gradebook.frames.scores_by_test`),
    ``submissions.parquet`` (:func:`~gradebook.frames.submissions`; ``flags`` and
    ``notices`` as lists of strings, ``extra`` as JSON text) and ``course.parquet``
    (:func:`~gradebook.grades.course_grades`).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        directory: Directory to write into (created if needed).
        policy: Grading policy for the assignment and course tables.

    Returns:
        Path of each file written, keyed by ``PARQUET_TABLES`` names.
    """
    subs = submissions(rows)
    subs["extra"] = [
        json.dumps(v if isinstance(v, dict) else {}, sort_keys=True) for v in subs["extra"]
    ]
    for column in ("flags", "notices"):
        subs[column] = [list(v) if isinstance(v, list | tuple) else [] for v in subs[column]]
    subs["status"] = subs["status"].astype("string")
    frames = {
        "questions": scores_by_question(rows),
        "assignments": assignment_grades(rows, policy),
        "tests": scores_by_test(rows),
        "submissions": subs,
        "course": course_grades(rows, policy),
    }
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in frames.items():
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False, engine="pyarrow")
        written[name] = path
    return written
