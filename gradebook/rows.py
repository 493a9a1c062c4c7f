"""Read the gradebook database into plain DataFrames, one per kind of row: the one read.

:func:`read_rows` is the only function of the package that reads the database; it is called
at the edge (the CLI, the demo) and its :class:`Rows` are passed to every frame, policy,
export, report and feedback function, which compute in pandas and never touch the database.
Only simple selects and joins happen in SQL; every sum, grid and default is computed in
pandas by :mod:`gradebook.frames`. All tables are read in one transaction, so the frames
are a consistent snapshot even while grading is writing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from nbgrader.api import (
    Assignment,
    BaseCell,
    Grade,
    GradeCell,
    Notebook,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
    TaskCell,
)
from sqlalchemy import Connection, Select, create_engine, inspect, select

from gradebook import tables

STUDENT_COLUMNS = ["student", "first_name", "last_name", "email", "lms_user_id"]
ASSIGNMENT_COLUMNS = ["assignment", "duedate"]
CELL_COLUMNS = ["assignment", "notebook", "question", "max_score"]
GRADE_COLUMNS = [
    "student",
    "assignment",
    "notebook",
    "question",
    "auto_score",
    "manual_score",
    "extra_credit",
    "needs_manual_grade",
]
SUBMITTED_COLUMNS = ["student", "assignment", "notebook", "timestamp", "late_penalty"]
STATUS_COLUMNS = [
    "student",
    "assignment",
    "notebook",
    "status",
    "reason",
    "isolation",
    "duration_s",
    "flags",
    "notices",
    "extra",
    "graded_at",
]
TEST_COLUMNS = [
    "student",
    "assignment",
    "notebook",
    "question",
    "test_id",
    "max_points",
    "points",
    "passed",
    "message",
    "misconception",
]
SIMILARITY_COLUMNS = [
    "assignment",
    "student_a",
    "student_b",
    "similarity_a",
    "similarity_b",
    "code_a",
    "code_b",
]


@dataclass(frozen=True)
class Rows:
    """The raw rows of a gradebook, one DataFrame per kind (columns: ``*_COLUMNS``).

    Attributes:
        students: Every student in nbgrader's roster.
        assignments: Every assignment.
        cells: Every graded cell (grade cells and task cells) with its max score.
        grades: Every grade of every submitted notebook.
        submitted: Every submitted notebook (nbgrader's), with its late penalty.
        statuses: GradeTape's outcome per graded notebook (``flags``/``notices`` as lists).
        tests: GradeTape's per-test verdicts.
        similarity: The similarity review's flagged pairs (see :mod:`gradebook.similarity`).
    """

    students: pd.DataFrame
    assignments: pd.DataFrame
    cells: pd.DataFrame
    grades: pd.DataFrame
    submitted: pd.DataFrame
    statuses: pd.DataFrame
    tests: pd.DataFrame
    similarity: pd.DataFrame


def empty_rows() -> Rows:
    """Rows of a gradebook that holds nothing (every frame empty, with its columns)."""
    return Rows(
        students=pd.DataFrame(columns=STUDENT_COLUMNS),
        assignments=pd.DataFrame(columns=ASSIGNMENT_COLUMNS),
        cells=pd.DataFrame(columns=CELL_COLUMNS),
        grades=pd.DataFrame(columns=GRADE_COLUMNS),
        submitted=pd.DataFrame(columns=SUBMITTED_COLUMNS),
        statuses=pd.DataFrame(columns=STATUS_COLUMNS),
        tests=pd.DataFrame(columns=TEST_COLUMNS),
        similarity=pd.DataFrame(columns=SIMILARITY_COLUMNS),
    )


def read_rows(db_url: str) -> Rows:
    """Read every row the frames need; a database without tables reads as empty.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.

    Returns:
        The rows, as DataFrames.
    """
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            names = set(inspect(conn).get_table_names())
            has_nbgrader = {"grade", "student", "submitted_notebook"} <= names
            has_ours = {tables.submission.name, tables.test_result.name} <= names
            has_pairs = tables.similarity.name in names
            statuses = _frame(conn, _statuses() if has_ours else None, STATUS_COLUMNS)
            for column, default in (("flags", "[]"), ("notices", "[]"), ("extra", "{}")):
                statuses[column] = [json.loads(v or default) for v in statuses[column]]
            return Rows(
                students=_frame(conn, _students() if has_nbgrader else None, STUDENT_COLUMNS),
                assignments=_frame(
                    conn, _assignments() if has_nbgrader else None, ASSIGNMENT_COLUMNS
                ),
                cells=pd.concat(
                    [
                        _frame(conn, _cells(GradeCell) if has_nbgrader else None, CELL_COLUMNS),
                        _frame(conn, _cells(TaskCell) if has_nbgrader else None, CELL_COLUMNS),
                    ],
                    ignore_index=True,
                ),
                grades=_frame(conn, _grades() if has_nbgrader else None, GRADE_COLUMNS),
                submitted=_frame(conn, _submitted() if has_nbgrader else None, SUBMITTED_COLUMNS),
                statuses=statuses,
                tests=_frame(conn, _tests() if has_ours else None, TEST_COLUMNS),
                similarity=_frame(conn, _similarity() if has_pairs else None, SIMILARITY_COLUMNS),
            )
    finally:
        engine.dispose()


def _frame(conn: Connection, stmt: Select[Any] | None, columns: list[str]) -> pd.DataFrame:
    rows = [] if stmt is None else [tuple(row) for row in conn.execute(stmt)]
    return pd.DataFrame(rows, columns=columns)


def _students() -> Select[Any]:
    return select(
        Student.id, Student.first_name, Student.last_name, Student.email, Student.lms_user_id
    )


def _assignments() -> Select[Any]:
    return select(Assignment.name, Assignment.duedate)


def _cells(kind: Any) -> Select[Any]:
    return (
        select(Assignment.name, Notebook.name, kind.name, kind.max_score)
        .select_from(kind)
        .join(Notebook, kind.notebook_id == Notebook.id)
        .join(Assignment, Notebook.assignment_id == Assignment.id)
    )


def _grades() -> Select[Any]:
    return (
        select(
            SubmittedAssignment.student_id,
            Assignment.name,
            Notebook.name,
            BaseCell.name,
            Grade.auto_score,
            Grade.manual_score,
            Grade.extra_credit,
            Grade.needs_manual_grade,
        )
        .select_from(Grade)
        .join(BaseCell, Grade.cell_id == BaseCell.id)
        .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
        .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
        .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
    )


def _submitted() -> Select[Any]:
    return (
        select(
            SubmittedAssignment.student_id,
            Assignment.name,
            Notebook.name,
            SubmittedAssignment.timestamp,
            SubmittedNotebook.late_submission_penalty,
        )
        .select_from(SubmittedNotebook)
        .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
        .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
    )


def _statuses() -> Select[Any]:
    t = tables.submission
    return select(*(t.c[name] for name in STATUS_COLUMNS))


def _tests() -> Select[Any]:
    t = tables.test_result
    return select(*(t.c[name] for name in TEST_COLUMNS))


def _similarity() -> Select[Any]:
    t = tables.similarity
    return select(*(t.c[name] for name in SIMILARITY_COLUMNS))
