"""Static checks and review flags on the student's source (trusted side)."""

from autograder.judge.review_flags import review_flags
from autograder.judge.static import run_static_checks
from autograder.load.exercise import StaticCheck

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
    assert fired == {
        "t.py::test_x": "`pairwise` must not use `reduce_sum`. Found `reduce_sum` (`tf.reduce_sum`) "
        "at line 16 of cell `impl`."
    }
    assert run_static_checks([check("pairwise", ["GradientTape"])], {"impl": SOURCE}) == {}


def test_loops_can_be_forbidden():
    assert "a `while` loop" in run_static_checks([check("pairwise", ["while"])], {"impl": SOURCE})["t.py::test_x"]
    # a comprehension is a for loop
    assert "a `for` loop" in run_static_checks([check("Dense.call", ["for"])], {"impl": SOURCE})["t.py::test_x"]


def test_methods_are_told_apart_by_class():
    assert run_static_checks([check("Other.call", ["for"])], {"impl": SOURCE}) == {}


def test_missing_function_is_left_to_the_dynamic_test():
    assert run_static_checks([check("nowhere", ["for"])], {"impl": SOURCE}) == {}


def test_checks_and_flags_share_one_parse_of_each_cell(monkeypatch):
    import ast

    from autograder.judge.source_tree import parse_cells, parse_source

    code = {"impl": SOURCE.replace("%timeit pairwise(1, 2)", ""), "peek": "import sys\nf = sys._getframe(1)\n"}
    rules = [check("pairwise", ["reduce_sum"]), StaticCheck("t.py::test_y", "Dense.call", ("for",), "")]
    alone = run_static_checks(rules, code), review_flags(code)  # each parsing for itself
    parse_source.cache_clear()
    parsed: list[str] = []
    real = ast.parse

    def counting(source, *args, **kwargs):
        parsed.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    trees = parse_cells(code)
    shared = run_static_checks(rules, code, parsed=trees), review_flags(code, parsed=trees)
    assert sorted(parsed) == sorted(code.values())  # each cell once, for both
    assert shared == alone and len(shared[0]) == 2 and "cell `peek` inspects call frames" in shared[1]


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
    assert fired == {
        "t.py::test_x": "`pool2d` must not use `max_pool2d`. Found `max_pool2d` (`tf.nn.max_pool2d`) "
        "at line 5 of cell `impl`."
    }
    assert run_static_checks([check("Block.pool", ["max_pool2d"])], {"impl": HIDDEN})
    assert run_static_checks([check("recursive", ["max_pool2d"])], {"impl": HIDDEN}) == {}


def test_a_local_variable_never_fires_and_a_dotted_entry_matches_attributes_only():
    assert run_static_checks([check("pool2d", ["pool"])], {"impl": HIDDEN}) == {}  # a local variable
    assert run_static_checks([check("pool2d", [".pool"])], {"impl": HIDDEN}) == {}
    # `pool` is also a method of the student's class Block; called on a module it fires
    fired = run_static_checks([check("g", ["pool"])], {"impl": HIDDEN + "\ndef g(x):\n    return tf.nn.pool(x)\n"})
    assert "`pool` (`tf.nn.pool`) at line 25" in fired["t.py::test_x"]
    assert run_static_checks([check("Block.pool", [".max_pool2d"])], {"impl": HIDDEN})


def test_a_solution_that_loads_the_public_digits_is_flagged_for_review():
    lookup = "from sklearn.datasets import load_digits\ndef predict_digits(model, x):\n    d = load_digits()\n"
    flags = review_flags({"predict_impl": lookup})
    assert len(flags) == 1 and flags[0].startswith("cell `predict_impl` loads a public dataset itself")


# --- code the trusted side cannot parse must not dodge a check (issue 12, item 3) ---

import pytest  # noqa: E402

from autograder.judge.review_flags import review_flags as _flags  # noqa: E402
from autograder.judge.static import run_static_checks as _run  # noqa: E402
from autograder.load.exercise import StaticCheck as _Check  # noqa: E402

_CHECK = _Check(test="t.py::a", function="f", forbid=("GradientTape",), message="no tape")


@pytest.mark.parametrize("deep", ["-" * 30_000 + "1", "a" + ".b" * 30_000, "x = " + "1+" * 30_000 + "1"],
                         ids=["unary", "attributes", "sum"])
def test_deep_expression_fails_checks_and_is_flagged(deep):
    code = {"f_impl": "def f(x):\n    return tf.GradientTape()\n", "extra-top-0": deep}
    failures = _run([_CHECK], code)
    assert "too deeply nested" in failures["t.py::a"]
    assert any("too deeply nested" in f for f in _flags(code))


