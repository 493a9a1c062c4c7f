"""Static rules judge uses of the API, never a student's own names (issue 16, item 3).

Generated from every ``[[static]]`` rule of every exercise, on the reference solution's own
cells: (a) a local variable, a parameter-like loop target and a helper function of the
student's, each named after a forbidden identifier, inside the checked function keep the
rule passing; (b) the same function really using the API (an attribute access, an import,
a call in a helper) fails the rule with a message naming the identifier and the line.
"""

import ast
import keyword
from pathlib import Path

import pytest

from autograder.judge.static import LOOPS, run_static_checks
from autograder.load.exercise import exercise_names, load_exercise
from autograder.load.release import solution_sources
from autograder.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = load_settings(ROOT)


def _rules():
    for name in exercise_names(SETTINGS):
        ex = load_exercise(SETTINGS, name)
        for index, check in enumerate(ex.static_checks):
            yield pytest.param(ex, check, id=f"{name}/{index}-{check.function}")


RULES = list(_rules())


def _identifiers(check):
    """The forbidden entries that are identifiers a student could also choose as names."""
    names = [n.lstrip(".") for n in check.forbid if n not in LOOPS]
    return [n for n in names if n.isidentifier() and not keyword.iskeyword(n)]


def _function(tree, qualified):
    owner, _, name = qualified.rpartition(".")
    for node in ast.walk(tree):
        if owner and isinstance(node, ast.ClassDef) and node.name == owner:
            return next((f for f in node.body if getattr(f, "name", None) == name), None)
        if not owner and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _cell_of(sources, qualified):
    """(cell id, source, the function's first statement after its docstring)."""
    for cell, source in sources.items():
        func = _function(ast.parse(source), qualified)
        if func is not None:
            body = func.body
            first = body[1] if len(body) > 1 and isinstance(getattr(body[0], "value", None), ast.Constant) else body[0]
            return cell, source, first
    raise AssertionError(f"no solution cell defines {qualified}: a rule on a function students do not write")


def _insert(source, stmt, lines):
    """``source`` with ``lines`` inserted before ``stmt`` at its indentation; the first
    inserted line's number."""
    text = source.splitlines()
    at = stmt.lineno - 1
    pad = " " * stmt.col_offset
    text[at:at] = [pad + line for line in lines]
    return "\n".join(text) + "\n", at + 1


def _run(check, sources):
    return run_static_checks([check], sources)


@pytest.mark.parametrize(("ex", "check"), RULES)
def test_the_reference_passes_its_rules(ex, check):
    assert _run(check, solution_sources(ex)) == {}


@pytest.mark.parametrize(("ex", "check"), RULES)
def test_own_names_like_a_forbidden_identifier_keep_the_rule_passing(ex, check):
    sources = solution_sources(ex)
    cell, source, first = _cell_of(sources, check.function)
    for name in _identifiers(check):
        shapes = {
            "local variable": [f"{name} = 1.0", f"{name} = {name} * 1.0"],
            "loop target": [f"_own = [{name} for {name} in (1.0,)]"],
            "with/except target": [f"try:\n{' ' * first.col_offset}    {name} = 1.0",
                                   f"except ValueError as {name}:\n{' ' * first.col_offset}    pass"],
            "own helper": [f"def {name}(value):", "    return value", f"_own = {name}(1.0)"],
            "own lambda parameter": [f"_own = (lambda {name}: {name})(1.0)"],
        }
        for shape, lines in shapes.items():
            if shape == "loop target" and "for" in check.forbid:
                continue
            changed, _ = _insert(source, first, lines)
            compile(changed, cell, "exec")  # still valid Python
            fired = _run(check, {**sources, cell: changed})
            assert fired == {}, f"{shape} `{name}`: {fired}"
        # a module-level helper of the student's named like it: its name is not a use, its body is
        helper = f"\n\ndef {name}(value):\n    return value\n"
        changed, _ = _insert(source + helper, first, [f"_own = {name}(1.0)"])
        assert _run(check, {**sources, cell: changed}) == {}, f"module-level helper `{name}`"


@pytest.mark.parametrize(("ex", "check"), RULES)
def test_real_uses_of_the_api_fail_naming_identifier_and_line(ex, check):
    sources = solution_sources(ex)
    cell, source, first = _cell_of(sources, check.function)
    for name in _identifiers(check):
        uses = {
            "attribute of a module": [f"_api = tf.{name}"],
            "method call": [f"_api = tf.constant(1.0).{name}(0)"],
            "from-import": [f"from tensorflow import {name} as _api"],
        }
        if not check.forbid.count(f".{name}"):
            uses["unqualified use of an imported name"] = [f"_api = {name}"]
        for shape, lines in uses.items():
            changed, line = _insert(source, first, lines)
            message = _run(check, {**sources, cell: changed}).get(check.test, "")
            assert f"`{name}`" in message, f"{shape} `{name}` did not fire: {message!r}"
            assert f"at line {line} of cell `{cell}`" in message, f"{shape}: {message!r}"
        # hidden in a helper the function calls, defined in another cell
        helper = {"hidden_helper": f"import tensorflow as tf\n\ndef _hidden():\n    return tf.{name}\n"}
        changed, _ = _insert(source, first, ["_api = _hidden()"])
        message = _run(check, {**sources, **helper, cell: changed}).get(check.test, "")
        assert f"`{name}`" in message and "at line 4 of cell `hidden_helper`" in message, message
    for word in set(check.forbid) & set(LOOPS):
        loop = "for _i in range(1):" if word == "for" else "while False:"
        changed, line = _insert(source, first, [loop, "    pass"])
        message = _run(check, {**sources, cell: changed}).get(check.test, "")
        assert f"a `{word}` loop at line {line} of cell `{cell}`" in message, message


def test_every_exercise_with_rules_is_covered():
    covered = {param.values[0].name for param in RULES}
    assert {"02_tensor_ops", "03_autodiff", "05_backprop", "08_keras_workflow"} <= covered


@pytest.mark.slow
@pytest.mark.xdist_group("03_autodiff")
def test_03_with_local_variables_named_gradient_and_jvp_keeps_full_marks(tmp_path):
    """End to end: the issue's case, graded in the sandbox against the answer key."""
    from autograder.judge.answer_key import build_key
    from autograder.load.release import reference_submission, with_cells, write_submission
    from autograder.pipeline.submission import find_submissions, grade_all
    from autograder.run.sandbox import SandboxSpec, make_sandbox

    ex = load_exercise(SETTINGS, "03_autodiff")
    sources = solution_sources(ex)
    changed = {}
    for check in ex.static_checks:
        cell, source, first = _cell_of({**sources, **changed}, check.function)
        changed[cell], _ = _insert(source, first, ["gradient = 0.0", "jvp = gradient + 1.0"])
    notebook = with_cells(reference_submission(ex), changed)
    write_submission(notebook, tmp_path / "submitted" / "own-names" / ex.name, ex.notebook)
    box = make_sandbox(SandboxSpec.from_settings(SETTINGS, workers=1))
    try:
        key = build_key(ex, SETTINGS.seed, box, SETTINGS.cache)
        [result] = grade_all(ex, key, find_submissions(tmp_path / "submitted", ex.name), box, SETTINGS.seed, 1)
    finally:
        box.close()
    lost = {t.test_id: t.message for t in result.tests if not t.passed}
    assert lost == {} and result.score == result.max_score > 0
