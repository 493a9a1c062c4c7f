"""``out/tests.jsonl``: one report per hidden test and the values it recorded, writer beside parser.

A value crosses as an :class:`EncodedValue`: a string inline, ``None``, a conversion error,
or the name of an ``.npy`` file in ``out/values/`` with its dtype and shape (the trusted
reader checks the file itself against its limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .fields import Malformed, as_object, number, optional, required
from .names import TESTS_FILE


@dataclass(frozen=True)
class EncodedValue:
    """One value as it crosses the boundary.

    Attributes:
        kind: The type the job reported (``"tf.Tensor"``, ``"ndarray"`` ...): text only.
        text: The value, when it was a string.
        file: The ``.npy`` file in ``out/values/`` holding the array.
        dtype: The array's dtype (``np.dtype.str``), with ``file``.
        shape: The array's shape, with ``file``.
        error: Why the value could not be recorded (not numeric, too large ...).
    """

    kind: str
    text: str | None = None
    file: str | None = None
    dtype: str = ""
    shape: tuple[int, ...] = ()
    error: str = ""

    def to_record(self) -> dict[str, Any]:
        """The JSON fields (merged into a :class:`RecordedValue`'s record)."""
        record: dict[str, Any] = {"kind": self.kind}
        if self.error:
            record["error"] = self.error
        elif self.text is not None:
            record["str"] = self.text
        elif self.file is not None:
            record.update(file=self.file, dtype=self.dtype, shape=list(self.shape))
        return record

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> EncodedValue:
        """Parse the fields (raises :class:`Malformed`)."""
        shape = optional(raw, "shape", (list,), [])
        if not all(type(n) is int and n >= 0 for n in shape):
            raise Malformed("'shape' holds something other than non-negative integers")
        return cls(
            kind=optional(raw, "kind", (str,), "?"),
            text=optional(raw, "str", (str,), None),
            file=optional(raw, "file", (str,), None),
            dtype=optional(raw, "dtype", (str,), ""),
            shape=tuple(shape),
            error=optional(raw, "error", (str,), ""),
        )


@dataclass(frozen=True)
class RecordedValue:
    """A value a test recorded (``expect``, ``predictions``) with the grader's tolerance.

    ``tensor`` is the runtime's check that the value was a genuine eager tensor.
    """

    name: str
    value: EncodedValue
    tolerance: Mapping[str, Any] = field(default_factory=dict)
    tensor: bool = False

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        return {
            "name": self.name,
            "tol": dict(self.tolerance),
            **self.value.to_record(),
            "tensor": self.tensor,
        }

    @classmethod
    def from_record(cls, raw: Any) -> RecordedValue:
        """Parse the record (raises :class:`Malformed`)."""
        rec = as_object(raw, "a recorded value")
        return cls(
            name=optional(rec, "name", (str,), ""),
            value=EncodedValue.from_record(rec),
            tolerance=optional(rec, "tol", (dict,), {}),
            tensor=optional(rec, "tensor", (bool,), False),
        )


@dataclass(frozen=True)
class TestReport:
    """What one hidden test reported: its markers, pytest's outcome and its values."""

    __test__ = False  # not a pytest test class
    FILE: ClassVar[str] = TESTS_FILE
    test: str
    question: str = ""
    points: float = 0.0
    timeout: float = 0.0
    gpu: bool = False
    outcome: str = ""
    message: str = ""
    values: tuple[RecordedValue, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        return {
            "test": self.test,
            "question": self.question,
            "points": self.points,
            "timeout": self.timeout,
            "gpu": self.gpu,
            "outcome": self.outcome,
            "message": self.message,
            "values": [v.to_record() for v in self.values],
        }

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> TestReport:
        """Parse the record (raises :class:`Malformed`); ``null`` numbers read as 0."""
        test = required(raw, "test", (str,))
        if not test:
            raise Malformed("'test' is empty")
        return cls(
            test=test,
            question=optional(raw, "question", (str,), ""),
            points=number(raw, "points", 0.0),
            timeout=number(raw, "timeout", 0.0),
            gpu=optional(raw, "gpu", (bool,), False),
            outcome=optional(raw, "outcome", (str,), ""),
            message=optional(raw, "message", (str,), ""),
            values=tuple(
                RecordedValue.from_record(v) for v in optional(raw, "values", (list,), [])
            ),
        )


@dataclass(frozen=True)
class CollectError:
    """A grader file pytest could not collect (a broken grader; instructors only)."""

    FILE: ClassVar[str] = TESTS_FILE
    nodeid: str
    message: str = ""

    def to_record(self) -> dict[str, Any]:
        """The JSON record."""
        return {"collect_error": self.nodeid, "message": self.message}

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> CollectError:
        """Parse the record (raises :class:`Malformed`)."""
        return cls(required(raw, "collect_error", (str,)), optional(raw, "message", (str,), ""))


def parse_test_line(raw: Any) -> TestReport | CollectError:
    """Parse one line of ``tests.jsonl``.

    Raises:
        Malformed: If it is neither a test report nor a collection error.
    """
    rec = as_object(raw, "the record")
    if "collect_error" in rec:
        return CollectError.from_record(rec)
    return TestReport.from_record(rec)
