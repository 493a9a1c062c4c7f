from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from autograder.results import Status, SubmissionResult
from gradebook import record
from gradebook.policy import (
    COURSE_GRADE_COLUMNS,
    GradingPolicy,
    assignment_grades,
    assignment_summary,
    course_grades,
    days_late,
    missing_submissions,
    pass_rates,
    question_summary,
)

MakeResult = Callable[..., SubmissionResult]
DUE = {"01_tensors": datetime(2025, 3, 1, 12), "02_autodiff": datetime(2025, 3, 8, 12)}


@pytest.fixture
def course(db_url: str, make_result: MakeResult) -> str:
    """ada: 01 full, on time; 02 half, 30 h late.  bob: 01 2/5 on time; 02 full 1 h late.
    cyd: nothing (roster only).  dee: 01 recorded missing; 02 rejected."""
    with Gradebook(db_url) as gb:
        for name, due in DUE.items():
            gb.update_or_create_assignment(name, duedate=due)
        gb.add_student("cyd", first_name="Cyd", last_name="Young")
    record(
        db_url,
        [
            make_result("ada", timestamp=datetime(2025, 3, 1, 11)),
            make_result(
                "ada", "02_autodiff", scores={"q_grad": 2.5}, timestamp=datetime(2025, 3, 9, 18)
            ),
            make_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}),
            make_result("bob", "02_autodiff", timestamp=datetime(2025, 3, 8, 13)),
            make_result("dee", status=Status.MISSING),
            make_result("dee", "02_autodiff", status=Status.REJECTED, reason="not JSON"),
        ],
    )
    return db_url


def _grades(db_url: str, policy: GradingPolicy) -> dict[tuple[str, str], tuple[float, ...]]:
    frame = assignment_grades(db_url, policy)
    return {
        (r.student, r.assignment): (r.days_late, r.late_penalty, r.score, r.dropped)
        for r in frame.itertuples()
    }


def test_days_late_counts_started_days_after_extension_and_grace() -> None:
    due = pd.Timestamp("2025-03-01 12:00")
    assert days_late(pd.Timestamp("2025-03-01 11:00"), due) == 0
    assert days_late(pd.Timestamp("2025-03-01 12:00"), due) == 0
    assert days_late(pd.Timestamp("2025-03-01 12:01"), due) == 1
    assert days_late(pd.Timestamp("2025-03-03 12:00"), due) == 2
    assert days_late(pd.Timestamp("2025-03-03 12:01"), due) == 3
    assert days_late(pd.Timestamp("2025-03-03 12:01"), due, extension_days=2) == 1
    assert days_late(pd.Timestamp("2025-03-01 12:10"), due, grace_minutes=15) == 0
    assert days_late(None, due) == 0 and days_late(pd.Timestamp("2025-03-09"), None) == 0


def test_late_penalty_per_day_with_cap(course: str) -> None:
    policy = GradingPolicy(late_penalty_per_day=0.25, late_penalty_cap=0.3)
    got = _grades(course, policy)

    assert got[("ada", "01_tensors")] == (0, 0.0, 5.0, False)
    # 30 h late = 2 started days -> 50 % capped at 30 % of the 2.5 earned
    assert got[("ada", "02_autodiff")] == pytest.approx((2, 0.75, 1.75, False))
    assert got[("bob", "02_autodiff")] == (1, 1.25, 3.75, False)
    assert got[("bob", "01_tensors")][:3] == (0, 0.0, 2.0)  # no timestamp: not late


def test_late_penalty_of_max_score_and_never_below_zero(course: str) -> None:
    policy = GradingPolicy(late_penalty_per_day=0.5, late_penalty_basis="max_score")
    got = _grades(course, policy)

    # 100 % of 5 from 2.5: the penalty is capped at the 2.5 earned (as nbgrader caps it)
    assert got[("ada", "02_autodiff")][1:3] == (2.5, 0.0)


def test_extension_and_grace(course: str) -> None:
    policy = GradingPolicy(
        late_penalty_per_day=0.1, extensions={("ada", "02_autodiff"): 1.5}, grace_minutes=60
    )
    got = _grades(course, policy)

    assert got[("ada", "02_autodiff")][:3] == (0, 0.0, 2.5)  # due +1.5 d covers 30 h
    assert got[("bob", "02_autodiff")][:3] == (0, 0.0, 5.0)  # 1 h late, 60 min grace


def test_without_a_late_policy_nbgrader_penalty_is_kept(course: str) -> None:
    with Gradebook(course) as gb:
        gb.find_submission_notebook("tensors", "01_tensors", "ada").late_submission_penalty = 1
        gb.db.commit()

    assert _grades(course, GradingPolicy())[("ada", "01_tensors")][1:3] == (1.0, 4.0)
    # a policy penalty replaces nbgrader's, never adds to it
    replaced = _grades(course, GradingPolicy(late_penalty_per_day=0.1))
    assert replaced[("ada", "01_tensors")][1:3] == (0.0, 5.0)


