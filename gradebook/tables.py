"""GradeTape's own tables, stored next to nbgrader's in the same database.

nbgrader keeps one score per grade cell. GradeTape also keeps what nbgrader has no room for:
the verdict of every hidden test and the outcome of each graded submission (status, reason,
review flags). These tables live in a separate :class:`~sqlalchemy.MetaData`, so creating
them never touches nbgrader's schema or its alembic migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

test_result = Table(
    "gradetape_test_result",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("test_id", String(512), nullable=False),
    Column("question", String(128), nullable=False),
    Column("max_points", Float, nullable=False),
    Column("points", Float, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("misconception", String(128), nullable=False, default=""),
    UniqueConstraint("assignment", "student", "notebook", "test_id"),
)
"""One row per hidden test per submitted notebook."""

submission = Table(
    "gradetape_submission",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("isolation", String(32), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("flags", Text, nullable=False, default="[]"),
    Column("notices", Text, nullable=False, default="[]"),
    Column("extra", Text, nullable=False, default="{}"),
    Column("graded_at", DateTime, nullable=False),
    UniqueConstraint("assignment", "student", "notebook"),
)
"""One row per graded notebook: the last grading outcome (``flags``/``notices``/``extra``
are JSON text; ``graded_at`` is naive UTC like nbgrader's timestamps)."""


similarity = Table(
    "gradetape_similarity",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student_a", String(128), nullable=False),
    Column("student_b", String(128), nullable=False),
    Column("similarity_a", Float, nullable=False),
    Column("similarity_b", Float, nullable=False),
    Column("code_a", Text, nullable=False, default=""),
    Column("code_b", Text, nullable=False, default=""),
)
"""Pairs of submissions flagged by the similarity review (never a score change)."""


def create_tables(engine: Engine) -> None:
    """Create GradeTape's tables if they do not exist yet (nbgrader's are left alone).

    Args:
        engine: Engine bound to the gradebook database.
    """
    metadata.create_all(bind=engine)
    _add_missing_columns(engine)


def _add_missing_columns(engine: Engine) -> None:
    """Bring tables made by an older GradeTape up to date (columns are only ever added)."""
    from sqlalchemy import inspect, text

    have = {c["name"] for c in inspect(engine).get_columns(test_result.name)}
    if "misconception" not in have:
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"ALTER TABLE {test_result.name} "
                    "ADD COLUMN misconception VARCHAR(128) NOT NULL DEFAULT ''"
                )
            )
