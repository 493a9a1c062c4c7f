from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from autograder.results import Status, SubmissionResult
from gradebook import export_long, format_table, per_student_table, read_rows, record, to_csv
from gradebook.export import LONG_COLUMNS

MakeResult = Callable[..., SubmissionResult]


@pytest.fixture
def graded(db_url: str, make_result: MakeResult) -> str:
    with Gradebook(db_url) as gb:
        gb.add_student("cyd")
    record(
        db_url,
        [
            make_result("ada"),
            make_result("ada", "02_autodiff", scores={"q_grad": 2.5}),
            make_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}),
            make_result("bob", "02_autodiff", status=Status.REJECTED),
        ],
    )
    return db_url


def test_export_long_has_every_student_and_question(graded: str) -> None:
    frame = export_long(read_rows(graded))

    assert list(frame.columns) == LONG_COLUMNS
    assert len(frame) == 3 * 3
    assert frame.groupby("student")["score"].sum().to_dict() == {"ada": 7.5, "bob": 2.0, "cyd": 0.0}


def test_to_csv_round_trips_through_a_buffer_and_a_path(graded: str, tmp_path: Path) -> None:
    frame = export_long(read_rows(graded))
    buffer = io.StringIO()
    to_csv(frame, buffer)
    to_csv(frame, tmp_path / "grades.csv")

    text = buffer.getvalue()
    assert text.splitlines()[0] == ",".join(LONG_COLUMNS)
    assert (tmp_path / "grades.csv").read_text() == text
    back = pd.read_csv(io.StringIO(text))
    assert back["score"].sum() == frame["score"].sum()


def test_per_student_table(graded: str) -> None:
    table = per_student_table(read_rows(graded))

    assert list(table.columns) == ["student", "01_tensors", "02_autodiff", "total"]
    assert table.values.tolist() == [
        ["ada", 5.0, 2.5, 7.5],
        ["bob", 2.0, 0.0, 2.0],
        ["cyd", 0.0, 0.0, 0.0],
    ]


def test_per_student_table_of_an_empty_gradebook(blank_url: str) -> None:
    table = per_student_table(read_rows(blank_url))
    assert table.empty and list(table.columns) == ["student", "total"]


def test_format_table(graded: str) -> None:
    text = format_table(per_student_table(read_rows(graded)))

    lines = text.splitlines()
    assert lines[0].split() == ["student", "01_tensors", "02_autodiff", "total"]
    assert lines[1].split() == ["ada", "5", "2.5", "7.5"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert format_table(pd.DataFrame({"a": []})) == "(no rows)"
    assert format_table(pd.DataFrame({"a": [1 / 3, float("nan")]})).split()[1:] == ["0.33", "-"]
