"""The nbgrader plug-in's grade cells: nbgrader's own ``determine_grade`` reads GradeTape's score."""

from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade

from autograder.integrations.nbgrader_grade import fill_grade_cells, verdict_text
from autograder.results import QuestionResult, Status, SubmissionResult, TestResult

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "exercises" / "01_tensors" / "01_tensors.ipynb"
MAX = {"creation": 3.0, "dtypes": 2.0, "indexing": 4.0, "reshaping": 6.0}


def result(
    scores: dict[str, float], status: Status = Status.GRADED, reason: str = ""
) -> SubmissionResult:
    tests = (
        TestResult("test_tensors.py::test_filled", "creation", 1.0, 0.0, False,
                   "filled([3, 2], 2.0, tf.float64) has the wrong dtype",
                   "fill_ignores_dtype"),
        TestResult("test_tensors.py::test_arange_matrix", "creation", 2.0, 2.0, True),
    )  # fmt: skip
    return SubmissionResult(
        student="ada",
        assignment="01_tensors",
        notebook="01_tensors",
        status=status,
        reason=reason,
        questions=tuple(
            QuestionResult(q, scores.get(q, 0.0), m) for q, m in MAX.items() if q in scores
        ),
        tests=tests,
    )


def nbgrader_scores(nb: nbformat.NotebookNode) -> dict[str, float]:
    return {
        c.metadata["nbgrader"]["grade_id"]: determine_grade(c)[0]
        for c in nb.cells
        if is_grade(c) and c.cell_type == "code"
    }


def test_nbgrader_reads_each_questions_points_including_partial_credit() -> None:
    scores = {"creation": 2.0, "dtypes": 0.0, "indexing": 4.0, "reshaping": 4.5}
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), result(scores))
    assert nbgrader_scores(nb) == scores


def test_a_question_the_result_does_not_score_is_zero_not_full_marks() -> None:
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), result({"creation": 3.0}))
    assert nbgrader_scores(nb) == {
        "creation": 3.0,
        "dtypes": 0.0,
        "indexing": 0.0,
        "reshaping": 0.0,
    }


def test_scores_outside_the_cell_range_are_clamped() -> None:
    nb = fill_grade_cells(
        nbformat.read(RELEASE, as_version=4), result({"creation": 9.0, "dtypes": -1.0})
    )
    got = nbgrader_scores(nb)
    assert got["creation"] == 3.0 and got["dtypes"] == 0.0


def test_verdicts_name_each_test_and_the_misconception_hint_only() -> None:
    text = verdict_text(result({"creation": 2.0}), "creation")
    assert text.splitlines() == [
        "✗ test_filled (0/1): filled([3, 2], 2.0, tf.float64) has the wrong dtype",
        "✓ test_arange_matrix (2/2)",
    ]
    assert verdict_text(result({}), "dtypes") == "no hidden test of this question was run\n"


def test_a_rejected_submission_says_why_and_scores_zero() -> None:
    res = result({q: 0.0 for q in MAX}, Status.REJECTED, "cells were deleted")
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), res)
    assert set(nbgrader_scores(nb).values()) == {0.0}
    first = next(c for c in nb.cells if is_grade(c) and c.cell_type == "code")
    assert first.outputs[0]["text"].startswith("Not graded: cells were deleted")


@pytest.mark.parametrize("score", [0.0, 0.5, 1.25, 2.0, 3.0])
def test_points_round_trip_exactly(score: float) -> None:
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), result({"creation": score}))
    assert nbgrader_scores(nb)["creation"] == score
