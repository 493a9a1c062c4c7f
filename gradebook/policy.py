"""The grading policy: late penalties, extensions, drops, weights, letters.

:class:`GradingPolicy` holds the course's rules (the ``[grading]`` table of
``gradetape.toml``, read by :func:`load_policy`) and THE late-penalty rule
(:func:`days_late`, :func:`late_penalty_points`), which nbgrader's late-penalty plug-in, every
export, report and feedback page use. :mod:`gradebook.grades` applies the policy to the
gradebook's frames:

1. An assignment's raw score is nbgrader's (manual over auto score, plus extra credit).
2. Late: the submission time (nbgrader's ``SubmittedAssignment.timestamp``) is compared
   with the due date (``Assignment.duedate``) plus the student's extension and the grace
   period; every started day late costs ``late_penalty_per_day`` (a fraction), capped at
   ``late_penalty_cap``. With ``late_penalty_per_day == 0`` the late penalty nbgrader
   recorded itself (its ``LateSubmissionPlugin``) is kept instead, never both.
3. Missing work (nothing submitted, or recorded as missing) scores zero.
4. The lowest ``drop_lowest`` assignment percentages are dropped (never those in
   ``never_drop``, never all of them), the rest averaged with ``weights``.
5. The letter is the first of ``cutoffs`` whose minimum percentage is reached.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

DEFAULT_CUTOFFS: tuple[tuple[str, float], ...] = (
    ("A", 93.0),
    ("A-", 90.0),
    ("B+", 87.0),
    ("B", 83.0),
    ("B-", 80.0),
    ("C+", 77.0),
    ("C", 73.0),
    ("C-", 70.0),
    ("D+", 67.0),
    ("D", 60.0),
    ("F", 0.0),
)
"""Letter, minimum percentage; highest first (a common US scale)."""

_EPS = 1e-9


@dataclass(frozen=True)
class GradingPolicy:
    """How assignment scores become a course grade.

    Attributes:
        late_penalty_per_day: Fraction lost per started day late (``0.1`` = 10 %/day).
        late_penalty_cap: Largest total fraction a late penalty may take (``1.0`` = all).
        late_penalty_basis: ``"score"``: the fraction is of the points earned;
            ``"max_score"``: of the points available. The score never drops below 0.
        grace_minutes: Lateness up to this long is not late at all.
        extensions: Extra days per ``(student, assignment)``; fractions allowed.
        drop_lowest: How many of a student's lowest assignment percentages to drop.
        never_drop: Assignments that are never dropped (exams, projects).
        weights: Weight per assignment; assignments not listed weigh ``default_weight``.
            Weights are relative: they are normalised over the assignments that count.
        default_weight: Weight of an assignment not in ``weights``.
        cutoffs: ``(letter, minimum percent)`` pairs, highest first; the last minimum
            must be 0 so that every percentage gets a letter.
    """

    late_penalty_per_day: float = 0.0
    late_penalty_cap: float = 1.0
    late_penalty_basis: Literal["score", "max_score"] = "score"
    grace_minutes: float = 0.0
    extensions: Mapping[tuple[str, str], float] = field(default_factory=dict)
    drop_lowest: int = 0
    never_drop: frozenset[str] = frozenset()
    weights: Mapping[str, float] = field(default_factory=dict)
    default_weight: float = 1.0
    cutoffs: tuple[tuple[str, float], ...] = DEFAULT_CUTOFFS

    def __post_init__(self) -> None:
        """Reject settings that cannot mean anything."""
        if self.late_penalty_per_day < 0 or not 0 <= self.late_penalty_cap <= 1:
            raise ValueError("late_penalty_per_day must be >= 0 and late_penalty_cap in [0, 1]")
        if self.late_penalty_basis not in ("score", "max_score"):
            raise ValueError(f"unknown late_penalty_basis {self.late_penalty_basis!r}")
        if self.grace_minutes < 0 or self.drop_lowest < 0:
            raise ValueError("grace_minutes and drop_lowest must be >= 0")
        if any(days < 0 for days in self.extensions.values()):
            raise ValueError("extensions must be >= 0 days")
        if self.default_weight < 0 or any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must be >= 0")
        minimums = [minimum for _, minimum in self.cutoffs]
        if not minimums or minimums != sorted(minimums, reverse=True) or minimums[-1] != 0:
            raise ValueError("cutoffs must be sorted highest first and end with a minimum of 0")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> GradingPolicy:
        """Build a policy from a TOML-like mapping (e.g. a ``[grading]`` table).

        ``extensions`` is ``{student: {assignment: days}}``, ``cutoffs`` is
        ``{letter: minimum}`` (any order), ``never_drop`` a list; other keys are the
        attributes' names.

        Args:
            config: The settings.

        Returns:
            The policy.

        Raises:
            ValueError: An unknown key or an invalid value.
        """
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown grading policy setting(s): {sorted(unknown)}")
        kwargs: dict[str, Any] = dict(config)
        if "extensions" in kwargs:
            kwargs["extensions"] = {
                (str(student), str(assignment)): float(days)
                for student, per in kwargs["extensions"].items()
                for assignment, days in per.items()
            }
        if "cutoffs" in kwargs and isinstance(kwargs["cutoffs"], Mapping):
            pairs = ((str(k), float(v)) for k, v in kwargs["cutoffs"].items())
            kwargs["cutoffs"] = tuple(sorted(pairs, key=lambda p: -p[1]))
        if "never_drop" in kwargs:
            kwargs["never_drop"] = frozenset(kwargs["never_drop"])
        if "weights" in kwargs:
            kwargs["weights"] = {str(k): float(v) for k, v in kwargs["weights"].items()}
        return cls(**kwargs)

    def letter(self, percent: float) -> str:
        """Return the letter grade of a percentage (0-100).

        Args:
            percent: The course percentage.

        Returns:
            The first letter of ``cutoffs`` whose minimum ``percent`` reaches.
        """
        for letter, minimum in self.cutoffs:
            if percent + _EPS >= minimum:
                return letter
        return self.cutoffs[-1][0]

    def weight(self, assignment: str) -> float:
        """Return the (relative) weight of ``assignment``."""
        return float(self.weights.get(assignment, self.default_weight))


def days_late(
    timestamp: pd.Timestamp | None,
    duedate: pd.Timestamp | None,
    *,
    extension_days: float = 0.0,
    grace_minutes: float = 0.0,
) -> int:
    """Return how many started days a submission is late (0 if on time or undated).

    Args:
        timestamp: Submission time (naive UTC, as nbgrader stores it), or None.
        duedate: Due date (naive UTC), or None for no due date.
        extension_days: Extra days granted to this student for this assignment.
        grace_minutes: Lateness up to this long is forgiven.

    Returns:
        ``ceil(lateness / 1 day)`` after extension and grace; 0 when not late.
    """
    if timestamp is None or duedate is None or pd.isna(timestamp) or pd.isna(duedate):
        return 0
    deadline = pd.Timestamp(duedate) + pd.Timedelta(days=extension_days)
    late = pd.Timestamp(timestamp) - deadline
    if late <= pd.Timedelta(minutes=grace_minutes):
        return 0
    return math.ceil(late / pd.Timedelta(days=1) - _EPS)


def late_penalty_points(
    policy: GradingPolicy, days: int, raw_score: float, max_score: float
) -> float:
    """Return the points a submission ``days`` started days late loses under ``policy``.

    THE late-penalty rule: nbgrader's ``late_submission_penalty`` (written through
    :class:`autograder.integrations.nbgrader_late.GradeTapeLatePenalty`), every export,
    table, report and feedback page use this number. ``min(days * per_day, cap)`` of the
    basis, never more than the points earned (as nbgrader caps it), never below 0.

    Args:
        policy: The grading policy.
        days: Started days late (:func:`days_late`).
        raw_score: Points earned before the penalty.
        max_score: Points available.

    Returns:
        The penalty in points; 0 when on time or without a per-day penalty.
    """
    if days <= 0 or policy.late_penalty_per_day <= 0:
        return 0.0
    fraction = min(days * policy.late_penalty_per_day, policy.late_penalty_cap)
    basis = raw_score if policy.late_penalty_basis == "score" else max_score
    return float(min(max(fraction * basis, 0.0), max(raw_score, 0.0)))


def late_penalty(
    policy: GradingPolicy,
    student: str,
    assignment: str,
    *,
    raw_score: float,
    max_score: float,
    timestamp: Any,
    duedate: Any,
) -> float:
    """Return one submission's late penalty: :func:`days_late` then :func:`late_penalty_points`.

    Args:
        policy: The grading policy (its extensions and grace period apply).
        student: nbgrader student id.
        assignment: nbgrader assignment name.
        raw_score: Points earned before the penalty.
        max_score: Points available.
        timestamp: Submission time (naive UTC) or None.
        duedate: Due date (naive UTC) or None.

    Returns:
        The penalty in points.
    """
    days = days_late(
        None if timestamp is None else pd.Timestamp(timestamp),
        None if duedate is None else pd.Timestamp(duedate),
        extension_days=float(policy.extensions.get((student, assignment), 0.0)),
        grace_minutes=policy.grace_minutes,
    )
    return late_penalty_points(policy, days, raw_score, max_score)


POLICY_FILE = "gradetape.toml"


def load_policy(root: str | os.PathLike[str]) -> GradingPolicy:
    """Return the course's policy: the ``[grading]`` table of ``<root>/gradetape.toml``.

    Args:
        root: The course root.

    Returns:
        The policy; the default (no late penalty) without a file or table.

    Raises:
        ValueError: The table holds an unknown key or an invalid value.
    """
    path = Path(root) / POLICY_FILE
    if not path.exists():
        return GradingPolicy()
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("grading", {})
    try:
        return GradingPolicy.from_mapping(table) if table else GradingPolicy()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: [grading]: {exc}; fix the table (see gradebook/policy.py)"
        ) from exc
