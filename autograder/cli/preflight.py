"""Checks the command line runs before any slow work: every bad input is one clear line.

Each check raises :class:`UsageError` with one line that names the problem and what to do;
``gradetape`` prints it and exits 2. Nothing here imports TensorFlow, pandas or nbgrader:
a typo costs a second, not the minutes of building an answer key first.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

GRADER_FILE = "grader.toml"
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Seconds to wait for a database server before saying it cannot be reached.
CONNECT_TIMEOUT = 5


class UsageError(Exception):
    """A bad input (argument, path, setting): one line saying what to do; exit status 2."""


def suggest(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest of ``known`` (difflib), else ``""``."""
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    if not near:
        lowered = {k.lower(): k for k in known}
        if name.lower() in lowered:
            near = [lowered[name.lower()]]
    return f"; did you mean {near[0]!r}?" if near else ""


def check_root(root: Path) -> None:
    """The course root exists and holds a course (``solutions/`` or the hidden graders)."""
    if not root.is_dir():
        raise UsageError(
            f"the course root {root} does not exist; run gradetape in the course folder "
            "or pass --root COURSE (or set GRADETAPE_ROOT)"
        )
    if not (root / "autograder" / "graders").is_dir() and not (root / "solutions").is_dir():
        raise UsageError(
            f"{root} is not a GradeTape course (no solutions/ or autograder/graders/ in it); "
            "run gradetape in the course folder or pass --root COURSE"
        )


def course_exercises(root: Path) -> list[str]:
    """Names of the course's exercises (those with a hidden grader), sorted."""
    graders = root / "autograder" / "graders"
    if not graders.is_dir():
        return []
    return sorted(p.name for p in graders.iterdir() if (p / GRADER_FILE).is_file())


def check_exercises(root: Path, names: Sequence[str]) -> None:
    """Every name is an exercise of the course."""
    known = course_exercises(root)
    for name in names:
        if name not in known:
            listed = ", ".join(known) or "none"
            raise UsageError(
                f"no exercise {name!r} in {root} (exercises: {listed}){suggest(name, known)}"
            )


def check_output_file(path: Path, option: str = "--output") -> None:
    """A file to write: its folder exists and it is not a folder itself."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name, like {path}/out.csv")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(
            f"the folder {parent} for {option} does not exist; create it "
            f"(mkdir -p {parent}) or choose another {option}"
        )
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write into {parent} ({option}); choose another {option}")


def check_output_folder(path: Path, option: str = "--output") -> None:
    """A folder to write into (created when missing): not a file, and its parent exists."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file; give a folder to write into")
    if not path.exists() and not path.parent.is_dir():
        raise UsageError(
            f"the folder {path.parent} for {option} does not exist; create it "
            f"(mkdir -p {path.parent}) or choose another {option}"
        )


def check_notebook(path: Path) -> Path:
    """A notebook file to read: exists, is a file, and ends in ``.ipynb`` (any case)."""
    if path.suffix.lower() != ".ipynb":
        raise UsageError(
            f"{path} is not a notebook: expected a Jupyter notebook file ending in .ipynb "
            f"(like exercises/01_tensors/01_tensors.ipynb)"
        )
    if not path.exists():
        near = suggest(path.name, (p.name for p in _notebooks(path.parent)))
        raise UsageError(f"no notebook {path}; check the path{near}")
    if not path.is_file():
        raise UsageError(f"{path} is a folder; give the notebook file inside it")
    return path


def _notebooks(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.suffix.lower() == ".ipynb"]
    except OSError:
        return []


