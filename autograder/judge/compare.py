"""The pure comparison core: (student value, key value, tolerance) -> verdict.

No I/O and no state. Tolerances always come from the reference run; a student run only
contributes values. Messages tell a student what is wrong without revealing an expected
value (dtypes and type tags are shown; shapes and numbers of the key are not).

The type tag a job reports (``Value.kind``) is certified by the student's own process, so
it only ever appears in messages. What is judged here is the dtype and shape of the array
that crossed, and, where a grader asks for a ``tf.Tensor`` (``tensor=True``), the grader's
own type-identity check recorded beside the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.load.readers import DEFAULT_LIMITS, error_line
from autograder.results import TestResult
from autograder.run.recorded import Recorded, TestRecord, Value


@dataclass(frozen=True)
class Tolerance:
    """How closely a value must match the key.

    Attributes:
        rtol: Relative tolerance for floating-point values.
        atol: Absolute tolerance for floating-point values.
        check_dtype: Whether the dtype must equal the key's.
        tensor: Whether the value must be a genuine ``tf.Tensor`` exactly when the key's is
            (the grader's own check, recorded as ``Value.tensor``; the reported type tag
            never decides).
        exact: Require exact equality (default: exact for bool, integer and string values).
        labels: For predictions of a held-out dataset: the dataset whose kept labels score
            them (the value is then judged by accuracy, not compared with the key's).
        min_accuracy: The accuracy those predictions must reach.
    """

    rtol: float = 1e-6
    atol: float = 0.0
    check_dtype: bool = True
    tensor: bool = False
    exact: bool | None = None
    labels: str = ""
    min_accuracy: float = 1.0

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> Tolerance:
        """Build a tolerance from a reference record, ignoring malformed entries."""
        tol = cls()
        values: dict[str, Any] = {}
        for key in ("rtol", "atol"):
            if isinstance(raw.get(key), (int, float)) and raw[key] >= 0:
                values[key] = float(raw[key])
        for key in ("check_dtype", "tensor", "exact"):
            if isinstance(raw.get(key), bool):
                values[key] = raw[key]
        if isinstance(raw.get("labels"), str) and raw["labels"]:
            values["labels"] = raw["labels"]
            accuracy = raw.get("min_accuracy")
            if isinstance(accuracy, (int, float)) and 0 <= accuracy <= 1:
                values["min_accuracy"] = float(accuracy)
        return cls(**{**tol.__dict__, **values})


@dataclass(frozen=True)
class Verdict:
    """Whether one value matched, and a readable reason when it did not."""

    ok: bool
    message: str = ""


def _dtype_name(array: np.ndarray) -> str:
    return array.dtype.name


def compare_value(name: str, student: Value | None, key: Value, tol: Tolerance) -> Verdict:
    """Compare one recorded value with its key.

    Args:
        name: The value's name in the grader (shown to the student).
        student: The student's value, or ``None`` when the student run did not record it.
        key: The reference run's value.
        tol: The tolerance the reference run recorded.
    """
    label = f"`{name}`"
    if student is None:
        return Verdict(False, f"{label}: no value was produced")
    if student.error:
        return Verdict(False, f"{label}: the result could not be read ({student.error})")
    if tol.tensor and student.tensor != key.tensor:
        # Symmetric, so a student's value can also be matched against a known-wrong
        # variant's value that is not a tensor (see :mod:`autograder.judge.misconceptions`).
        if student.tensor:
            return Verdict(False, f"{label}: expected a {key.kind}, received a tf.Tensor")
        got = "an object that only claims to be one" if student.kind == "tf.Tensor" else None
        return Verdict(
            False, f"{label}: expected a tf.Tensor, received {got or 'a ' + student.kind}"
        )
    if key.text is not None or student.text is not None:
        if key.text == student.text:
            return Verdict(True)
        return Verdict(False, f"{label}: the text differs from the reference")
    if key.array is None:
        if student.array is None:
            return Verdict(True)
        return Verdict(False, f"{label}: expected None, received a {student.kind}")
    if student.array is None:
        return Verdict(False, f"{label}: expected a value, received {student.kind}")
    return compare_arrays(label, student.array, key.array, tol)


def compare_arrays(label: str, got: np.ndarray, want: np.ndarray, tol: Tolerance) -> Verdict:
    """Compare two numeric arrays: dtype, shape, then values within tolerance."""
    if tol.check_dtype and got.dtype != want.dtype:
        return Verdict(
            False, f"{label}: expected dtype {_dtype_name(want)}, received {_dtype_name(got)}"
        )
    if got.shape != want.shape:
        return Verdict(
            False, f"{label}: the result has shape {got.shape}, which is wrong for this input"
        )
    exact = tol.exact if tol.exact is not None else want.dtype.kind in "biu"
    if exact or got.dtype.kind == "b" or want.dtype.kind == "b":
        bad = int(np.count_nonzero(got != want))
        tolerance = "exactly"
    else:
        g = got.astype(np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else np.float64)
        w = want.astype(g.dtype)
        if np.isfinite(w).all() and not np.isfinite(g).all():
            return Verdict(False, f"{label}: the result contains NaN or infinity")
        close = np.isclose(g, w, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
        bad = int(close.size - np.count_nonzero(close))
        tolerance = f"within rtol={tol.rtol:g}, atol={tol.atol:g}"
    if bad == 0:
        return Verdict(True)
    return Verdict(
        False, f"{label}: {bad} of {want.size} elements do not match the reference {tolerance}"
    )


def accuracy_verdict(
    label: str, student: Value | None, labels: np.ndarray | None, min_accuracy: float
) -> Verdict:
    """Score predicted labels against labels only the trusted side holds.

    The message gives the accuracy reached and the threshold (both public), never a label.
    """
    if labels is None:
        return Verdict(False, f"{label}: the held-out labels are missing (grader error)")
    if student is None:
        return Verdict(False, f"{label}: no predictions were produced")
    if student.error:
        return Verdict(False, f"{label}: the predictions could not be read ({student.error})")
    got = student.array
    if got is None or got.dtype.kind not in "biuf":
        kind = student.kind
        return Verdict(False, f"{label}: expected an array of class labels, received {kind}")
    got = got.reshape(-1) if got.ndim == 2 and 1 in got.shape else got
    if got.shape != labels.shape:
        return Verdict(
            False,
            f"{label}: expected one predicted label per input ({labels.size}), received an "
            f"array of shape {got.shape}",
        )
    if got.dtype.kind == "f" and not np.array_equal(got, np.round(got)):
        return Verdict(False, f"{label}: predictions must be class labels (whole numbers)")
    accuracy = float(np.mean(got.astype(np.int64) == labels))
    if accuracy >= min_accuracy:
        return Verdict(True)
    return Verdict(
        False,
        f"{label}: accuracy {accuracy:.3f} on {labels.size} held-out examples is below the "
        f"required {min_accuracy:g}",
    )


def readable(message: str, limit: int = DEFAULT_LIMITS.message_chars) -> str:
    """A student-safe version of an exception message: one line, short, no stack frames.

    TensorFlow's errors from traced code embed "File ..., line ..." frames (of the grader
    too), and a hidden test's message can hold text the student's code chose; see
    :func:`~.readers.error_line`.
    """
    return error_line(message, limit)


def judge_test(
    key: TestRecord,
    student: TestRecord | None,
    job_note: str = "",
    labels: Mapping[str, np.ndarray] | None = None,
) -> TestResult:
    """Decide one test: every value the key recorded must be present and match.

    Args:
        key: The reference run's record (points, question, values, tolerances).
        student: The student run's record, or ``None`` if the test never ran.
        job_note: Why the job ended early, used when the test never ran.
        labels: Held-out dataset name -> the labels predictions are scored against.
    """

    def result(passed: bool, message: str) -> TestResult:
        return TestResult(
            test_id=key.test,
            question=key.question,
            max_points=key.points,
            points=key.points if passed else 0.0,
            passed=passed,
            message=message,
        )

    if student is None:
        return result(False, job_note or "this test did not run")
    got: dict[str, Recorded] = {}
    for rec in student.values:
        got.setdefault(rec.name, rec)
    for want in key.values:
        have = got.get(want.name)
        if have is None:
            if student.message:
                return result(False, f"your code raised {readable(student.message)}")
            return result(False, f"`{want.name}`: no value was produced")
        tol = Tolerance.from_record(want.tolerance)
        if tol.labels:
            verdict = accuracy_verdict(
                f"`{want.name}`", have.value, (labels or {}).get(tol.labels), tol.min_accuracy
            )
        else:
            verdict = compare_value(want.name, have.value, want.value, tol)
        if not verdict.ok:
            return result(False, verdict.message)
    if not key.values:
        return result(False, "the grader recorded no value for this test (grader error)")
    return result(True, "")
