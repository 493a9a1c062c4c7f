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


HIDDEN = '''
import tensorflow as tf

def _helper(x):
    return tf.nn.max_pool2d(x, 2, 2, "VALID")

def _indirect(x):
    return _helper(x)

class Block:
    def pool(self, x):
        return self._inner(x)

    def _inner(self, x):
        return tf.nn.max_pool2d(x, 2, 2, "VALID")

def pool2d(x):
    pool = 2          # a local variable that shares a forbidden name
    return _indirect(x) if pool else x

def recursive(x):
    return recursive(x - 1) if x else 0
'''


def test_a_forbidden_call_hidden_in_helpers_is_found():
    fired = run_static_checks([check("pool2d", ["max_pool2d"])], {"impl": HIDDEN})
    assert fired == {"t.py::test_x": "`pool2d` must not use max_pool2d"}
    assert run_static_checks([check("Block.pool", ["max_pool2d"])], {"impl": HIDDEN})
    assert run_static_checks([check("recursive", ["max_pool2d"])], {"impl": HIDDEN}) == {}


def test_a_dotted_entry_matches_attributes_only():
    assert run_static_checks([check("pool2d", ["pool"])], {"impl": HIDDEN})  # the local variable
    assert run_static_checks([check("pool2d", [".pool"])], {"impl": HIDDEN}) == {}
    assert run_static_checks([check("Block.pool", [".max_pool2d"])], {"impl": HIDDEN})


def test_a_solution_that_loads_the_public_digits_is_flagged_for_review():
    lookup = "from sklearn.datasets import load_digits\ndef predict_digits(model, x):\n    d = load_digits()\n"
    flags = review_flags({"predict_impl": lookup})
    assert len(flags) == 1 and flags[0].startswith("cell `predict_impl` loads a public dataset itself")
