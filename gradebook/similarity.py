"""Store and read the similarity review's pairs (one set per assignment, replaced each batch).

:func:`record_similarity` writes them; :func:`similar_submissions` ranks the pairs of the
:class:`~gradebook.rows.Rows` read once by :func:`~gradebook.rows.read_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, delete, insert

from gradebook import tables
from gradebook.rows import SIMILARITY_COLUMNS, Rows

COLUMNS = SIMILARITY_COLUMNS


def record_similarity(db_url: str, assignment: str, pairs: Iterable[Any]) -> int:
    """Replace the assignment's flagged pairs with ``pairs`` (``SimilarPair`` objects).

    Returns:
        The number of pairs stored.
    """
    rows = [
        {
            "assignment": assignment,
            "student_a": p.student_a,
            "student_b": p.student_b,
            "similarity_a": float(p.similarity_a),
            "similarity_b": float(p.similarity_b),
            "code_a": p.code_a,
            "code_b": p.code_b,
        }
        for p in pairs
    ]
    engine = create_engine(db_url)
    try:
        tables.create_tables(engine)
        with engine.begin() as conn:
            table = tables.similarity
            conn.execute(delete(table).where(table.c.assignment == assignment))
            if rows:
                conn.execute(insert(table), rows)
    finally:
        engine.dispose()
    return len(rows)


def similar_submissions(rows: Rows) -> pd.DataFrame:
    """All flagged pairs, most similar first (``similarity``: the larger of the two shares).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``COLUMNS`` and ``similarity``; without any pair, an empty frame of
        ``COLUMNS``.
    """
    frame = rows.similarity[COLUMNS]
    if frame.empty:
        return frame.copy()
    frame = frame.assign(similarity=frame[["similarity_a", "similarity_b"]].max(axis=1))
    return frame.sort_values("similarity", ascending=False, ignore_index=True)
