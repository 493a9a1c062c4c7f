"""What a job recorded, as typed values: the trusted reader's output, with no I/O.

:mod:`autograder.run.job_output` fills these from a job's ``out/`` folder (defensively);
the comparison core (:mod:`autograder.judge.compare`) judges them. Keeping the types here
keeps the core free of file access: this module imports NumPy and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Value:
    """One recorded value: a numeric array, a string, ``None``, or a conversion error.

    ``kind`` (``"tf.Tensor"``, ``"ndarray"`` ...) is the type the job reported: text for
    messages only, never for scoring. ``tensor`` is the grader's own check that the value
    was a genuine eager tensor (``expect(..., tensor=True)`` requires it).
    """

    kind: str
    array: np.ndarray | None = None
    text: str | None = None
    error: str = ""
    tensor: bool = False


@dataclass(frozen=True)
class Recorded:
    """A value recorded by ``expect`` with the tolerance the grader asked for."""

    name: str
    value: Value
    tolerance: dict[str, Any]


@dataclass(frozen=True)
class TestRecord:
    """What one hidden test reported from inside the sandbox."""

    __test__ = False  # not a pytest test class

    test: str
    question: str
    points: float
    timeout: float
    gpu: bool
    outcome: str
    message: str
    values: tuple[Recorded, ...]


@dataclass(frozen=True)
class CellRecord:
    """The outcome of one notebook cell."""

    index: int
    cell_id: str
    ok: bool
    error: str


@dataclass
class JobOutput:
    """Everything read back from one job."""

    tests: dict[str, TestRecord] = field(default_factory=dict)
    cells: list[CellRecord] = field(default_factory=list)
    started_cells: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)
    runtime_error: str = ""
    devices: list[str] = field(default_factory=list)
    tf32: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the runtime reached the end of the grader."""
        return "done" in self.events
