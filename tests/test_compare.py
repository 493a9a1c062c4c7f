import numpy as np
import pytest

from autograder.judge.compare import Tolerance, compare_value, judge_test
from autograder.run.job_output import Recorded, TestRecord, Value


def arr(x, dtype=None, kind="tf.Tensor"):
    return Value(kind=kind, array=np.asarray(x, dtype=dtype))


def rec(test, values, points=2.0, message="", outcome="passed"):
    return TestRecord(test, "q1", points, 60.0, False, outcome, message, tuple(values))


def test_equal_floats_within_rtol_pass():
    v = compare_value("x", arr([1.0, 2.0 + 1e-9], "float32"), arr([1.0, 2.0], "float32"), Tolerance())
    assert v.ok


def test_values_outside_tolerance_fail_without_revealing_key():
    key = arr([1.25, 2.5, 3.75], "float32")
    v = compare_value("x", arr([1.25, 2.5, 9.0], "float32"), key, Tolerance(rtol=1e-6))
    assert not v.ok
    assert "1 of 3" in v.message
    assert "3.75" not in v.message


def test_dtype_mismatch_is_named():
    v = compare_value("x", arr([1.0], "float64"), arr([1.0], "float32"), Tolerance())
    assert not v.ok and "float32" in v.message and "float64" in v.message


def test_dtype_ignored_when_asked():
    v = compare_value("x", arr([1.0], "float64"), arr([1.0], "float32"), Tolerance(check_dtype=False))
    assert v.ok


def test_shape_mismatch_does_not_reveal_expected_shape():
    v = compare_value("x", arr(np.zeros((5, 7)), "float32"), arr(np.zeros((7, 5)), "float32"), Tolerance())
    assert not v.ok and "(5, 7)" in v.message and "(7, 5)" not in v.message


def test_broadcast_bug_shape_is_caught():
    key = arr(np.zeros(6), "float64")
    got = arr(np.zeros((6, 6)), "float64")
    assert not compare_value("d", got, key, Tolerance()).ok


def test_the_reported_type_tag_never_decides():
    key = arr([1.0], "float32", kind="tf.Tensor")
    got = arr([1.0], "float32", kind="ndarray")
    assert compare_value("x", got, key, Tolerance()).ok
    # a student object may report any tag: only the grader's own check counts
    faked = Value(kind="tf.Tensor", array=np.asarray([1.0], "float32"), tensor=False)
    v = compare_value("x", faked, Value(kind="tf.Tensor", array=faked.array, tensor=True),
                      Tolerance(tensor=True))
    assert not v.ok and "expected a tf.Tensor" in v.message and "claims" in v.message
    tensor_key = Value(kind="tf.Tensor", array=np.asarray([1.0], "float32"), tensor=True)
    v = compare_value("x", got, tensor_key, Tolerance(tensor=True))
    assert not v.ok and v.message == "`x`: expected a tf.Tensor, received a ndarray"
    genuine = Value(kind="whatever", array=np.asarray([1.0], "float32"), tensor=True)
    assert not compare_value("x", genuine, key, Tolerance(tensor=True)).ok  # key is no tensor
    tensor_key = Value(kind="tf.Tensor", array=np.asarray([1.0], "float32"), tensor=True)
    assert compare_value("x", genuine, tensor_key, Tolerance(tensor=True)).ok
    # symmetric: a student's ndarray matches a known-wrong variant's ndarray
    assert compare_value("x", got, key, Tolerance(tensor=True)).ok


def test_check_type_is_not_a_tolerance_any_more():
    assert Tolerance.from_record({"check_type": True}) == Tolerance()
    assert Tolerance.from_record({"tensor": True}) == Tolerance(tensor=True)


def test_integers_are_exact():
    key = arr([3, 4], "int64")
    assert not compare_value("n", arr([3, 5], "int64"), key, Tolerance(rtol=0.5)).ok


def test_nan_where_key_is_finite_fails():
    v = compare_value("loss", arr([np.nan], "float32"), arr([1.0], "float32"), Tolerance(rtol=1.0))
    assert not v.ok and "NaN" in v.message


