"""Course-level operations the CLI delegates to: grade an assignment into the gradebook."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .exercise import Exercise, load_exercise
from .grading import find_submissions, grade_all
from .key import AnswerKey, build_key
from .results import SubmissionResult
from .sandbox import Sandbox, close_sandbox, make_sandbox
from .settings import CourseSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchReport:
    """The outcome of grading one assignment for a class."""

    exercise: Exercise
    key: AnswerKey
    results: list[SubmissionResult]
    isolation: str


def grade_assignment(
    settings: CourseSettings,
    assignment: str,
    sandbox: Sandbox | None = None,
    on_result: Callable[[SubmissionResult], None] | None = None,
    record: bool = True,
) -> BatchReport:
    """Grade every submission of ``assignment`` and record the scores in the gradebook.

    Raises:
        FileNotFoundError: If the exercise does not exist.
        autograder.key.GraderError: If the reference solution fails its own grader.
    """
    from gradebook import ensure_assignment
    from gradebook import record as record_results

    exercise = load_exercise(settings, assignment)
    workers = settings.worker_count
    box = sandbox or make_sandbox(settings.isolation, settings.warm, workers, exercise.limits)
    try:
        key = build_key(exercise, settings.seed, box, settings.cache)
        submissions = find_submissions(settings.submitted_dir, assignment)
        results = grade_all(exercise, key, submissions, box, settings.seed, workers, on_result)
    finally:
        if sandbox is None:
            close_sandbox(box)
    if record:
        ensure_assignment(settings.database, assignment, exercise.notebook_id, key.questions)
        record_results(settings.database, results)
    return BatchReport(exercise, key, results, box.name)


def submitted_for(root: Path) -> Path:
    """The default ``submitted`` folder of a course root."""
    return root / "submitted"
