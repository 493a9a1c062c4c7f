"""Open nbgrader's gradebook database the way nbgrader does, minus its ``alembic`` subprocess.

On a database with no tables, :class:`nbgrader.api.Gradebook` records the schema version by
running the ``alembic`` *executable* found on ``PATH``. That fails with
``FileNotFoundError: 'alembic'`` whenever the virtualenv is not activated (``.venv/bin/...``
run directly, cron, CI) and costs a subprocess per new database. :func:`open_gradebook`
writes the very same ``alembic_version`` row first, computed in-process from nbgrader's
migration scripts, so nbgrader then sees an existing database and skips the subprocess.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from nbgrader import dbutil
from nbgrader.api import Gradebook
from sqlalchemy import create_engine, inspect, text

from gradebook.tables import create_tables

COURSE_ID = "gradetape-tf2"
"""nbgrader course id; mirrors ``c.CourseDirectory.course_id`` in ``nbgrader_config.py``."""


@functools.cache
def alembic_head() -> str:
    """Return the newest revision of nbgrader's database migrations.

    Returns:
        The alembic revision id nbgrader stamps on a new database.
    """
    from alembic.config import Config  # lazy: only a new database needs it (0.15 s)
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", dbutil.ALEMBIC_DIR)
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:  # pragma: no cover - nbgrader always ships migrations
        raise RuntimeError("nbgrader ships no alembic migrations")
    return head


def stamp_if_new(db_url: str) -> None:
    """Record nbgrader's schema version in a database that has no tables yet.

    Does exactly what ``Gradebook.__init__`` does for a new database, so that it does not
    shell out to ``alembic``. A database that already has tables is left untouched.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
    """
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            if inspect(conn).get_table_names():
                return
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                {"v": alembic_head()},
            )
    finally:
        engine.dispose()


@contextmanager
def open_gradebook(db_url: str, course_id: str = COURSE_ID) -> Iterator[Gradebook]:
    """Open nbgrader's gradebook, creating nbgrader's and GradeTape's tables if needed.

    Args:
        db_url: SQLAlchemy URL of the gradebook database (``sqlite:///gradebook.db``).
        course_id: nbgrader course id used for assignments created here.

    Yields:
        An open :class:`nbgrader.api.Gradebook`; it is closed on exit.
    """
    stamp_if_new(db_url)
    gb = Gradebook(db_url, course_id=course_id)
    try:
        create_tables(gb.engine)
        yield gb
    finally:
        gb.close()
