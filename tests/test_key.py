"""The answer key refuses a reference run it cannot trust."""

import sys
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


def test_the_key_cache_digest_changes_with_the_interpreter_and_numerical_libraries(monkeypatch, tmp_path):
    import autograder.key as key_module
    from autograder.fingerprint import environment_fingerprint

    (tmp_path / "test_g.py").write_text("def test_a():\n    pass\n")
    ex = Exercise("x", "x.ipynb", tmp_path, tmp_path / "s.ipynb", tmp_path / "r.ipynb", Limits())
    here = key_module._digest(ex, ["x = 1"], 7)
    assert key_module._digest(ex, ["x = 1"], 7) == here
    fingerprint = environment_fingerprint()
    assert "tensorflow" in fingerprint and ".".join(map(str, sys.version_info[:2])) in fingerprint
    for other in (fingerprint.replace("cpython-3.1", "cpython-3.9"), fingerprint.replace("numpy=", "numpy=0")):
        assert other != fingerprint
        monkeypatch.setattr(key_module, "environment_fingerprint", lambda other=other: other)
        assert key_module._digest(ex, ["x = 1"], 7) != here
