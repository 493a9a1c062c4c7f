import numpy as np

from autograder.judge.misconceptions import VariantRun, annotate, explain, feedback
from autograder.load.exercise import Variant
from autograder.results import TestResult
from autograder.run.job_output import Recorded, TestRecord, Value


def rec(values, message=""):
    return TestRecord("t.py::a", "q", 2.0, 60.0, False, "failed" if message else "passed", message,
                      tuple(Recorded(n, Value("tf.Tensor", array=np.asarray(v, dtype=np.float32)), {"rtol": 1e-6})
                            for n, v in values.items()))


KEY = rec({"x": [1.0, 2.0, 3.0]})
AXIS = Variant("softmax_wrong_axis", {}, ("t.py::a",), description="Normalises over the batch axis.",
               hint="Reduce over the class axis (axis=-1).", topic="Softmax (软最大)")
RAISES = Variant("tape_not_persistent", {}, ("t.py::a",), description="Reuses a non-persistent tape.")
RUNS = [
    VariantRun(AXIS, {"t.py::a": rec({"x": [3.0, 2.0, 1.0]})}),
    VariantRun(RAISES, {"t.py::a": rec({}, "RuntimeError: A non-persistent GradientTape can only be used once")}),
    VariantRun(Variant("harmless", {}, ("t.py::a",)), {"t.py::a": rec({"x": [1.0, 2.0, 3.0]})}),
]


def test_student_reproducing_a_variant_gets_its_text():
    assert explain(KEY, rec({"x": [3.0, 2.0, 1.0 + 1e-9]}), RUNS) is AXIS


def test_matching_exception_type_names_the_variant():
    student = rec({}, "RuntimeError: something else entirely")
    assert explain(KEY, student, RUNS) is RAISES


def test_unknown_mistake_gets_no_variant():
    assert explain(KEY, rec({"x": [0.0, 0.0, 0.0]}), RUNS) is None
    assert explain(KEY, rec({}, "ValueError: bad"), RUNS) is None
    assert explain(KEY, None, RUNS) is None


def test_a_variant_that_passes_the_test_never_explains_it():
    # "harmless" records the key's own values; a correct student must not be told it.
    assert explain(KEY, rec({"x": [1.0, 2.0, 3.0]}), RUNS[2:]) is None


def test_annotate_adds_text_to_failed_tests_only_and_hides_the_key():
    tests = [TestResult("t.py::a", "q", 2, 0, False, "`x`: 2 of 3 elements do not match the reference")]
    out = annotate(tests, {"t.py::a": KEY}, {"t.py::a": rec({"x": [3.0, 2.0, 1.0]})}, RUNS)
    assert out[0].misconception == "softmax_wrong_axis"
    assert "Likely mistake: Normalises over the batch axis." in out[0].message
    assert "软最大" in out[0].message and "1.0, 2.0" not in out[0].message
    passed = [TestResult("t.py::a", "q", 2, 2, True, "")]
    assert annotate(passed, {"t.py::a": KEY}, {"t.py::a": KEY}, RUNS)[0].misconception == ""


def test_feedback_text():
    assert feedback(AXIS) == ("Likely mistake: Normalises over the batch axis. Hint: Reduce over the "
                              "class axis (axis=-1). Lecture topic: Softmax (软最大)")


def test_only_variants_aimed_at_the_test_explain_it():
    stray = Variant("aimed_elsewhere", {}, ("t.py::b",), description="x")
    runs = [VariantRun(stray, {"t.py::a": rec({"x": [3.0, 2.0, 1.0]})})]
    assert explain(KEY, rec({"x": [3.0, 2.0, 1.0]}), runs) is None


def test_static_check_failures_are_explained_by_variants_tripping_the_same_check():
    tape = Variant("uses_tape", {}, ("t.py::a",), description="Uses GradientTape.")
    runs = [*RUNS, VariantRun(tape, {"t.py::a": KEY}, frozenset({"t.py::a"}))]
    tests = [TestResult("t.py::a", "q", 2, 0, False, "must not use GradientTape")]
    out = annotate(tests, {"t.py::a": KEY}, {"t.py::a": KEY}, runs, frozenset({"t.py::a"}))
    assert out[0].misconception == "uses_tape"


def test_the_variant_explaining_most_failures_wins_ties():
    b = TestRecord("t.py::b", "q", 1.0, 60.0, False, "passed", "", (Recorded("ok", Value("bool", array=np.asarray(True)), {}),))
    b_wrong = TestRecord("t.py::b", "q", 1.0, 60.0, False, "passed", "", (Recorded("ok", Value("bool", array=np.asarray(False)), {}),))
    first = Variant("a_first_by_name", {}, ("t.py::b",), description="only the bool")
    second = Variant("z_explains_both", {}, ("t.py::a", "t.py::b"), description="both")
    runs = [VariantRun(first, {"t.py::b": b_wrong}),
            VariantRun(second, {"t.py::a": rec({"x": [3.0, 2.0, 1.0]}), "t.py::b": b_wrong})]
    tests = [TestResult("t.py::a", "q", 2, 0, False, "m"), TestResult("t.py::b", "q", 1, 0, False, "m")]
    student = {"t.py::a": rec({"x": [3.0, 2.0, 1.0]}), "t.py::b": b_wrong}
    out = annotate(tests, {"t.py::a": KEY, "t.py::b": b}, student, runs)
    assert [t.misconception for t in out] == ["z_explains_both", "z_explains_both"]


def test_variant_runs_skip_only_heavy_tests_they_are_not_aimed_at():
    from autograder.judge.answer_key import AnswerKey
    from autograder.judge.misconceptions import variant_tests

    def rec(name, gpu):
        return TestRecord(name, "q", 1.0, 60.0, gpu, "passed", "", ())

    tests = {t.test: t for t in (rec("t.py::cheap", False), rec("t.py::train", True), rec("t.py::fit", True))}
    key = AnswerKey("ex", "d", tests, {"q": 3.0})
    aimed_at_cheap = Variant("a", {}, loses=("t.py::cheap",))
    assert variant_tests(aimed_at_cheap, key) == ["t.py::cheap"]
    aimed_at_train = Variant("b", {}, loses=("t.py::cheap",), also_loses=("t.py::train",))
    assert variant_tests(aimed_at_train, key) == ["t.py::cheap", "t.py::train"]
    everything = Variant("c", {}, loses=("t.py::train", "t.py::fit"))
    assert variant_tests(everything, key) is None
