"""GradeTape's totals must equal what nbgrader itself exports from the same database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from autograder.results import Status, SubmissionResult
from gradebook import read_rows, record, scores_by_student

MakeResult = Callable[..., SubmissionResult]


@pytest.fixture
def busy(db_url: str, make_result: MakeResult) -> str:
    """Every case at once: partial, rejected, missing, roster-only, manual, extra, late."""
    with Gradebook(db_url) as gb:
        gb.add_student("dee", first_name="Dee")
    record(
        db_url,
        [
            make_result("ada"),
            make_result("ada", "02_autodiff", scores={"q_grad": 2.5}),
            make_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}),
            make_result("bob", "02_autodiff", status=Status.REJECTED, reason="bad json"),
            make_result("cyd", status=Status.MISSING),
        ],
    )
    with Gradebook(db_url) as gb:
        grade = gb.find_grade("q_dtype", "tensors", "01_tensors", "bob")
        grade.manual_score = 1.0
        grade.extra_credit = 0.5
        gb.find_submission_notebook("autodiff", "02_autodiff", "ada").late_submission_penalty = 1
        gb.db.commit()
    return db_url


def _ours(db_url: str) -> dict[tuple[str, str], tuple[float, float]]:
    frame = scores_by_student(read_rows(db_url))
    return {(r.student, r.assignment): (r.score, r.max_score) for r in frame.itertuples()}


def _theirs(csv: Path) -> dict[tuple[str, str], tuple[float, float]]:
    frame = pd.read_csv(csv)
    return {
        (str(r.student_id), str(r.assignment)): (float(r.score), float(r.max_score))
        for r in frame.itertuples()
    }


def test_totals_agree_with_nbgrader_csv_export_plugin(busy: str, tmp_path: Path) -> None:
    out = tmp_path / "nbgrader.csv"
    with Gradebook(busy) as gb:
        CsvExportPlugin(to=str(out)).export(gb)

    theirs = _theirs(out)
    assert len(theirs) == 4 * 2
    assert _ours(busy) == theirs
    assert theirs[("bob", "01_tensors")] == (3.5, 5.0)  # manual 1 + extra 0.5 + 2
    assert theirs[("ada", "02_autodiff")] == (1.5, 5.0)  # 2.5 - late penalty 1


def test_totals_agree_with_the_nbgrader_export_command(busy: str, tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    subprocess.run(
        [
            sys.executable, "-m", "nbgrader", "export",
            f"--CourseDirectory.db_url={busy}", f"--to={out}",
        ],
        cwd=tmp_path,  # no nbgrader_config.py here: only the flags count
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip

    assert _ours(busy) == _theirs(out)