def test_course_grades_weights_drops_and_letters(course: str) -> None:
    policy = GradingPolicy(weights={"02_autodiff": 3.0}, drop_lowest=0)
    frame = course_grades(course, policy).set_index("student")

    assert list(frame.reset_index().columns) == COURSE_GRADE_COLUMNS
    # ada: (100*1 + 50*3) / 4 = 62.5
    assert frame.loc["ada", "percent"] == 62.5 and frame.loc["ada", "letter"] == "D"
    assert frame.loc["bob", "percent"] == pytest.approx((40 + 300) / 4)
    assert frame.loc["cyd", "percent"] == 0 and frame.loc["cyd", "letter"] == "F"
    assert frame.loc["cyd", "missing"] == ["01_tensors", "02_autodiff"]
    assert frame.loc["cyd", "first_name"] == "Cyd"
    assert frame.loc["dee", "missing"] == ["01_tensors"]  # 02 was rejected, not missing


def test_drop_lowest_keeps_never_drop_and_at_least_one(course: str) -> None:
    dropped = course_grades(course, GradingPolicy(drop_lowest=1)).set_index("student")
    assert dropped.loc["ada", "dropped"] == ["02_autodiff"]
    assert dropped.loc["ada", "percent"] == 100.0
    assert dropped.loc["bob", "dropped"] == ["01_tensors"]

    kept = course_grades(
        course, GradingPolicy(drop_lowest=1, never_drop=frozenset({"02_autodiff"}))
    )
    assert kept.set_index("student").loc["ada", "dropped"] == ["01_tensors"]

    everything = course_grades(course, GradingPolicy(drop_lowest=5)).set_index("student")
    assert everything.loc["ada", "dropped"] == ["02_autodiff"]  # one always counts


def test_letter_cutoffs() -> None:
    policy = GradingPolicy(cutoffs=(("pass", 50.0), ("fail", 0.0)))
    assert [policy.letter(p) for p in (100, 50, 49.99, 0)] == ["pass", "pass", "fail", "fail"]
    assert GradingPolicy().letter(89.99999999999) == "A-"  # float noise is not a B+
    with pytest.raises(ValueError, match="cutoffs"):
        GradingPolicy(cutoffs=(("A", 90.0), ("B", 95.0), ("F", 0.0)))
    with pytest.raises(ValueError, match="cutoffs"):
        GradingPolicy(cutoffs=(("A", 90.0),))


def test_policy_from_mapping() -> None:
    policy = GradingPolicy.from_mapping(
        {
            "late_penalty_per_day": 0.1,
            "extensions": {"ada": {"01_tensors": 2}},
            "cutoffs": {"F": 0, "P": 50},
            "never_drop": ["02_autodiff"],
            "weights": {"02_autodiff": 2},
            "drop_lowest": 1,
        }
    )
    assert policy.extensions == {("ada", "01_tensors"): 2.0}
    assert policy.cutoffs == (("P", 50.0), ("F", 0.0))
    assert policy.never_drop == frozenset({"02_autodiff"})
    assert policy.weight("02_autodiff") == 2.0 and policy.weight("other") == 1.0
    with pytest.raises(ValueError, match="unknown"):
        GradingPolicy.from_mapping({"late_penalty": 1})
    with pytest.raises(ValueError):
        GradingPolicy(late_penalty_cap=2)


def test_missing_submissions(course: str) -> None:
    frame = missing_submissions(course)

    got = {(r.student, r.assignment): r.recorded for r in frame.itertuples()}
    assert got == {
        ("cyd", "01_tensors"): False,
        ("cyd", "02_autodiff"): False,
        ("dee", "01_tensors"): True,
    }
    assert frame.loc[frame["student"] == "cyd", "last_name"].tolist() == ["Young", "Young"]
    assert frame.loc[frame["student"] == "dee", "duedate"].tolist() == [DUE["01_tensors"]]


def test_summaries(course: str) -> None:
    per_assignment = assignment_summary(course).set_index("assignment")
    assert per_assignment.loc["01_tensors", "submitted"] == 2  # ada, bob
    assert per_assignment.loc["01_tensors", "missing"] == 2  # cyd, dee
    assert per_assignment.loc["01_tensors", "mean"] == pytest.approx(7 / 4)

    questions = question_summary(course).set_index("question")
    assert questions.loc["q_dtype", "mean"] == 1.5  # ada 3, bob 0
    assert questions.loc["q_dtype", "mean_percent"] == 50.0

    rates = pass_rates(course)
    assert rates.iloc[0]["test_id"] == "test_01_tensors.py::test_q_dtype"  # the hardest first
    assert rates["pass_rate"].is_monotonic_increasing


def test_aggregates_of_an_empty_gradebook(blank_url: str) -> None:
    for frame in (
        assignment_grades(blank_url),
        course_grades(blank_url),
        missing_submissions(blank_url),
        assignment_summary(blank_url),
        question_summary(blank_url),
        pass_rates(blank_url),
    ):
        assert frame.empty and len(frame.columns) > 0