def test_nan_matching_key_nan_passes():
    assert compare_value("x", arr([np.nan, 1.0]), arr([np.nan, 1.0]), Tolerance()).ok


def test_strings_and_none():
    assert compare_value("s", Value("str", text="a"), Value("str", text="a"), Tolerance()).ok
    assert not compare_value("s", Value("str", text="b"), Value("str", text="a"), Tolerance()).ok
    assert compare_value("n", Value("None"), Value("None"), Tolerance()).ok
    assert not compare_value("n", arr([1.0]), Value("None"), Tolerance()).ok


def test_missing_and_error_values_fail():
    key = arr([1.0])
    assert not compare_value("x", None, key, Tolerance()).ok
    v = compare_value("x", Value("object", error="TypeError: not numeric"), key, Tolerance())
    assert not v.ok and "not numeric" in v.message


def test_tolerance_from_record_ignores_malformed_entries():
    tol = Tolerance.from_record({"rtol": "lots", "atol": -1, "tensor": 1, "exact": True})
    assert tol == Tolerance(exact=True)
    assert Tolerance.from_record({"rtol": 1e-3}).rtol == 1e-3


def test_judge_uses_key_tolerance_and_points():
    key = rec("t::a", [Recorded("x", arr([1.0]), {"rtol": 1e-3})], points=3)
    student = rec("t::a", [Recorded("x", arr([1.0005]), {"rtol": 10.0})], points=100)
    result = judge_test(key, student)
    assert result.passed and result.points == 3 and result.max_points == 3
    far = rec("t::a", [Recorded("x", arr([1.5]), {"rtol": 10.0})])
    assert judge_test(key, far).points == 0


def test_judge_reports_student_exception_when_value_missing():
    key = rec("t::a", [Recorded("x", arr([1.0]), {})])
    student = rec("t::a", [], outcome="failed", message="ZeroDivisionError: division by zero")
    result = judge_test(key, student)
    assert not result.passed and "ZeroDivisionError" in result.message


def test_judge_test_that_never_ran():
    key = rec("t::a", [Recorded("x", arr([1.0]), {})])
    result = judge_test(key, None, "the job was stopped")
    assert not result.passed and result.message == "the job was stopped"


def test_extra_student_values_cannot_replace_missing_ones():
    key = rec("t::a", [Recorded("x", arr([1.0]), {}), Recorded("y", arr([2.0]), {})])
    student = rec("t::a", [Recorded("x", arr([1.0]), {}), Recorded("z", arr([2.0]), {})])
    assert not judge_test(key, student).passed


def test_first_recording_of_a_name_counts():
    key = rec("t::a", [Recorded("x", arr([1.0]), {})])
    student = rec("t::a", [Recorded("x", arr([5.0]), {}), Recorded("x", arr([1.0]), {})])
    assert not judge_test(key, student).passed


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_values_fail(bad):
    assert not compare_value("x", arr([bad]), arr([1.0]), Tolerance(rtol=1e9)).ok


def test_tensorflow_traced_errors_lose_their_frames():
    from autograder.judge.compare import readable

    msg = ('TypeError: in user code:\n\n    File "/job/in/grader/test_tensors.py", line 88, in f  *\n'
           '        return student.merge(x)\n    File "/tmp/ipykernel/3.py", line 4, in merge\n\n'
           '    TypeError: int() argument must be a string, not NoneType')
    out = readable(msg)
    assert "File" not in out and "/job" not in out and "test_tensors" not in out
    assert out.endswith("int() argument must be a string, not NoneType")


def test_the_comparison_core_imports_no_tensorflow_and_no_file_reader():
    """The pure core: importing it loads only data types and safe parsers, never TF or I/O."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, autograder.judge.compare; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('autograder', 'gradebook', 'tensorflow', 'keras', 'nbformat', 'pandas'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert loaded == {
        "autograder",
        "autograder.judge",
        "autograder.judge.compare",
        "autograder.load",
        "autograder.load.readers",
        "autograder.results",
        "autograder.run",
        "autograder.run.recorded",
    }
