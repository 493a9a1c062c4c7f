"""Store and read the similarity review's pairs (one set per assignment, replaced each batch)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, delete, insert, inspect, select

from gradebook import tables

COLUMNS = [
    "assignment",
    "student_a",
    "student_b",
    "similarity_a",
    "similarity_b",
    "code_a",
    "code_b",
]


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


def similar_submissions(db_url: str) -> pd.DataFrame:
    """All flagged pairs, most similar first."""
    engine = create_engine(db_url)
    try:
        if not inspect(engine).has_table(tables.test_result.name):
            return pd.DataFrame(columns=COLUMNS)
        tables.create_tables(engine)
        with engine.connect() as conn:
            t = tables.similarity
            frame = pd.DataFrame(
                conn.execute(select(*(t.c[c] for c in COLUMNS))).all(), columns=COLUMNS
            )
    finally:
        engine.dispose()
    if frame.empty:
        return frame
    frame["similarity"] = frame[["similarity_a", "similarity_b"]].max(axis=1)
    return frame.sort_values("similarity", ascending=False, ignore_index=True)
