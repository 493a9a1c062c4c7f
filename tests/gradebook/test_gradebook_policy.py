"""The grading policy and the class summaries: pure pandas on rows built in memory.

No database: :func:`tests.gradebook.memory.memory_rows` builds what ``record`` would store
(``test_gradebook_store.py`` checks it agrees with SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from autograder.results import Status
from gradebook.frames import scores_by_question, scores_by_student, scores_by_test, submissions
from gradebook.grades import (
    COURSE_GRADE_COLUMNS,
    assignment_grades,
    course_grades,
    missing_submissions,
)
from gradebook.policy import GradingPolicy, days_late, late_penalty_points, load_policy
from gradebook.rows import Rows, empty_rows, read_rows
from gradebook.store import record
from gradebook.summaries import assignment_summary, pass_rates, question_summary

from .conftest import COURSE, build_result
from .memory import memory_rows

DUE = {"01_tensors": datetime(2025, 3, 1, 12), "02_autodiff": datetime(2025, 3, 8, 12)}
COURSE_RESULTS = [
    build_result("ada", timestamp=datetime(2025, 3, 1, 11)),
    build_result("ada", "02_autodiff", scores={"q_grad": 2.5}, timestamp=datetime(2025, 3, 9, 18)),
    build_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}),
    build_result("bob", "02_autodiff", timestamp=datetime(2025, 3, 8, 13)),
    build_result("dee", status=Status.MISSING),
    build_result("dee", "02_autodiff", status=Status.REJECTED, reason="not JSON"),
]
"""ada: 01 full, on time; 02 half, 30 h late.  bob: 01 2/5 on time; 02 full 1 h late.
cyd: nothing (roster only).  dee: 01 recorded missing; 02 rejected."""
ROSTER = {"cyd": ("Cyd", "Young")}


def course_rows(late_penalties: dict[tuple[str, str], float] | None = None) -> Rows:
    """The course above, as rows (``late_penalties``: nbgrader's own, per student x assignment)."""
    return memory_rows(
        COURSE, COURSE_RESULTS, duedates=DUE, roster=ROSTER, late_penalties=late_penalties
    )


@pytest.fixture
def course() -> Rows:
    return course_rows()


def _grades(rows: Rows, policy: GradingPolicy) -> dict[tuple[str, str], tuple[float, ...]]:
    frame = assignment_grades(rows, policy)
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


def test_late_penalty_per_day_with_cap(course: Rows) -> None:
    policy = GradingPolicy(late_penalty_per_day=0.25, late_penalty_cap=0.3)
    got = _grades(course, policy)

    assert got[("ada", "01_tensors")] == (0, 0.0, 5.0, False)
    # 30 h late = 2 started days -> 50 % capped at 30 % of the 2.5 earned
    assert got[("ada", "02_autodiff")] == pytest.approx((2, 0.75, 1.75, False))
    assert got[("bob", "02_autodiff")] == (1, 1.25, 3.75, False)
    assert got[("bob", "01_tensors")][:3] == (0, 0.0, 2.0)  # no timestamp: not late


def test_late_penalty_of_max_score_and_never_below_zero(course: Rows) -> None:
    policy = GradingPolicy(late_penalty_per_day=0.5, late_penalty_basis="max_score")
    got = _grades(course, policy)

    # 100 % of 5 from 2.5: the penalty is capped at the 2.5 earned (as nbgrader caps it)
    assert got[("ada", "02_autodiff")][1:3] == (2.5, 0.0)


def test_extension_and_grace(course: Rows) -> None:
    policy = GradingPolicy(
        late_penalty_per_day=0.1, extensions={("ada", "02_autodiff"): 1.5}, grace_minutes=60
    )
    got = _grades(course, policy)

    assert got[("ada", "02_autodiff")][:3] == (0, 0.0, 2.5)  # due +1.5 d covers 30 h
    assert got[("bob", "02_autodiff")][:3] == (0, 0.0, 5.0)  # 1 h late, 60 min grace


def test_without_a_late_policy_nbgrader_penalty_is_kept() -> None:
    course = course_rows(late_penalties={("ada", "01_tensors"): 1.0})  # nbgrader's plug-in

    assert _grades(course, GradingPolicy())[("ada", "01_tensors")][1:3] == (1.0, 4.0)
    # a policy penalty replaces nbgrader's, never adds to it
    replaced = _grades(course, GradingPolicy(late_penalty_per_day=0.1))
    assert replaced[("ada", "01_tensors")][1:3] == (0.0, 5.0)


def test_course_grades_weights_drops_and_letters(course: Rows) -> None:
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


def test_drop_lowest_keeps_never_drop_and_at_least_one(course: Rows) -> None:
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


def test_missing_submissions(course: Rows) -> None:
    frame = missing_submissions(course)

    got = {(r.student, r.assignment): r.recorded for r in frame.itertuples()}
    assert got == {
        ("cyd", "01_tensors"): False,
        ("cyd", "02_autodiff"): False,
        ("dee", "01_tensors"): True,
    }
    assert frame.loc[frame["student"] == "cyd", "last_name"].tolist() == ["Young", "Young"]
    assert frame.loc[frame["student"] == "dee", "duedate"].tolist() == [DUE["01_tensors"]]


def test_summaries(course: Rows) -> None:
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


@pytest.mark.parametrize("rows", [empty_rows(), memory_rows(COURSE)], ids=["blank", "no-students"])
def test_aggregates_of_an_empty_gradebook(rows: Rows) -> None:
    for frame in (
        assignment_grades(rows),
        course_grades(rows),
        missing_submissions(rows),
        assignment_summary(rows),
        question_summary(rows),
        pass_rates(rows),
    ):
        assert frame.empty and len(frame.columns) > 0


def test_late_penalty_points_is_the_one_rule() -> None:
    policy = GradingPolicy(late_penalty_per_day=0.1, late_penalty_cap=0.5)
    assert late_penalty_points(policy, 0, 14.0, 15.0) == 0.0
    assert late_penalty_points(policy, 2, 14.0, 15.0) == pytest.approx(2.8)
    assert late_penalty_points(policy, 9, 14.0, 15.0) == pytest.approx(7.0)  # capped at 50 %
    by_max = GradingPolicy(late_penalty_per_day=0.5, late_penalty_basis="max_score")
    assert late_penalty_points(by_max, 2, 3.0, 15.0) == 3.0  # never more than earned
    assert late_penalty_points(GradingPolicy(), 5, 14.0, 15.0) == 0.0


def test_load_policy_reads_the_grading_table(tmp_path) -> None:
    assert load_policy(tmp_path) == GradingPolicy()
    (tmp_path / "gradetape.toml").write_text(
        'seed = 1\n[grading]\nlate_penalty_per_day = 0.2\nextensions = { ada = { "01_tensors" = 2 } }\n'
    )
    policy = load_policy(tmp_path)
    assert policy.late_penalty_per_day == 0.2 and policy.extensions == {("ada", "01_tensors"): 2.0}
    (tmp_path / "gradetape.toml").write_text("[grading]\nlate_penalty = 1\n")
    with pytest.raises(ValueError, match=r"gradetape.toml: \[grading\]: unknown"):
        load_policy(tmp_path)


def test_the_rows_in_memory_are_what_the_database_gives(db_url: str) -> None:
    """The rows these tests use agree with SQLite's and PostgreSQL's, frame by frame."""
    with Gradebook(db_url) as gb:
        for name, due in DUE.items():
            gb.update_or_create_assignment(name, duedate=due)
        gb.add_student("cyd", first_name="Cyd", last_name="Young")
    record(db_url, COURSE_RESULTS)
    with Gradebook(db_url) as gb:
        gb.find_submission_notebook("tensors", "01_tensors", "ada").late_submission_penalty = 1
        gb.db.commit()
    stored, built = read_rows(db_url), course_rows(late_penalties={("ada", "01_tensors"): 1.0})
    policy = GradingPolicy(late_penalty_per_day=0.1, drop_lowest=1)

    def same(frame: Callable[[Rows], pd.DataFrame]) -> None:
        pd.testing.assert_frame_equal(frame(stored), frame(built), check_dtype=False)

    same(scores_by_question)
    same(scores_by_student)
    same(scores_by_test)
    same(lambda rows: submissions(rows).drop(columns=["graded_at"]))
    same(lambda rows: assignment_grades(rows, policy))
    same(lambda rows: course_grades(rows, policy))
    same(missing_submissions)
    same(question_summary)
    same(pass_rates)
