"""Scores as pandas DataFrames, computed from the raw rows of :mod:`gradebook.rows`.

Every function takes the :class:`~gradebook.rows.Rows` read once by
:func:`~gradebook.rows.read_rows` and never reads the database itself.

Scores follow nbgrader exactly: a grade's score is ``manual_score`` if set, else
``auto_score``, else 0, plus ``extra_credit``; an assignment's score is
``max(0, sum of grades - late penalty)``. Every student of nbgrader's roster gets a row for
every assignment and question; those without a submission score 0 with ``missing=True``.
"""

from __future__ import annotations

import pandas as pd

from gradebook.rows import Rows

KEY = ["student", "assignment", "notebook"]

QUESTION_COLUMNS = [
    "student",
    "assignment",
    "notebook",
    "question",
    "score",
    "max_score",
    "auto_score",
    "manual_score",
    "extra_credit",
    "needs_manual_grade",
    "missing",
]
STUDENT_COLUMNS = [
    "student",
    "assignment",
    "score",
    "max_score",
    "raw_score",
    "late_penalty",
    "missing",
]
SUBMISSION_COLUMNS = [
    "student",
    "assignment",
    "notebook",
    "status",
    "score",
    "max_score",
    "reason",
    "timestamp",
    "late_penalty",
    "isolation",
    "duration_s",
    "flags",
    "notices",
    "extra",
    "graded_at",
    "in_nbgrader",
]


def scores_by_question(rows: Rows) -> pd.DataFrame:
    """Return one row per student x graded cell (question) of every assignment.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``QUESTION_COLUMNS``; ``missing`` is True when the student has no
        submission of that notebook (or GradeTape recorded it as missing).
    """
    return _by_question(rows)


def scores_by_student(rows: Rows) -> pd.DataFrame:
    """Return one row per student x assignment, as ``nbgrader export`` computes it.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``STUDENT_COLUMNS``: ``score`` is after the late penalty, ``raw_score``
        before it; ``missing`` is True when nothing was submitted.
    """
    grid = rows.students[["student"]].merge(rows.assignments[["assignment"]], how="cross")
    by_q = _by_question(rows)
    raw = by_q.groupby(["student", "assignment"], as_index=False)["score"].sum()
    raw = raw.rename(columns={"score": "raw_score"})
    max_score = rows.cells.groupby("assignment", as_index=False)["max_score"].sum()
    penalty = rows.submitted.assign(late_penalty=rows.submitted["late_penalty"].astype(float))
    penalty = penalty.groupby(["student", "assignment"], as_index=False)["late_penalty"].sum()
    present = _present(rows)[["student", "assignment"]].drop_duplicates().assign(present=True)
    out = (
        grid.merge(raw, on=["student", "assignment"], how="left")
        .merge(max_score, on="assignment", how="left")
        .merge(penalty, on=["student", "assignment"], how="left")
        .merge(present, on=["student", "assignment"], how="left")
    )
    for column in ("raw_score", "max_score", "late_penalty"):
        out[column] = out[column].astype(float).fillna(0.0)
    out["score"] = (out["raw_score"] - out["late_penalty"]).clip(lower=0.0)
    out["missing"] = ~out["present"].astype("boolean").fillna(False).astype(bool)
    return _sorted(out[STUDENT_COLUMNS], ["student", "assignment"])


def scores_by_test(rows: Rows) -> pd.DataFrame:
    """Return GradeTape's per-test verdicts, one row per test per submitted notebook.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``student, assignment, notebook, question, test_id, max_points, points,
        passed, message``.
    """
    tests = rows.tests
    tests = tests.astype({"max_points": float, "points": float, "passed": bool})
    return _sorted(tests, [*KEY, "question", "test_id"])


def submissions(rows: Rows) -> pd.DataFrame:
    """Return one row per submitted or graded notebook, nbgrader's and GradeTape's joined.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``SUBMISSION_COLUMNS``. ``status`` is NA for notebooks nbgrader knows but
        GradeTape never graded; ``in_nbgrader`` is False for missing work GradeTape recorded
        without creating an nbgrader submission. ``flags``/``notices`` are lists.
    """
    nb = rows.submitted.assign(in_nbgrader=True)
    out = rows.statuses.merge(nb, on=KEY, how="outer")
    scores = _by_question(rows).groupby(KEY, as_index=False)[["score", "max_score"]].sum()
    out = out.merge(scores, on=KEY, how="left")
    out["in_nbgrader"] = out["in_nbgrader"].astype("boolean").fillna(False).astype(bool)
    out["late_penalty"] = out["late_penalty"].astype(float).fillna(0.0)
    for column in ("score", "max_score"):
        out[column] = out[column].astype(float).fillna(0.0)
    return _sorted(out[SUBMISSION_COLUMNS], KEY)


def _by_question(rows: Rows) -> pd.DataFrame:
    grid = rows.students[["student"]].merge(rows.cells, how="cross")
    out = grid.merge(rows.grades, on=[*KEY, "question"], how="left")
    present = _present(rows).assign(present=True)
    out = out.merge(present, on=KEY, how="left")
    for column in ("auto_score", "manual_score", "extra_credit", "max_score"):
        out[column] = out[column].astype(float)
    extra = out["extra_credit"].fillna(0.0)
    base = out["manual_score"].where(out["manual_score"].notna(), out["auto_score"])
    out["score"] = (base + extra).where(base.notna(), 0.0)
    out["needs_manual_grade"] = out["needs_manual_grade"].astype("boolean").fillna(False)
    out["needs_manual_grade"] = out["needs_manual_grade"].astype(bool)
    out["missing"] = ~out["present"].astype("boolean").fillna(False).astype(bool)
    return _sorted(out[QUESTION_COLUMNS], [*KEY, "question"])


def _present(rows: Rows) -> pd.DataFrame:
    """Submitted notebooks (student, assignment, notebook) not recorded as missing."""
    submitted = rows.submitted[KEY].drop_duplicates()
    missing = rows.statuses.loc[rows.statuses["status"] == "missing", KEY]
    merged = submitted.merge(missing.assign(gone=True), on=KEY, how="left")
    return merged.loc[merged["gone"].isna(), KEY]


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by, kind="stable").reset_index(drop=True)
