"""The gradebook is read once: the report and every feedback page come from one snapshot.

Counted two ways: SQL connections opened while rendering (none after :func:`read_rows`), and
calls of :func:`read_rows` by ``gradetape report`` (one, for the report and all the pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

import gradebook
import gradebook.rows
from autograder.cli.main import main
from gradebook import read_rows, write_all_feedback
from gradebook.lms import write_gradescope_folder
from gradebook.report import write_report

from .synthetic import build_class


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course root whose ``gradebook.db`` holds a small synthetic class (pairs included)."""
    root = tmp_path_factory.mktemp("course")
    build_class(f"sqlite:///{root / 'gradebook.db'}", students=12, assignments=2, pairs=4)
    return root


@pytest.fixture
def connections() -> Iterator[list[Any]]:
    """Every SQL connection any engine opens while the test runs."""
    opened: list[Any] = []

    def on_connect(conn: Any) -> None:
        opened.append(conn)

    event.listen(Engine, "engine_connect", on_connect)
    yield opened
    event.remove(Engine, "engine_connect", on_connect)


def test_report_and_feedback_render_from_one_read(
    course: Path, tmp_path: Path, connections: list[Any]
) -> None:
    rows = read_rows(f"sqlite:///{course / 'gradebook.db'}")
    assert len(connections) == 1  # one snapshot, one connection

    report = write_report(rows, tmp_path / "report.html").read_text()
    pages = write_all_feedback(rows, tmp_path)
    folder = write_gradescope_folder(rows, "01_tensors", tmp_path / "gradescope")

    assert len(connections) == 1  # rendering never touches the database
    assert "Similar submissions" in report and "<mark>" in report  # the pairs came along
    assert len(pages) > 12 and len(folder) == 12


def test_gradetape_report_reads_the_gradebook_once(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = gradebook.rows.read_rows

    def counting(db_url: str) -> gradebook.rows.Rows:
        calls.append(db_url)
        return real(db_url)

    monkeypatch.setattr(gradebook.rows, "read_rows", counting)
    monkeypatch.setattr(gradebook, "read_rows", counting)
    monkeypatch.setenv("GRADETAPE_DB", f"sqlite:///{course / 'gradebook.db'}")

    code = main(["--root", str(course), "report", "-o", str(tmp_path / "report.html")])

    assert code == 0
    assert len(calls) == 1  # the report and every feedback page share one read
    assert (tmp_path / "report.html").is_file()
    assert len(list((course / "feedback").rglob("*.html"))) > 12
