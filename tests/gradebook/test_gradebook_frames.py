from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from autograder.results import Status, SubmissionResult
from gradebook import (
    read_rows,
    record,
    scores_by_question,
    scores_by_student,
    scores_by_test,
    submissions,
)
from gradebook.frames import QUESTION_COLUMNS, STUDENT_COLUMNS, SUBMISSION_COLUMNS

MakeResult = Callable[..., SubmissionResult]


@pytest.fixture
def graded(db_url: str, make_result: MakeResult) -> str:
    """ada: full marks on 01; bob: partial on 01, rejected on 02; cyd: on the roster only."""
    with Gradebook(db_url) as gb:
        gb.add_student("cyd", first_name="Cyd")
    record(
        db_url,
        [
            make_result("ada"),
            make_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}),
            make_result("bob", "02_autodiff", status=Status.REJECTED, reason="bad json"),
        ],
    )
    return db_url


def _row(frame: pd.DataFrame, **key: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in key.items():
        mask &= frame[column] == value
    (index,) = frame.index[mask]
    return frame.loc[index]


def test_scores_by_question_is_a_full_grid(graded: str) -> None:
    frame = scores_by_question(read_rows(graded))

    assert list(frame.columns) == QUESTION_COLUMNS
    assert len(frame) == 3 * 3  # 3 students x 3 questions
    bob = _row(frame, student="bob", question="q_dtype")
    assert (bob["score"], bob["max_score"], bob["missing"]) == (0.0, 3.0, False)
    cyd = frame[frame["student"] == "cyd"]
    assert cyd["score"].eq(0.0).all() and cyd["missing"].all()
    assert cyd["auto_score"].isna().all()


def test_scores_by_student_totals_and_missing(graded: str) -> None:
    frame = scores_by_student(read_rows(graded))

    assert list(frame.columns) == STUDENT_COLUMNS
    assert len(frame) == 3 * 2  # one row per student x assignment
    got = {(r.student, r.assignment): (r.score, r.max_score, r.missing) for r in frame.itertuples()}
    assert got == {
        ("ada", "01_tensors"): (5.0, 5.0, False),
        ("ada", "02_autodiff"): (0.0, 5.0, True),
        ("bob", "01_tensors"): (2.0, 5.0, False),
        ("bob", "02_autodiff"): (0.0, 5.0, False),  # rejected: submitted, scored 0
        ("cyd", "01_tensors"): (0.0, 5.0, True),
        ("cyd", "02_autodiff"): (0.0, 5.0, True),
    }
    assert frame["missing"].dtype == bool


def test_recorded_missing_counts_as_missing(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("ada"), make_result("ada", status=Status.MISSING)])

    row = _row(scores_by_student(read_rows(db_url)), student="ada", assignment="01_tensors")
    assert (row["score"], row["missing"]) == (0.0, True)


def test_scores_follow_nbgrader_manual_extra_credit_and_late_penalty(
    db_url: str, make_result: MakeResult
) -> None:
    record(db_url, [make_result("ada", scores={"q_shape": 0.0, "q_dtype": 3.0})])
    with Gradebook(db_url) as gb:
        grade = gb.find_grade("q_shape", "tensors", "01_tensors", "ada")
        grade.manual_score = 1.0
        grade.extra_credit = 0.5
        gb.find_submission_notebook("tensors", "01_tensors", "ada").late_submission_penalty = 2.0
        gb.db.commit()

    q = _row(scores_by_question(read_rows(db_url)), student="ada", question="q_shape")
    assert (q["score"], q["auto_score"], q["manual_score"], q["needs_manual_grade"]) == (
        1.5,
        0.0,
        1.0,
        False,  # set by hand above without touching the flag
    )
    s = _row(scores_by_student(read_rows(db_url)), student="ada", assignment="01_tensors")
    assert (s["raw_score"], s["late_penalty"], s["score"]) == (4.5, 2.0, 2.5)


def test_late_penalty_never_makes_a_score_negative(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("ada", scores={"q_shape": 1.0, "q_dtype": 0.0})])
    with Gradebook(db_url) as gb:
        gb.find_submission_notebook("tensors", "01_tensors", "ada").late_submission_penalty = 9
        gb.db.commit()

    assert _row(scores_by_student(read_rows(db_url)), student="ada", assignment="01_tensors")["score"] == 0


def test_scores_by_test(graded: str) -> None:
    frame = scores_by_test(read_rows(graded))

    assert len(frame) == 4  # 2 tests each for ada and bob on 01; none for the rejection
    failed = frame[~frame["passed"]]
    assert failed[["student", "question", "points", "message"]].values.tolist() == [
        ["bob", "q_dtype", 0.0, "q_dtype is wrong"]
    ]
    assert frame["passed"].dtype == bool


def test_submissions_joins_status_and_nbgrader(graded: str, make_result: MakeResult) -> None:
    record(graded, [make_result("cyd", status=Status.MISSING, flags=("chase up",))])
    frame = submissions(read_rows(graded))

    assert list(frame.columns) == SUBMISSION_COLUMNS
    rejected = _row(frame, student="bob", assignment="02_autodiff")
    assert (rejected["status"], rejected["reason"], rejected["in_nbgrader"]) == (
        "rejected",
        "bad json",
        True,
    )
    missing = _row(frame, student="cyd", assignment="01_tensors")
    assert (missing["status"], missing["in_nbgrader"], missing["flags"]) == (
        "missing",
        False,
        ["chase up"],
    )
    assert _row(frame, student="bob", assignment="01_tensors")["score"] == 2.0
    assert len(frame) == 4


@pytest.mark.filterwarnings("ignore:Object of type:sqlalchemy.exc.SAWarning")
def test_nbgrader_only_submission_has_no_status(db_url: str) -> None:
    with Gradebook(db_url) as gb:
        gb.add_student("ada")
        gb.add_submission("01_tensors", "ada")  # as `nbgrader autograde` would

    row = _row(submissions(read_rows(db_url)), student="ada")
    assert pd.isna(row["status"]) and row["in_nbgrader"]


@pytest.mark.parametrize(
    "read", [scores_by_question, scores_by_student, scores_by_test, submissions]
)
def test_frames_of_an_empty_or_blank_database_are_empty(blank_url: str, read: object) -> None:
    frame = read(read_rows(blank_url))  # type: ignore[operator]
    assert frame.empty
    assert len(frame.columns) > 0
