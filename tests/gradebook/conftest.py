"""Fixtures for the gradebook tests: fresh gradebooks on SQLite and PostgreSQL, and results.

Every test that takes ``db_url`` (or ``blank_url``) runs twice: ``[sqlite]`` on a file in
its temp dir and ``[postgresql]`` on a database of its own, created on the server named by
``GRADETAPE_TEST_POSTGRES_URL`` (``eval "$(.ci/postgres.sh)"`` starts one) and dropped
afterwards, so parallel workers never share data. Without that variable the PostgreSQL
variants are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

# Guard for pytest's default `prepend` import mode (pyproject now sets importlib): there,
# tests/ lands on sys.path and `import gradebook` finds THIS directory as a namespace package
# before the editable install's finder runs, unless the project root is on sys.path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from autograder.results import (  # noqa: E402
    QuestionResult,
    Status,
    SubmissionResult,
    TestResult,
)
from gradebook import ensure_assignment  # noqa: E402

POSTGRES_ENV = "GRADETAPE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]

# assignment -> (notebook, {grade_id: max points})
COURSE: dict[str, tuple[str, dict[str, float]]] = {
    "01_tensors": ("tensors", {"q_shape": 2.0, "q_dtype": 3.0}),
    "02_autodiff": ("autodiff", {"q_grad": 5.0}),
}


def _build_course(url: str) -> None:
    for assignment, (notebook, questions) in COURSE.items():
        ensure_assignment(url, assignment, notebook, questions)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the test PostgreSQL server; skips (locally) or fails (CI) without one."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f'CI=true but {POSTGRES_ENV} is unset: eval "$(.ci/postgres.sh)" first')
        pytest.skip(f'{POSTGRES_ENV} is unset (eval "$(.ci/postgres.sh)" to test PostgreSQL)')
    return url


class PostgresDatabases:
    """Creates uniquely named databases on one server and drops them again."""

    def __init__(self, server_url: str) -> None:
        self.server = make_url(server_url)
        self.engine = create_engine(self.server, isolation_level="AUTOCOMMIT")

    def create(self, template: str | None = None) -> str:
        name = f"gt_{uuid.uuid4().hex[:20]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return name

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres(postgres_server: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite gradebook with the course's assignments and no students, built once."""
    path = tmp_path_factory.mktemp("template") / "gb.db"
    _build_course(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresDatabases) -> Iterator[str]:
    """A PostgreSQL database with the course and no students, built once per worker."""
    name = postgres.create()
    _build_course(postgres.url(name))
    yield name
    postgres.drop(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh gradebook holding the course (no students), as a SQLAlchemy URL."""
    if backend == "sqlite":
        path = tmp_path / "gb.db"
        shutil.copyfile(request.getfixturevalue("template_db"), path)
        yield f"sqlite:///{path}"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    name = postgres.create(template=request.getfixturevalue("postgres_template"))
    yield postgres.url(name)
    postgres.drop(name)


@pytest.fixture
def blank_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables at all), as a SQLAlchemy URL."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/blank.db"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    name = postgres.create()
    yield postgres.url(name)
    postgres.drop(name)


def build_result(
    student: str,
    assignment: str = "01_tensors",
    scores: dict[str, float] | None = None,
    status: Status = Status.GRADED,
    **kwargs: object,
) -> SubmissionResult:
    """A result; ``scores`` maps grade_id -> points (default: full marks).

    One test per question, passed iff it earned full marks.
    """
    notebook, questions = COURSE[assignment]
    scores = dict(questions) if scores is None else scores
    if status is not Status.GRADED:
        scores = {q: 0.0 for q in questions}
    return SubmissionResult(
        student=student,
        assignment=assignment,
        notebook=notebook,
        status=status,
        questions=tuple(QuestionResult(q, scores[q], questions[q]) for q in questions),
        tests=tuple(
            TestResult(
                test_id=f"test_{assignment}.py::test_{q}",
                question=q,
                max_points=questions[q],
                points=scores[q],
                passed=scores[q] == questions[q],
                message="" if scores[q] == questions[q] else f"{q} is wrong",
            )
            for q in questions
        )
        if status is Status.GRADED
        else (),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_result() -> Callable[..., SubmissionResult]:
    return build_result