def test_oversized_source_fails_checks():
    code = {"f_impl": "def f(x):\n    return x\n" + "y = 1\n" * 30_000}
    assert "characters" in _run([_CHECK], code)["t.py::a"]
    assert any("too large to scan" in f for f in _flags(code))


def test_honest_code_still_passes():
    assert _run([_CHECK], {"f_impl": "def f(x):\n    return 2 * x\n"}) == {}


# -- dynamic lookups ----------------------------------------------------------------------------
BACKPROP = ["GradientTape", "gradient"]


def backprop(body):
    """A manual backward pass whose body is ``body`` (indented into the function)."""
    return "import tensorflow as tf\n\ndef relu_backward(x, up):\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )


DODGES = {
    "getattr_built": 'T = getattr(tf, "Gradient" + "Tape")\nwith T() as t:\n    pass\nreturn up',
    "getattr_variable": 'n = "GradientTape"\nwith getattr(tf, n)() as t:\n    pass\nreturn up',
    "import_dunder": 'm = __import__("tensorflow")\nreturn up',
    "importlib": 'import importlib\nm = importlib.import_module("tensor" + "flow")\nreturn up',
    "eval": 'return eval("tf.Gradient" + "Tape")',
    "exec": 'exec("y = 1")\nreturn up',
    "compile": 'code = compile("1", "<s>", "eval")\nreturn up',
    "vars": 'return vars(tf)["Gradient" + "Tape"]',
    "vars_value": 'ns = vars(tf)\nreturn ns["x"]',
    "globals_get": 'return globals().get("t" + "f")',
    "dict": 'return tf.__dict__["Gradient" + "Tape"]',
    "builtins": 'return __builtins__',
    "getattribute": 'return object.__getattribute__(tf, "Gradient" + "Tape")',
    "sys_modules": 'import sys\nreturn sys.modules["tensor" + "flow"]',
    "getattr_alias": 'g = getattr\nreturn g(tf, "GradientTape")',
}


def test_every_dynamic_lookup_fails_a_static_check_and_says_why():
    for name, body in DODGES.items():
        fired = run_static_checks([check("relu_backward", BACKPROP)], {"impl": backprop(body)})
        assert "t.py::test_x" in fired, name
        assert "dynamic lookup" in fired["t.py::test_x"] and "line " in fired["t.py::test_x"], name


def test_a_dynamic_lookup_in_a_helper_or_a_global_fails_the_check_too():
    helper = 'import tensorflow as tf\n\ndef _t():\n    return getattr(tf, "Gradient" + "Tape")\n\n' \
             "def relu_backward(x, up):\n    with _t()() as tape:\n        pass\n    return up\n"
    assert "dynamic lookup" in run_static_checks([check("relu_backward", BACKPROP)], {"impl": helper})["t.py::test_x"]
    global_alias = 'import tensorflow as tf\nT = getattr(tf, "Gradient" + "Tape")\n\n' \
                   "def relu_backward(x, up):\n    with T() as tape:\n        pass\n    return up\n"
    fired = run_static_checks([check("relu_backward", BACKPROP)], {"impl": global_alias})
    assert "dynamic lookup" in fired["t.py::test_x"]
    callback = 'def _t():\n    return eval("1")\n\ndef relu_backward(x, up):\n    return list(map(_t, up))\n'
    assert "t.py::test_x" in run_static_checks([check("relu_backward", BACKPROP)], {"impl": callback})


def test_aliases_and_literal_lookups_of_forbidden_names_fire():
    sources = {
        "global_alias": "import tensorflow as tf\nT = tf.GradientTape\n\ndef relu_backward(x, up):\n    return T()\n",
        "from_import": "from tensorflow import GradientTape as T\n\ndef relu_backward(x, up):\n    return T()\n",
        "literal_getattr": 'import tensorflow as tf\n\ndef relu_backward(x, up):\n    return getattr(tf, "GradientTape")()\n',
        "literal_dict": 'import tensorflow as tf\n\ndef relu_backward(x, up):\n    return tf.__dict__["GradientTape"]()\n',
    }
    for name, source in sources.items():
        fired = run_static_checks([check("relu_backward", BACKPROP)], {"impl": source})
        message = fired["t.py::test_x"]
        assert message.startswith("`relu_backward` must not use `GradientTape`. Found `GradientTape` ("), name
        line = {"global_alias": 2, "from_import": 1}.get(name, 4)
        assert message.endswith(f" at line {line} of cell `impl`."), name


