"""Static checks and review flags on the student's source (trusted side)."""

from autograder.exercise import StaticCheck
from autograder.static import review_flags, run_static_checks

SOURCE = '''
import tensorflow as tf

class Dense:
    def call(self, x):
        return [v * 2 for v in x]

class Other:
    def call(self, x):
        return x

def pairwise(a, b):
    i = 0
    while i < 3:
        i += 1
    return tf.reduce_sum(a - b)

%timeit pairwise(1, 2)
'''


def check(function, forbid):
    return StaticCheck("t.py::test_x", function, tuple(forbid), "")


def test_forbidden_names_and_attributes():
    fired = run_static_checks([check("pairwise", ["reduce_sum"])], {"impl": SOURCE})
    assert fired == {"t.py::test_x": "`pairwise` must not use reduce_sum"}
    assert run_static_checks([check("pairwise", ["GradientTape"])], {"impl": SOURCE}) == {}


def test_loops_can_be_forbidden():
    assert "a `while` loop" in run_static_checks([check("pairwise", ["while"])], {"impl": SOURCE})["t.py::test_x"]
    # a comprehension is a for loop
    assert "a `for` loop" in run_static_checks([check("Dense.call", ["for"])], {"impl": SOURCE})["t.py::test_x"]


def test_methods_are_told_apart_by_class():
    assert run_static_checks([check("Other.call", ["for"])], {"impl": SOURCE}) == {}


def test_missing_function_is_left_to_the_dynamic_test():
    assert run_static_checks([check("nowhere", ["for"])], {"impl": SOURCE}) == {}


def test_review_flags_name_the_cell():
    flags = review_flags({"impl": "import sys\nf = sys._getframe(1)\n", "ok": "x = 1\n"})
    assert flags == ["cell `impl` inspects call frames"]
