"""How the class did: per assignment, per question and per hidden test.

Pure pandas over the :class:`~gradebook.rows.Rows` read once by
:func:`~gradebook.rows.read_rows`; no grading policy applies (nbgrader's scores, its late
penalty included).
"""

from __future__ import annotations

import pandas as pd

from gradebook.frames import scores_by_question, scores_by_student, scores_by_test
from gradebook.rows import Rows


def assignment_summary(rows: Rows) -> pd.DataFrame:
    """Per assignment: how the class did (nbgrader's scores, late penalty included).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``assignment, max_score, students, submitted, missing, mean, median, min,
        max`` (statistics over every student, missing work counting as zero).
    """
    scores = scores_by_student(rows)
    columns = ["assignment", "max_score", "students", "submitted", "missing"]
    stats = ["mean", "median", "min", "max"]
    if scores.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*columns, *stats]})
    out = scores.groupby("assignment", as_index=False).agg(
        max_score=("max_score", "first"),
        students=("student", "nunique"),
        missing=("missing", "sum"),
        mean=("score", "mean"),
        median=("score", "median"),
        min=("score", "min"),
        max=("score", "max"),
    )
    out["missing"] = out["missing"].astype(int)
    out["submitted"] = out["students"] - out["missing"]
    return out[[*columns, *stats]]


def question_summary(rows: Rows) -> pd.DataFrame:
    """Per question: mean score over the students who submitted, and over everyone.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``assignment, notebook, question, max_score, submitted, mean,
        mean_all, mean_percent`` (``mean_percent`` over submitted work).
    """
    q = scores_by_question(rows)
    columns = ["assignment", "notebook", "question", "max_score", "submitted", "mean"]
    columns += ["mean_all", "mean_percent"]
    if q.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    key = ["assignment", "notebook", "question"]
    everyone = q.groupby(key, as_index=False).agg(
        max_score=("max_score", "first"), mean_all=("score", "mean")
    )
    sub = (
        q[~q["missing"]]
        .groupby(key, as_index=False)
        .agg(submitted=("student", "nunique"), mean=("score", "mean"))
    )
    out = everyone.merge(sub, on=key, how="left")
    out["submitted"] = out["submitted"].fillna(0).astype(int)
    max_score = out["max_score"].where(out["max_score"] > 0)
    out["mean_percent"] = (100.0 * out["mean"] / max_score).round(2)
    return out[columns]


def pass_rates(rows: Rows) -> pd.DataFrame:
    """Per hidden test: how many graded submissions passed it, lowest pass rate first.

    This is "which mistakes the class makes most".

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``assignment, question, test_id, passed, attempts, pass_rate`` (0-1).
    """
    tests = scores_by_test(rows)
    columns = ["assignment", "question", "test_id", "passed", "attempts", "pass_rate"]
    if tests.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = tests.groupby(["assignment", "question", "test_id"], as_index=False).agg(
        passed=("passed", "sum"), attempts=("passed", "size")
    )
    out["passed"] = out["passed"].astype(int)
    out["pass_rate"] = (out["passed"] / out["attempts"]).round(4)
    return out.sort_values(["pass_rate", "assignment", "test_id"]).reset_index(drop=True)[columns]