def test_honest_code_with_literal_lookups_and_unrelated_globals_passes():
    source = (
        "import numpy as np\nimport tensorflow as tf\nSCALE = [i for i in range(3)]\n\n"
        "def relu_backward(x, up):\n    act = getattr(tf.nn, \"relu\")\n"
        "    return tf.where(x > 0, up, 0.0) * SCALE[0] + 0 * act(x)\n"
    )
    checks = [check("relu_backward", [*BACKPROP, "for"])]
    assert run_static_checks(checks, {"impl": source}) == {}
    assert review_flags({"impl": source}) == []


def test_dynamic_lookups_raise_review_flags_naming_the_line():
    flags = review_flags({"impl": 'import tensorflow as tf\nx = 1\nT = getattr(tf, "Gradient" + "Tape")\n'})
    assert flags == ["cell `impl` line 3: dynamic lookup (`getattr` with a computed name)"]
    for name, body in DODGES.items():
        assert any("dynamic lookup" in f for f in review_flags({"impl": backprop(body)})), name
    # literal names, Keras' model.compile and re.compile are not dynamic lookups
    honest = 'import re\nv = getattr(model, "units")\nmodel.compile(optimizer="adam")\nr = re.compile("a")\n'
    assert review_flags({"impl": honest}) == []


def test_patching_a_module_is_flagged():
    flags = review_flags({"impl": "import tensorflow as tf\nclass Fake:\n    pass\ntf.Tensor = Fake\n"})
    assert flags == ["cell `impl` line 4: patches a module (assigns `tf.Tensor`)"]


def test_review_flags_survive_code_that_does_not_parse():
    assert review_flags({"impl": "def (:\n", "deep": "x = " + "(" * 5000 + ")" * 5000}) == []


# -- uses of the API, never the student's own names (issue 16, item 3) -------------------------
API = ["GradientTape", "gradient", "jvp", "max_pool2d"]


def _fired(source, function="f"):
    return run_static_checks([check(function, API)], {"impl": source}).get("t.py::test_x", "")


def test_own_variables_parameters_functions_and_attributes_never_fire():
    honest = {
        "local": "def f(x):\n    gradient = 2 * x\n    return gradient\n",
        "parameter": "def f(x, gradient=1.0, *jvp):\n    return x * gradient\n",
        "loop and comprehension": "def f(xs):\n    for gradient in xs:\n        pass\n    return [jvp for jvp in xs]\n",
        "own helper": "def gradient(v):\n    return 2 * v\n\ndef f(x):\n    return gradient(x)\n",
        "own global": "gradient = 0.5\n\ndef f(x):\n    return gradient * x\n",
        "own attribute": "class Node:\n    def __init__(self, v):\n        self.gradient = 0.0\n"
                         "    def jvp(self):\n        return self.gradient\n\n"
                         "def f(x):\n    n = Node(x)\n    n.gradient += 1.0\n    return n.jvp()\n",
        "closure": "def f(x):\n    gradient = 2.0\n    def inner():\n        return gradient * x\n    return inner()\n",
    }
    for name, source in honest.items():
        assert _fired(source) == "", name


def test_uses_of_the_api_fire_however_they_are_spelled():
    dishonest = {
        "method": ("def f(x, tape):\n    return tape.gradient(x, x)\n", "`gradient` (`tape.gradient`) at line 2"),
        "local alias of a module": ("import tensorflow as tf\nclass Z:\n    max_pool2d = 0\n\n"
                                    "def f(x):\n    m = tf.nn\n    return m.max_pool2d(x)\n",
                                    "`max_pool2d` (`m.max_pool2d`) at line 7"),
        "attribute filled elsewhere": ("import tensorflow as tf\nclass H:\n    def setup(self):\n"
                                       "        self.tape = tf.GradientTape()\n    def run(self):\n"
                                       "        return self.tape\n\ndef f(x):\n    return H().run()\n",
                                       "`GradientTape` (`tf.GradientTape`) at line 4"),
        "operator of an own class": ("import tensorflow as tf\nclass D:\n    def __mul__(self, o):\n"
                                     "        return tf.GradientTape()\n\ndef f(x):\n    return D() * x\n",
                                     "`GradientTape` (`tf.GradientTape`) at line 4"),
        "import in the function": ("def f(x):\n    from tensorflow import GradientTape as G\n    return G\n",
                                   "`GradientTape` (an import of `GradientTape`) at line 2"),
        "unbound name": ("def f(x):\n    return jvp(x)\n", "`jvp` (a name your code does not define) at line 2"),
    }
    for name, (source, where) in dishonest.items():
        assert where + " of cell `impl`" in _fired(source), (name, _fired(source))


def test_line_numbers_are_the_cells_own_with_ipython_syntax():
    source = "\n\n%matplotlib inline\nimport tensorflow as tf\n\ndef f(x):\n    return tf.GradientTape()\n"
    assert "at line 7 of cell `impl`" in _fired(source)
