"""Why tests failed, for the report: a known mistake, not attempted, or unknown.

Pure functions over the per-test frame of :func:`gradebook.frames.scores_by_test`. A failed
test is

* **not attempted** when the student's code raised ``NotImplementedError``: the solution
  cell is still the release's (``raise NotImplementedError()``), or the student left that
  part for later. That is missing work, not a misconception, and is counted apart;
* **a known mistake** when grading matched the failure to a known-wrong variant (the
  ``misconception`` column names it);
* **unknown** otherwise: a failure no variant explains (a prompt to write one).
"""

from __future__ import annotations

import re

import pandas as pd

NOT_ATTEMPTED = "not attempted"
UNKNOWN = "unknown"
KNOWN = "known mistake"

#: The message :func:`autograder.judge.compare.judge_test` gives when the student's code raised
#: ``NotImplementedError`` before recording a value (the release's placeholder body).
_NOT_IMPLEMENTED = re.compile(r"^\s*your code raised NotImplementedError\b")

MISCONCEPTION_COLUMNS = ["assignment", "question", "test_id", "misconception", "students"]
QUESTION_COLUMNS = [
    "assignment",
    "question",
    "graded",
    "passed",
    "pass_rate",
    "known_mistake",
    "unknown",
    "not_attempted",
]


def failure_cause(passed: bool, message: str, misconception: str) -> str:
    """Why one test failed: :data:`KNOWN`, :data:`NOT_ATTEMPTED` or :data:`UNKNOWN` ("" if passed).

    Args:
        passed: The test's verdict.
        message: The student-safe message stored with the verdict.
        misconception: The known-wrong variant grading matched ("" if none).
    """
    if passed:
        return ""
    if misconception:
        return KNOWN
    if _NOT_IMPLEMENTED.match(message or ""):
        return NOT_ATTEMPTED
    return UNKNOWN


def with_causes(tests: pd.DataFrame) -> pd.DataFrame:
    """``tests`` with a ``cause`` column (see :func:`failure_cause`)."""
    out = tests.copy()
    out["misconception"] = out["misconception"].fillna("").astype(str)
    out["message"] = out["message"].fillna("").astype(str)
    out["cause"] = [
        failure_cause(bool(p), m, c)
        for p, m, c in zip(out["passed"], out["message"], out["misconception"], strict=True)
    ]
    return out


def misconception_table(tests: pd.DataFrame) -> pd.DataFrame:
    """Per test and known mistake (or ``unknown``): how many students' failures it explains.

    Not-attempted failures are left out (see :func:`question_outcomes`). Most students first.
    """
    if tests.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MISCONCEPTION_COLUMNS})
    failed = with_causes(tests)
    failed = failed[failed["cause"].isin([KNOWN, UNKNOWN])]
    if failed.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MISCONCEPTION_COLUMNS})
    failed = failed.assign(misconception=failed["misconception"].replace("", UNKNOWN))
    table = failed.groupby(
        ["assignment", "question", "test_id", "misconception"], as_index=False
    ).agg(students=("student", "nunique"))
    table = table.sort_values(
        ["students", "assignment", "test_id", "misconception"],
        ascending=[False, True, True, True],
    )
    return table[MISCONCEPTION_COLUMNS].reset_index(drop=True)


def question_outcomes(tests: pd.DataFrame) -> pd.DataFrame:
    """Per question: graded submissions, how many passed every test, and why the rest failed.

    A submission counts once per question under its first cause in the order not attempted,
    known mistake, unknown (a question left blank is not attempted, whatever else failed).

    Returns:
        Columns ``QUESTION_COLUMNS``; ``pass_rate`` is 0-100, lowest first.
    """
    if tests.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUESTION_COLUMNS})
    rows = with_causes(tests)
    key = ["assignment", "question", "student", "notebook"]
    rank = {NOT_ATTEMPTED: 3, KNOWN: 2, UNKNOWN: 1, "": 0}
    per = rows.assign(rank=rows["cause"].map(rank)).groupby(key, as_index=False)["rank"].max()
    names = {3: "not_attempted", 2: "known_mistake", 1: "unknown", 0: "passed"}
    per["outcome"] = per["rank"].map(names)
    counts = (
        per.pivot_table(
            index=["assignment", "question"],
            columns="outcome",
            values="student",
            aggfunc="count",
            fill_value=0,
        )
        .reindex(columns=list(names.values()), fill_value=0)
        .reset_index()
    )
    counts["graded"] = counts[list(names.values())].sum(axis=1)
    counts["pass_rate"] = (100.0 * counts["passed"] / counts["graded"]).round(1)
    counts = counts.sort_values(["pass_rate", "assignment", "question"], kind="stable")
    out = counts[QUESTION_COLUMNS].reset_index(drop=True)
    out.columns.name = None
    return out
