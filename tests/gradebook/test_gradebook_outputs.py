"""Exports (wide CSV, Parquet, Canvas, Gradescope), the HTML report and feedback pages."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from autograder.results import Status, SubmissionResult
from gradebook import (
    GradingPolicy,
    canvas_csv,
    gradescope_results,
    read_rows,
    record,
    render_feedback,
    to_parquet,
    wide_csv,
    write_all_feedback,
    write_feedback,
    write_gradescope_results,
)
from gradebook.lms import CANVAS_ID_COLUMNS, POINTS_POSSIBLE
from gradebook.report import write_report

MakeResult = Callable[..., SubmissionResult]
SECRET = "EXPECTED-VALUE-42"  # never stored in the DB, so it must never appear in output


@pytest.fixture
def graded(db_url: str, make_result: MakeResult) -> str:
    with Gradebook(db_url) as gb:
        gb.update_or_create_assignment("01_tensors", duedate=datetime(2025, 3, 1, 12))
        gb.add_student("ada", first_name="Ada", last_name="Lovelace", lms_user_id="1001")
        gb.add_student("cyd")
    record(
        db_url,
        [
            make_result(
                "ada",
                timestamp=datetime(2025, 3, 2, 13),  # 2 started days late
                notices=("Cell 3 raised <NameError>; later cells still ran.",),
                flags=("similar to bob",),
                duration_s=3.2,
            ),
            make_result("ada", "02_autodiff", scores={"q_grad": 2.5}, duration_s=1.5),
            make_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}, duration_s=4.0),
            make_result("bob", "02_autodiff", status=Status.REJECTED, reason="Not a notebook."),
        ],
    )
    return db_url


def test_wide_csv_has_a_column_per_assignment_and_question(graded: str) -> None:
    buffer = io.StringIO()
    frame = wide_csv(read_rows(graded), buffer)

    header = buffer.getvalue().splitlines()[0].split(",")
    assert header == [
        "student", "first_name", "last_name", "email",
        "01_tensors", "01_tensors/q_dtype", "01_tensors/q_shape",
        "02_autodiff", "02_autodiff/q_grad", "total",
    ]  # fmt: skip
    rows = frame.set_index("student")
    assert rows.loc["bob", ["01_tensors", "01_tensors/q_dtype", "total"]].tolist() == [2, 0, 2]
    assert rows.loc["cyd", "total"] == 0
    assert len(frame) == 3


def test_wide_csv_with_a_policy_adds_percent_and_letter(graded: str, tmp_path: Path) -> None:
    policy = GradingPolicy(late_penalty_per_day=0.1)
    frame = wide_csv(read_rows(graded), tmp_path / "wide.csv", policy)

    ada = frame.set_index("student").loc["ada"]
    assert ada["01_tensors"] == pytest.approx(4.0)  # 5 - 20 %
    assert ada["01_tensors/q_dtype"] == 3.0  # questions stay raw
    assert ada["percent"] == pytest.approx(65.0) and ada["letter"] == "D"
    assert pd.read_csv(tmp_path / "wide.csv")["letter"].tolist() == frame["letter"].tolist()


def test_parquet_round_trips(graded: str, tmp_path: Path) -> None:
    files = to_parquet(read_rows(graded), tmp_path / "pq")

    assert sorted(files) == ["assignments", "course", "questions", "submissions", "tests"]
    subs = pd.read_parquet(files["submissions"])
    ada = subs[(subs["student"] == "ada") & (subs["assignment"] == "01_tensors")].iloc[0]
    assert list(ada["flags"]) == ["similar to bob"]
    assert json.loads(ada["extra"]) == {}
    assert pd.read_parquet(files["questions"])["score"].sum() == 5 + 2.5 + 2
    assert set(pd.read_parquet(files["course"])["student"]) == {"ada", "bob", "cyd"}


def test_canvas_csv(graded: str, tmp_path: Path) -> None:
    out = tmp_path / "canvas.csv"
    canvas_csv(read_rows(graded),
        out,
        canvas_assignment_ids={"01_tensors": 555},
        sections={"bob": "Lab 2"},
        sis_user_ids={"bob": "S-2"},
    )

    rows = list(csv.reader(out.open(newline="")))
    assert rows[0] == [*CANVAS_ID_COLUMNS, "01_tensors (555)", "02_autodiff"]
    assert rows[1] == [POINTS_POSSIBLE, "", "", "", "", "5.0", "5.0"]
    assert rows[2] == ["Lovelace, Ada", "1001", "", "ada", "", "5.0", "2.5"]
    assert rows[3] == ["bob", "", "S-2", "bob", "Lab 2", "2.0", "0.0"]
    assert rows[4] == ["cyd", "", "", "cyd", "", "0.0", "0.0"]


def test_canvas_csv_applies_a_policy_and_can_omit_points_possible(graded: str) -> None:
    buffer = io.StringIO()
    table = canvas_csv(read_rows(graded),
        buffer,
        policy=GradingPolicy(late_penalty_per_day=0.5),
        points_possible_row=False,
    )
    assert table.iloc[0]["Student"] == "Lovelace, Ada"
    assert table.iloc[0]["01_tensors"] == 0.0  # 2 days x 50 %


def test_gradescope_results(graded: str, tmp_path: Path) -> None:
    path = write_gradescope_results(read_rows(graded), "01_tensors", "bob", tmp_path / "results.json")
    results = json.loads(path.read_text())

    assert results["score"] == 2.0
    assert results["execution_time"] == 4
    assert results["tests"] == [
        {
            "name": "q_dtype: test_q_dtype",
            "score": 0.0,
            "max_score": 3.0,
            "status": "failed",
            "output": "q_dtype is wrong",
            "output_format": "text",
            "visibility": "visible",
        },
        {
            "name": "q_shape: test_q_shape",
            "score": 2.0,
            "max_score": 2.0,
            "status": "passed",
            "output": "",
            "output_format": "text",
            "visibility": "visible",
        },
    ]
    ada = gradescope_results(read_rows(graded), "01_tensors", "ada", visibility="after_published")
    assert ada["output"] == "Cell 3 raised <NameError>; later cells still ran."
    assert "similar to bob" not in json.dumps(ada)  # review flags are for instructors
    assert {t["visibility"] for t in ada["tests"]} == {"after_published"}


def test_gradescope_results_of_rejected_and_missing_work(graded: str) -> None:
    rejected = gradescope_results(read_rows(graded), "02_autodiff", "bob")
    assert (rejected["score"], rejected["tests"], rejected["output"]) == (
        0.0,
        [],
        "Not a notebook.",
    )
    missing = gradescope_results(read_rows(graded), "02_autodiff", "cyd")
    assert missing["score"] == 0.0 and "No submission" in missing["output"]
    with pytest.raises(KeyError):
        gradescope_results(read_rows(graded), "02_autodiff", "zed")


def _pngs(text: str) -> list[bytes]:
    return [
        base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    ]


def test_report_is_self_contained_with_plots(graded: str, tmp_path: Path) -> None:
    path = write_report(read_rows(graded), tmp_path / "out" / "report.html")
    text = path.read_text()

    pngs = _pngs(text)
    assert len(pngs) == 3  # distribution, pass rates, timing
    assert all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert not re.search(r"""(src|href)=['"](?!data:)""", text)  # nothing external
    for heading in ("Score distribution", "Pass rate per test", "Time to grade", "Review flags"):
        assert heading in text
    assert "similar to bob" in text and "Not a notebook." in text
    assert "Cell 3 raised &lt;NameError&gt;" in text  # escaped


def test_report_of_an_empty_gradebook(blank_url: str, tmp_path: Path) -> None:
    text = write_report(read_rows(blank_url), tmp_path / "r.html").read_text()
    assert "No data yet." in text and _pngs(text) == []


def test_feedback_page(graded: str, tmp_path: Path) -> None:
    path = write_feedback(read_rows(graded), "01_tensors", "ada", tmp_path / "fb.html")
    text = path.read_text()

    assert "Score: <b>5</b> / 5" in text
    assert "Cell 3 raised &lt;NameError&gt;; later cells still ran." in text
    assert "similar to bob" not in text  # flags are for instructors
    assert "bob" not in text  # nobody else's data

    bob = render_feedback(read_rows(graded), "01_tensors", "bob")
    assert "q_dtype is wrong" in bob and "failed" in bob
    assert "Score: <b>2</b> / 5" in bob
    for page in (text, bob):
        assert "Traceback" not in page and SECRET not in page
    assert "Not a notebook." in render_feedback(read_rows(graded), "02_autodiff", "bob")
    with pytest.raises(KeyError):
        render_feedback(read_rows(graded), "01_tensors", "ada", notebook="nope")


def test_all_feedback_in_nbgrader_layout(graded: str, tmp_path: Path) -> None:
    pages = write_all_feedback(read_rows(graded), tmp_path)

    assert sorted(p.relative_to(tmp_path).as_posix() for p in pages) == [
        "feedback/ada/01_tensors/tensors.html",
        "feedback/ada/02_autodiff/autodiff.html",
        "feedback/bob/01_tensors/tensors.html",
        "feedback/bob/02_autodiff/autodiff.html",
    ]  # cyd submitted nothing: no page
    only = write_all_feedback(read_rows(graded), tmp_path / "one", assignment="02_autodiff")
    assert len(only) == 2
