"""Course grades: the :class:`~gradebook.policy.GradingPolicy` applied to the gradebook.

Pure pandas over the :class:`~gradebook.rows.Rows` read once by
:func:`~gradebook.rows.read_rows`: per student and assignment
(:func:`assignment_grades`),
per student (:func:`course_grades`), and the work never handed in
(:func:`missing_submissions`). The rules themselves are in :mod:`gradebook.policy`.
"""

from __future__ import annotations

import pandas as pd

from gradebook.frames import scores_by_student
from gradebook.policy import GradingPolicy, days_late, late_penalty_points
from gradebook.rows import Rows

ASSIGNMENT_GRADE_COLUMNS = [
    "student",
    "assignment",
    "max_score",
    "raw_score",
    "timestamp",
    "duedate",
    "extension_days",
    "days_late",
    "late_penalty",
    "score",
    "percent",
    "weight",
    "missing",
    "dropped",
]
COURSE_GRADE_COLUMNS = [
    "student",
    "first_name",
    "last_name",
    "percent",
    "letter",
    "dropped",
    "missing",
    "late",
]
MISSING_COLUMNS = [
    "student",
    "first_name",
    "last_name",
    "email",
    "assignment",
    "duedate",
    "recorded",
]


def assignment_grades(rows: Rows, policy: GradingPolicy | None = None) -> pd.DataFrame:
    """Return one row per student x assignment with the policy applied.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        policy: The grading policy (default: no late policy, no drops, equal weights).

    Returns:
        Columns ``ASSIGNMENT_GRADE_COLUMNS``: ``raw_score`` before and ``score`` after the
        late penalty, ``percent`` of ``max_score`` (0-100), ``dropped`` True for the
        assignments the policy drops for that student.
    """
    policy = policy or GradingPolicy()
    scores = scores_by_student(rows)
    if scores.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ASSIGNMENT_GRADE_COLUMNS})
    stamps = rows.submitted.groupby(["student", "assignment"], as_index=False)["timestamp"].max()
    out = scores.merge(stamps, on=["student", "assignment"], how="left").merge(
        rows.assignments[["assignment", "duedate"]], on="assignment", how="left"
    )
    for column in ("timestamp", "duedate"):
        out[column] = pd.to_datetime(out[column])
    out["extension_days"] = [
        float(policy.extensions.get((s, a), 0.0))
        for s, a in zip(out["student"], out["assignment"], strict=True)
    ]
    out["days_late"] = [
        0 if missing else days_late(ts, due, extension_days=ext, grace_minutes=policy.grace_minutes)
        for ts, due, ext, missing in zip(
            out["timestamp"], out["duedate"], out["extension_days"], out["missing"], strict=True
        )
    ]
    if policy.late_penalty_per_day > 0:
        out["late_penalty"] = [
            late_penalty_points(policy, int(days), float(raw), float(top))
            for days, raw, top in zip(
                out["days_late"], out["raw_score"], out["max_score"], strict=True
            )
        ]
        out["late_penalty"] = out["late_penalty"].astype(float)
    # otherwise: keep the penalty nbgrader recorded (already in scores_by_student)
    out["score"] = (out["raw_score"] - out["late_penalty"]).clip(lower=0.0)
    out.loc[out["missing"], "score"] = 0.0
    max_score = out["max_score"].where(out["max_score"] > 0)
    out["percent"] = (100.0 * out["score"] / max_score).fillna(0.0)
    out["weight"] = out["assignment"].map(policy.weight).astype(float)
    out["dropped"] = False
    if policy.drop_lowest:
        for _, group in out.groupby("student"):
            droppable = group[~group["assignment"].isin(policy.never_drop)]
            droppable = droppable[droppable["weight"] > 0]
            n = min(policy.drop_lowest, len(group) - 1, len(droppable))
            if n > 0:
                # lowest percentage first; among equals, the heavier one (helps most)
                order = droppable.sort_values(
                    ["percent", "weight", "assignment"], ascending=[True, False, True]
                )
                out.loc[order.index[:n], "dropped"] = True
    return (
        out[ASSIGNMENT_GRADE_COLUMNS].sort_values(["student", "assignment"]).reset_index(drop=True)
    )


def course_grades(rows: Rows, policy: GradingPolicy | None = None) -> pd.DataFrame:
    """Return one row per student: weighted course percentage and letter.

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).
        policy: The grading policy (default: :class:`GradingPolicy`).

    Returns:
        Columns ``COURSE_GRADE_COLUMNS``: ``percent`` (0-100, weighted over the assignments
        not dropped), ``letter``, and ``dropped`` / ``missing`` / ``late`` as sorted lists
        of assignment names. Students of nbgrader's roster who submitted nothing get 0.
    """
    policy = policy or GradingPolicy()
    grades = assignment_grades(rows, policy)
    students = rows.students
    if grades.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COURSE_GRADE_COLUMNS})
    counted = grades[~grades["dropped"]]
    weighted = counted.assign(part=counted["percent"] * counted["weight"])
    sums = weighted.groupby("student")[["part", "weight"]].sum()
    percent = (sums["part"] / sums["weight"].where(sums["weight"] > 0)).fillna(0.0)

    def listed(mask: pd.Series) -> pd.Series:
        picked = grades[mask].groupby("student")["assignment"].agg(sorted)
        return picked.reindex(percent.index).map(lambda v: v if isinstance(v, list) else [])

    out = pd.DataFrame({"percent": percent.round(4)})
    out["letter"] = out["percent"].map(policy.letter)
    out["dropped"] = listed(grades["dropped"])
    out["missing"] = listed(grades["missing"])
    out["late"] = listed(grades["days_late"] > 0)
    out = out.reset_index().merge(students, on="student", how="left")
    return out[COURSE_GRADE_COLUMNS].sort_values("student").reset_index(drop=True)


def missing_submissions(rows: Rows) -> pd.DataFrame:
    """Return every student x assignment with nothing submitted (each counts as zero).

    Args:
        rows: The gradebook, read once (:func:`~gradebook.rows.read_rows`).

    Returns:
        Columns ``MISSING_COLUMNS``; ``recorded`` is True when GradeTape recorded the work
        as missing (rather than nbgrader simply having no submission).
    """
    scores = scores_by_student(rows)
    gone = scores.loc[scores["missing"], ["student", "assignment"]]
    recorded = rows.statuses.loc[rows.statuses["status"] == "missing", ["student", "assignment"]]
    recorded = recorded.drop_duplicates().assign(recorded=True)
    out = (
        gone.merge(rows.students, on="student", how="left")
        .merge(rows.assignments, on="assignment", how="left")
        .merge(recorded, on=["student", "assignment"], how="left")
    )
    out["recorded"] = out["recorded"].astype("boolean").fillna(False).astype(bool)
    out["duedate"] = pd.to_datetime(out["duedate"])
    return out[MISSING_COLUMNS].sort_values(["assignment", "student"]).reset_index(drop=True)
