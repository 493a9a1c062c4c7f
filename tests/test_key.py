"""The answer key refuses a reference run it cannot trust."""

from pathlib import Path

import numpy as np
import pytest

from autograder.exercise import Exercise
from autograder.heldout import labels_for
from autograder.key import GraderError, _check_reference
from autograder.settings import Limits
from autograder.values import JobOutput, Recorded, TestRecord, Value

HERE = Path(".")


def record(*values: Recorded) -> JobOutput:
    test = TestRecord("test_g.py::test_a", "q", 1.0, 60.0, False, "passed", "", values)
    return JobOutput(tests={test.test: test})


def predictions(y_pred: np.ndarray, min_accuracy: float) -> Recorded:
    return Recorded("pred", Value("ndarray", array=y_pred), {"labels": "digits", "min_accuracy": min_accuracy})


def test_a_reference_below_its_own_threshold_breaks_the_key():
    ex = Exercise("x", "x.ipynb", HERE, HERE, HERE, Limits(), datasets=("digits",))
    labels = labels_for(["digits"], 1)["digits"]
    almost = labels.copy()
    almost[:30] = (almost[:30] + 1) % 10  # 420 of 450 right: 0.933
    _check_reference(ex, record(predictions(almost, 0.9)), "", 1)
    with pytest.raises(GraderError, match="accuracy 0.933 on 450 held-out examples is below the required 0.95"):
        _check_reference(ex, record(predictions(almost, 0.95)), "", 1)


def test_a_reference_value_that_cannot_be_recorded_breaks_the_key():
    ex = Exercise("x", "x.ipynb", HERE, HERE, HERE, Limits())
    ragged = Recorded("weights", Value("list", error="ValueError: inhomogeneous shape"), {})
    with pytest.raises(GraderError, match="`weights` cannot be recorded"):
        _check_reference(ex, record(ragged), "", 1)
    _check_reference(ex, record(Recorded("w", Value("ndarray", array=np.ones(3)), {})), "", 1)


def test_a_reference_value_that_is_not_the_tensor_it_requires_breaks_the_key():
    ex = Exercise("x", "x.ipynb", HERE, HERE, HERE, Limits())
    value = Value("ndarray", array=np.zeros(2))
    with pytest.raises(GraderError, match="recorded with tensor=True but the reference's value is a ndarray"):
        _check_reference(ex, record(Recorded("x", value, {"tensor": True})), "", 1)
    _check_reference(ex, record(Recorded("x", Value("tf.Tensor", array=np.zeros(2), tensor=True), {"tensor": True})), "", 1)