def check_submitted(folder: Path, assignment: str, given: bool) -> None:
    """The submissions folder exists and holds ``<student>/<assignment>/`` for someone."""
    option = "--submitted" if given else "the default submissions folder"
    if not folder.is_dir():
        fix = "pass the folder that holds <student>/<assignment>/*.ipynb with --submitted"
        raise UsageError(f"{option} {folder} does not exist; {fix}")
    students = [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if any((d / assignment).is_dir() for d in students):
        return
    found = sorted({a.name for d in students for a in d.iterdir() if a.is_dir()})
    what = f"assignments found: {', '.join(found[:8])}" if found else "no student folders"
    raise UsageError(
        f"no submissions of {assignment} in {folder} ({what}{suggest(assignment, found)}); "
        f"expected {folder}/<student>/{assignment}/*.ipynb"
    )


def _url_source(given: bool) -> str:
    if given:
        return "--db"
    return "GRADETAPE_DB" if os.environ.get("GRADETAPE_DB") else "the default gradebook URL"


def check_database(url: str, given: bool, must_exist: bool) -> None:
    """The gradebook URL parses, its driver is installed and the database can be reached.

    A SQLite file that does not exist yet is fine when grading creates it
    (``must_exist=False``: its folder must exist); exporting or reporting needs it.
    Another server is connected to, waiting at most :data:`CONNECT_TIMEOUT` seconds.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    source = _url_source(given)
    example = "sqlite:///gradebook.db or postgresql://user@host/db"
    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError
        raise UsageError(
            f"{source} {url!r}: unknown database kind {parsed.drivername!r}; "
            f"use one like {example}{suggest(parsed.drivername, ('sqlite', 'postgresql'))}"
        ) from None
    except ArgumentError:
        raise UsageError(
            f"{source} {url!r} is not a database URL; use one like {example}"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if dialect.name == "sqlite":
        _check_sqlite(parsed.database or "", shown, source, must_exist)
        return
    _check_server(parsed, shown, source)


def _check_sqlite(database: str, shown: str, source: str, must_exist: bool) -> None:
    if database in ("", ":memory:"):
        raise UsageError(
            f"{source} {shown} is an in-memory database; give a file, like {shown}/gradebook.db"
        )
    path = Path(database).expanduser().absolute()
    if not path.exists():
        if must_exist:
            raise UsageError(
                f"no gradebook at {path} ({source}); grade an assignment first "
                "(gradetape grade ASSIGNMENT) or point --db at the gradebook"
            )
        if not path.parent.is_dir():
            raise UsageError(
                f"the folder {path.parent} of the gradebook {path} ({source}) does not exist; "
                f"create it (mkdir -p {path.parent}) or choose another --db"
            )
        return
    if not path.is_file():
        raise UsageError(f"the gradebook {path} ({source}) is a folder; give a .db file")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise UsageError(
            f"cannot read the gradebook {path} ({exc.strerror}); check its permissions"
        ) from None
    if head and head != SQLITE_MAGIC:
        raise UsageError(f"{path} ({source}) is not a SQLite database; point --db at the gradebook")


def _check_server(parsed: object, shown: str, source: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    connect_args = {"connect_timeout": CONNECT_TIMEOUT}
    try:
        engine = create_engine(parsed, connect_args=connect_args)  # type: ignore[call-overload]
    except ImportError as exc:
        raise UsageError(
            f"{source} {shown}: its database driver is not installed ({exc.name}); "
            "use postgresql://... (psycopg 3 is installed) or install the driver"
        ) from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UsageError(
            f"cannot reach the database {shown} ({source}): {cause}; check the URL and that "
            "the server is running and reachable"
        ) from None
    finally:
        engine.dispose()


def check_scheduler(address: str) -> None:
    """A Dask scheduler address: ``tcp://host:port`` (or ``host:port``) that answers.

    Only plain TCP is probed (a connection, at most :data:`CONNECT_TIMEOUT` seconds);
    other schemes (``tls://``, ``ucx://``) are left to Dask.
    """
    import socket
    from urllib.parse import urlsplit

    example = "give one like tcp://scheduler:8786"
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise UsageError(f"--scheduler {address!r} is not a Dask scheduler address; {example}")
    if parts.scheme != "tcp":
        return
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UsageError(
            f"cannot reach the Dask scheduler at {host}:{port} ({why}); start it "
            "(dask scheduler) or check --scheduler"
        ) from None


def gradebook_assignments(url: str) -> list[str]:
    """The assignments the gradebook holds (nbgrader's ``assignment`` table), sorted."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name FROM assignment")).all()
    except SQLAlchemyError:
        return []
    finally:
        engine.dispose()
    return sorted(str(r[0]) for r in rows)


def check_graded(url: str, assignment: str) -> None:
    """The gradebook holds ``assignment`` (report or export of one assignment)."""
    known = gradebook_assignments(url)
    if assignment not in known:
        listed = ", ".join(known) or "none yet"
        raise UsageError(
            f"no assignment {assignment!r} in the gradebook (assignments: {listed})"
            f"{suggest(assignment, known)}; grade it first with gradetape grade {assignment}"
        )
