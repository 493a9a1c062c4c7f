"""Exports of the gradebook: long CSV, a per-student table, terminal formatting.

These back ``gradetape export`` (``--format csv``) and the terminal summaries.
"""

from __future__ import annotations

import math
import os
from typing import IO

import pandas as pd

from gradebook.frames import scores_by_question, scores_by_student

LONG_COLUMNS = ["student", "assignment", "notebook", "question", "score", "max_score", "missing"]
TOTAL = "total"


def to_csv(frame: pd.DataFrame, path_or_buffer: str | os.PathLike[str] | IO[str]) -> None:
    """Write a DataFrame as CSV, without the index.

    Args:
        frame: The frame to write.
        path_or_buffer: A file path, or an open text stream such as ``sys.stdout``.
    """
    frame.to_csv(path_or_buffer, index=False, lineterminator="\n")


def export_long(db_url: str) -> pd.DataFrame:
    """Return one row per student x question, every student of every assignment.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.

    Returns:
        Columns ``LONG_COLUMNS``; students without a submission score 0.
    """
    return scores_by_question(db_url)[LONG_COLUMNS]


def per_student_table(db_url: str) -> pd.DataFrame:
    """Return one row per student: each assignment's score, then the ``total``.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.

    Returns:
        Columns ``student``, one per assignment (sorted by name, score after late
        penalty), and ``total``.
    """
    scores = scores_by_student(db_url)
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
