"""Decide a mutant's fate from its job output and the answer key (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from autograder.judge.answer_key import AnswerKey
from autograder.judge.compare import judge_test
from autograder.review.audit.generate import Mutant
from autograder.run.job_output import JobOutput, TestRecord, Value


class Fate(StrEnum):
    """What the grader did with a mutant."""

    KILLED = "killed"  # lost at least one point
    TRIVIAL = "trivially killed"  # does not compile, or its cell raised when run
    SURVIVED = "survived"  # full marks, and some recorded value differs from the key's
    CANDIDATE = "equivalent candidate"  # full marks and every recorded value is the key's
    REVIEWED = "equivalent (reviewed)"  # listed in equivalent_mutants.toml
    ERROR = "error"  # the audit could not run it (a platform problem); not counted


@dataclass(frozen=True)
class Outcome:
    """One mutant's result.

    Attributes:
        mutant: The mutant.
        fate: See :class:`Fate`.
        lost: Test ids that lost points (static checks included).
        points: Points lost in total.
        note: Why (the cell error, the reviewed reason, the platform problem).
        seconds: Wall time to run its job, or to read it back when cached.
    """

    mutant: Mutant
    fate: Fate
    lost: tuple[str, ...] = ()
    points: float = 0.0
    note: str = ""
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        """Whether the grader took at least one point (trivially or not)."""
        return self.fate in (Fate.KILLED, Fate.TRIVIAL)


def compiles(mutant: Mutant) -> str:
    """``""`` when the mutated cell compiles, else the error line."""
    try:
        compile(mutant.source, mutant.cell, "exec")
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def same_value(a: Value | None, b: Value | None) -> bool:
    """Whether two recorded values are identical (dtype, shape and every element)."""
    if a is None or b is None:
        return a is b
    if (a.kind, a.text, a.error, a.tensor) != (b.kind, b.text, b.error, b.tensor):
        return False
    if a.array is None or b.array is None:
        return a.array is None and b.array is None
    if a.array.dtype != b.array.dtype or a.array.shape != b.array.shape:
        return False
    return bool(np.array_equal(a.array, b.array, equal_nan=a.array.dtype.kind in "fc"))


def same_record(key: TestRecord, got: TestRecord | None) -> bool:
    """Whether a test recorded exactly the key's values, by name."""
    if got is None or len(got.values) != len(key.values):
        return False
    mine = {r.name: r.value for r in got.values}
    return all(same_value(mine.get(r.name), r.value) for r in key.values)


def judge(
    mutant: Mutant,
    key: AnswerKey,
    output: JobOutput,
    static: Mapping[str, str],
    labels: Mapping[str, np.ndarray] | None = None,
    seconds: float = 0.0,
    tests: Collection[str] | None = None,
) -> Outcome:
    """Score a mutant's run exactly as a submission is scored, then classify it.

    Args:
        mutant: The mutant that ran.
        key: The answer key.
        output: The mutant's job output (grading and fresh jobs merged).
        static: Test id -> message of the static checks that fired on its code.
        labels: Held-out labels accuracy tests are scored with.
        seconds: Wall time of its job.
        tests: Judge only these tests (the job ran only them); default every test.
    """
    judged = {t: r for t, r in key.tests.items() if tests is None or t in tests}
    lost: list[str] = []
    points = 0.0
    for test_id, want in judged.items():
        passed = (
            test_id not in static and judge_test(want, output.tests.get(test_id), "", labels).passed
        )
        if not passed:
            lost.append(test_id)
            points += want.points
    raised = next((c.error for c in output.cells if c.cell_id == mutant.cell and not c.ok), "")
    if lost and raised:
        return Outcome(mutant, Fate.TRIVIAL, tuple(lost), points, raised, seconds)
    if lost:
        return Outcome(mutant, Fate.KILLED, tuple(lost), points, "", seconds)
    if all(same_record(want, output.tests.get(t)) for t, want in judged.items()):
        return Outcome(mutant, Fate.CANDIDATE, (), 0.0, "", seconds)
    return Outcome(mutant, Fate.SURVIVED, (), 0.0, "", seconds)
