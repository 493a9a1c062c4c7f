"""Typed results of grading: what the trusted side hands to the gradebook and reports.

These are plain, frozen dataclasses with no behaviour beyond simple totals, so that the
gradebook package can depend on them without importing the grading engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """How far grading of one submission got."""

    GRADED = "graded"  # the notebook ran (possibly with errors) and the grader scored it
    REJECTED = "rejected"  # the file could not be graded (malformed, wrong name, ...): zero
    MISSING = "missing"  # no submission for this student and assignment: zero


@dataclass(frozen=True)
class TestResult:
    """The verdict on one hidden test.

    Attributes:
        test_id: Stable id of the test, ``"<file>::<function>"``.
        question: The nbgrader ``grade_id`` of the question this test belongs to.
        max_points: Points the test is worth (taken from the reference run).
        points: Points awarded (0 or ``max_points``).
        passed: Whether every value the test recorded matched the key.
        message: Student-readable explanation; never contains a hidden expected value.
        misconception: Name of the known-wrong variant whose values the student's matched.
    """

    __test__ = False  # not a pytest test class

    test_id: str
    question: str
    max_points: float
    points: float
    passed: bool
    message: str = ""
    misconception: str = ""


@dataclass(frozen=True)
class QuestionResult:
    """The score of one graded question (one nbgrader grade cell)."""

    question: str
    score: float
    max_score: float


@dataclass(frozen=True)
class SubmissionResult:
    """Everything the trusted side decided about one student's notebook.

    Attributes:
        student: nbgrader student id.
        assignment: nbgrader assignment name (``"01_tensors"``).
        notebook: Notebook name without ``.ipynb`` (nbgrader's notebook id).
        status: See :class:`Status`.
        reason: Why the submission was rejected or what went wrong, readable by a student.
        questions: One entry per question of the assignment, zero-filled when rejected.
        tests: One entry per hidden test.
        notices: Readable notes about the run (restored cells, cell errors, time limits).
        flags: Review flags for an instructor (never change the score).
        isolation: ``"bwrap"`` or ``"subprocess"`` (weak isolation), or ``"none"``.
        duration_s: Wall time spent grading this submission.
        timestamp: Submission time, when known.
    """

    student: str
    assignment: str
    notebook: str
    status: Status
    reason: str = ""
    questions: tuple[QuestionResult, ...] = ()
    tests: tuple[TestResult, ...] = ()
    notices: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    isolation: str = "none"
    duration_s: float = 0.0
    timestamp: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Total points awarded."""
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return sum(q.max_score for q in self.questions)
