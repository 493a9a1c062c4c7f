"""What ``validate`` reports: each question's self-check outcome, and the report's text.

:mod:`autograder.review.validate` runs the notebook; this module holds the report it
returns and the wording of each question's outcome (the assertion's hint, the cells that
still raise ``NotImplementedError``, what grading does with an edited cell).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from autograder.run.job_output import CellRecord


class Status(StrEnum):
    """The outcome of one question's visible self-check."""

    PASSED = "passed"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # some of its solution cells still raise NotImplementedError
    NOT_ATTEMPTED = "not attempted"  # every one of its solution cells does
    NOT_RUN = "not run"  # the run stopped (time limit, crash) before the self-check


_MARKS = {
    Status.PASSED: "✓",
    Status.FAILED: "✗",
    Status.INCOMPLETE: "·",
    Status.NOT_ATTEMPTED: "·",
    Status.NOT_RUN: "?",
}


@dataclass(frozen=True)
class QuestionCheck:
    """One question (an nbgrader grade cell) and what its visible self-check said.

    Attributes:
        question: The question cell's ``grade_id``.
        points: Its points in the gradebook (from the hidden tests, not the self-check).
        status: The self-check's outcome.
        detail: The hint (the assertion's message) or why it did not pass or run.
        solution_cells: ``grade_id`` of the solution cells this self-check exercises.
        blank_cells: Those of them that still raise ``NotImplementedError``.
    """

    question: str
    points: float
    status: Status
    detail: str = ""
    solution_cells: tuple[str, ...] = ()
    blank_cells: tuple[str, ...] = ()

    @property
    def mark(self) -> str:
        """A one-character symbol of the status."""
        return _MARKS[self.status]


@dataclass(frozen=True)
class ValidationReport:
    """What ``validate`` found out about one notebook.

    Attributes:
        path: The notebook checked.
        exercise: The exercise it belongs to (``None`` when that could not be told).
        rejected: Why the notebook cannot be graded at all (``None`` when it can).
        questions: One entry per question, in notebook order.
        notices: What grading would change or ignore (edited locked cells, missing cells).
        cell_errors: Errors of code cells that are not self-checks (e.g. a syntax error).
        run_note: Why the run stopped early ("" when it did not).
        ran: Whether the notebook was executed (not when nothing was attempted).
        duration_s: Wall time of the whole check.
        isolation: The sandbox the cells ran in ("" when nothing ran).
        alone: Whether it was checked on its own (no course release to rebuild it on).
    """

    path: Path
    exercise: str | None
    rejected: str | None = None
    questions: tuple[QuestionCheck, ...] = ()
    notices: tuple[str, ...] = ()
    cell_errors: tuple[str, ...] = ()
    run_note: str = ""
    ran: bool = False
    duration_s: float = 0.0
    isolation: str = ""
    alone: bool = False

    @property
    def readable(self) -> bool:
        """Whether the notebook could be read and matched to an exercise."""
        return self.rejected is None

    @property
    def exit_code(self) -> int:
        """0 when the notebook could be read (whatever the self-checks said), else 2."""
        return 0 if self.readable else 2

    @property
    def all_passed(self) -> bool:
        """Whether every visible self-check passed."""
        return self.readable and all(q.status is Status.PASSED for q in self.questions)

    @property
    def total_points(self) -> float:
        """Points of every question that would be graded."""
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> QuestionCheck:
        """The check of one question.

        Raises:
            KeyError: If the exercise has no such question.
        """
        for q in self.questions:
            if q.question == question_id:
                return q
        raise KeyError(question_id)

    def format(self) -> str:
        """A readable multi-line report for a terminal."""
        head = f"{self.path.name} — exercise {self.exercise}" if self.exercise else self.path.name
        if self.rejected is not None:
            return f"{head}\n✗ cannot be graded: {self.rejected}"
        lines = [head]
        if self.alone:
            lines.append("(checked on its own: its cells and nbgrader metadata as in this file)")
        width = max((len(q.question) for q in self.questions), default=0)
        for q in self.questions:
            if q.status is Status.PASSED:
                text = q.status.value
            elif q.status is Status.FAILED:
                text = q.detail or q.status.value
            else:
                text = f"{q.status.value} ({q.detail})" if q.detail else q.status.value
            lines.append(f"{q.mark} {q.question:<{width}}   {_indent(text, width + 5)}")
        passed = sum(q.status is Status.PASSED for q in self.questions)
        lines.append(
            f"Self-checks: {passed} of {len(self.questions)} passed."
            + (f" {self.run_note}" if self.run_note else "")
        )
        count = len(self.questions)
        lines.append(
            f"Would be graded: {count} question{'s' if count != 1 else ''}, "
            f"{_num(self.total_points)} points, by hidden tests on other, random inputs\n"
            "(the self-checks are hints, not the grade)."
        )
        notes = [*self.notices, *self.cell_errors]
        if notes:
            lines.append("Notes:")
            lines.extend(f"  - {_indent(n, 4)}" for n in notes)
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:g}"


def _indent(text: str, width: int) -> str:
    return text.strip("\n").replace("\n", "\n" + " " * width)


def edit_notices(edits: dict[str, str], points: dict[str, float]) -> list[str]:
    """What grading does with the cells a student edited (checked alone: not restored here)."""
    return [
        f"{'self-check' if gid in points else 'locked cell'} `{gid}` was {what}; grading "
        "restores the original, so your edit will not count"
        for gid, what in edits.items()
    ]


def not_attempted(
    q: str, pts: float, mine: tuple[str, ...], empty: tuple[str, ...]
) -> QuestionCheck:
    """Question ``q``, whose solution cells ``empty`` (of ``mine``) still raise."""
    n = len(empty)
    if n == len(mine):
        status = Status.NOT_ATTEMPTED
        detail = f"{n} solution cell{'s' if n != 1 else ''} still raise{'s' if n == 1 else ''} "
        detail += "NotImplementedError"
    else:
        status = Status.INCOMPLETE
        names = ", ".join(f"`{g}`" for g in empty)
        detail = f"{names} still raise{'s' if n == 1 else ''} NotImplementedError"
    return QuestionCheck(q, pts, status, detail, mine, empty)


def self_check_hint(
    rec: CellRecord, solution_recs: list[CellRecord | None], mine: tuple[str, ...]
) -> str:
    """The self-check's message; an assertion's text alone, other errors with their type."""
    broken = [
        f"cell `{gid}` raised {first_line(r.error)}"
        for gid, r in zip(mine, solution_recs, strict=True)
        if r is not None and not r.ok
    ]
    error = rec.error
    if error.startswith("AssertionError: "):
        text = error.removeprefix("AssertionError: ")
    elif error == "AssertionError":
        text = "an assertion failed (no message)"
    else:
        text = error
    return "\n".join([*broken, text]) if broken else text


def first_line(error: str) -> str:
    """The first line of a cell's error, at most 300 characters ("an error" when empty)."""
    first = error.strip().splitlines()[0] if error.strip() else "an error"
    return first[:300]
