"""Failed tests by cause: not attempted is counted apart from misconceptions."""

from __future__ import annotations

import pandas as pd

from gradebook.failures import (
    KNOWN,
    NOT_ATTEMPTED,
    UNKNOWN,
    failure_cause,
    misconception_table,
    question_outcomes,
)

NIE = "your code raised NotImplementedError: "


def _tests(rows: list[tuple[str, str, bool, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("01_tensors", "tensors", student, q, f"t.py::test_{q}", 1.0, float(ok), ok, msg, mis)
            for student, q, ok, msg, mis in rows
        ],
        columns=["assignment", "notebook", "student", "question", "test_id", "max_points",
                 "points", "passed", "message", "misconception"],
    )  # fmt: skip


def test_failure_cause() -> None:
    assert failure_cause(True, NIE, "") == ""
    assert failure_cause(False, NIE, "") == NOT_ATTEMPTED
    assert failure_cause(False, NIE, "wrong_axis") == KNOWN
    assert failure_cause(False, "your code raised ValueError: NotImplementedError", "") == UNKNOWN
    assert failure_cause(False, "`x`: wrong values", "") == UNKNOWN


def test_not_attempted_is_no_misconception() -> None:
    tests = _tests([
        ("ada", "q1", True, "", ""),
        ("bob", "q1", False, NIE, ""),
        ("cyd", "q1", False, NIE, ""),
        ("dan", "q1", False, "`x`: wrong values", "wrong_axis"),
        ("eve", "q1", False, "`x`: wrong values", ""),
    ])  # fmt: skip
    table = misconception_table(tests)
    assert sorted(table["misconception"]) == ["unknown", "wrong_axis"]
    assert table["students"].sum() == 2  # bob and cyd left out

    row = question_outcomes(tests).iloc[0]
    assert (row["graded"], row["passed"], row["pass_rate"]) == (5, 1, 20.0)
    assert (row["known_mistake"], row["unknown"], row["not_attempted"]) == (1, 1, 2)


def test_empty_frames() -> None:
    empty = _tests([])
    assert misconception_table(empty).empty and question_outcomes(empty).empty
