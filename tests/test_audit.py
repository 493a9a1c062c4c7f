"""The mutation audit: operators, ids and sampling, judging, the report, and a CI sample.

The sample battery (last test) runs the few known-killed mutants each grader keeps in
``audit_sample.toml`` through the real sandbox, judging only the tests each must lose:
a grader weakened so that one of them survives fails here.
"""

import os
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

from autograder.judge.answer_key import AnswerKey
from autograder.review.audit.generate import (
    Mutant,
    cell_mutants,
    mutant_id,
    sample,
    solution_regions,
)
from autograder.review.audit.judge import Fate, Outcome, judge, same_value
from autograder.review.audit.operators import OPERATORS
from autograder.review.audit.report import format_result, question_rows, render_html
from autograder.review.audit.run import AuditResult, cell_questions, read_sample
from autograder.run.job_output import CellRecord, JobOutput, Recorded, TestRecord, Value


def cell(body: str) -> str:
    """A solution cell with ``body`` inside the markers and code outside them."""
    inner = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    return (
        "SCALE = 2\n\n"
        "def f(a, b, x, t, model, layer):\n"
        '    """Docstring with 3 and a + b."""\n'
        "    ### BEGIN SOLUTION\n"
        f"{inner}\n"
        "    ### END SOLUTION\n"
    )


def mutated(operator: str, body: str) -> set[str]:
    """The solution-region lines of each mutant ``operator`` makes of ``body``."""
    out = set()
    for m in cell_mutants("c", cell(body), {operator: OPERATORS[operator]}):
        lines = m.source.splitlines()
        begin, end = solution_regions(m.source)[0]
        out.add("\n".join(line.strip() for line in lines[begin : end - 1]))
    return out


@pytest.mark.parametrize(
    ("operator", "body", "expected"),
    [
        (
            "axis",
            "return tf.reduce_sum(t, axis=0)",
            {"return tf.reduce_sum(t, axis=1)", "return tf.reduce_sum(t, axis=-1)"},
        ),
        (
            "axis",
            "return tf.reduce_sum(t, axis=-1)",
            {"return tf.reduce_sum(t, axis=0)", "return tf.reduce_sum(t, axis=1)"},
        ),
        ("transpose", "return tf.transpose(x)", {"return x"}),
        ("transpose", "return x.T", {"return x"}),
        ("transpose", "return tf.matmul(a, b)", {"return tf.matmul(a, tf.transpose(b))"}),
        ("reduction", "return tf.reduce_mean(x)", {"return tf.reduce_sum(x)"}),
        ("reduction", "return x.sum()", {"return x.mean()"}),
        ("drop_term", "return a + b", {"return a", "return b"}),
        ("drop_term", "return a - b", {"return a", "return b"}),
        ("off_by_one", "return x[1:]", {"return x[2:]", "return x[0:]"}),
        ("off_by_one", "return x[:-1]", {"return x[:]", "return x[:-2]"}),
        ("off_by_one", "return x[0]", {"return x[1]", "return x[-1]"}),
        (
            "activation",
            'return Dense(3, activation="relu")',
            {
                'return Dense(3, activation="sigmoid")',
                'return Dense(3, activation="tanh")',
                "return Dense(3, activation=None)",
            },
        ),
        ("activation", "return Dense(3, activation=None)", {'return Dense(3, activation="relu")'}),
        ("activation", "return tf.nn.relu(x)", {"return tf.nn.sigmoid(x)", "return x"}),
        ("training", "return model(x, training=True)", {"return model(x, training=False)"}),
        ("training", "return model(x, training=False)", {"return model(x, training=True)"}),
        ("training", "return Dense(2, trainable=False)", {"return Dense(2, trainable=True)"}),
        ("training", "layer.trainable = False", {"layer.trainable = True"}),
        (
            "dtype",
            "return tf.cast(x, tf.float32)",
            {"return tf.cast(x, tf.float64)", "return tf.cast(x, tf.int32)"},
        ),
        ("dtype", 'return tf.zeros(3, dtype="float64")', {'return tf.zeros(3, dtype="float32")'}),
        ("stop_gradient", "return tf.stop_gradient(x) * a", {"return x * a"}),
        ("arithmetic", "return a * b", {"return a / b"}),
        ("arithmetic", "return a ** b", {"return a * b"}),
        ("arithmetic", "x += 1", {"x -= 1"}),
        ("comparison", "return a < b", {"return a <= b"}),
        ("comparison", "return a == b", {"return a != b"}),
        ("constant", "return a * 2", {"return a * 3", "return a * 1"}),
        ("constant", "return a * 0.5", {"return a * 1.0"}),
        ("return", "return tf.square(a + b)", {"return a", "return b"}),
        ("return", "return tf.ones(3)", {"return None"}),
        ("remove_statement", "y = x\nreturn y", {"pass\nreturn y"}),
        ("augassign", "x += a", {"x = a"}),
    ],
)
def test_operator_gives_the_expected_mutants(operator, body, expected):
    assert mutated(operator, body) == expected


def test_operators_leave_code_outside_the_solution_region_alone():
    mutants = cell_mutants("c", cell("return a + b"))
    assert mutants
    for m in mutants:
        assert m.source.startswith(
            'SCALE = 2\n\ndef f(a, b, x, t, model, layer):\n    """Docstring with 3 and a + b."""\n'
        )


def test_a_cell_without_markers_has_no_mutants():
    assert cell_mutants("c", "def f(a):\n    return a + 1\n") == []


def test_ids_are_stable_and_name_cell_operator_and_source():
    first = cell_mutants("add_impl", cell("return a + b * 2"))
    again = cell_mutants("add_impl", cell("return a + b * 2"))
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first)
    for m in first:
        assert m.id == mutant_id("add_impl", m.operator, m.source)
        assert m.id.startswith(f"add_impl:{m.operator}:") and len(m.id.rsplit(":", 1)[1]) == 10
    assert mutant_id("c", "constant", "x = 1") != mutant_id("c", "constant", "x = 2")


def test_duplicate_sources_keep_the_first_listed_operator():
    # a + b -> a - b is both `arithmetic`; dropping a term of `x[1:]`'s bound is `off_by_one`
    # and `constant`: the same mutated source appears once, under the earlier operator.
    mutants = cell_mutants("c", cell("return x[1:]"))
    sources = [m.source for m in mutants]
    assert len(sources) == len(set(sources))
    assert {m.operator for m in mutants if "x[2:]" in m.source} == {"off_by_one"}


def test_diff_shows_the_change():
    m = next(m for m in cell_mutants("c", cell("return a + b")) if m.operator == "arithmetic")
    assert "-    return a + b" in m.diff() and "+    return a - b" in m.diff()


def _mutants(cells: int, per_op: int) -> list[Mutant]:
    ops = ["axis", "constant", "return"]
    return [
        Mutant(mutant_id(f"c{c}", op, f"{c}{op}{i}"), f"c{c}", op, "", 1, "", f"{c}{op}{i}")
        for c in range(cells)
        for op in ops
        for i in range(per_op)
    ]


def test_sample_is_deterministic_stratified_and_ordered():
    items = _mutants(4, 5)
    chosen = sample(items, 12)
    assert len(chosen) == 12
    assert {m.id for m in sample(list(reversed(items)), 12)} == {m.id for m in chosen}
    assert [m.id for m in chosen] == [m.id for m in items if m in chosen]  # original order
    assert {m.cell for m in chosen} == {"c0", "c1", "c2", "c3"}
    for c in range(4):
        ops = {m.operator for m in chosen if m.cell == f"c{c}"}
        assert len(ops) == 3  # three per cell, one of each operator
    assert sample(items, None) == items and sample(items, 100) == items
    # Fewer slots than cells: different cells start with different operators.
    small = sample(_mutants(3, 2), 3)
    assert len({m.operator for m in small}) == 3


def _record(test: str, value, message: str = "", question: str = "q1") -> TestRecord:
    array = np.asarray(value, dtype=np.float32)
    values = (Recorded("v", Value("ndarray", array), {"rtol": 1e-3}),)
    return TestRecord(test, question, 1.0, 10.0, False, "passed", message, values)


def _key(value=(1.0, 2.0)) -> AnswerKey:
    tests = {
        "t.py::a": _record("t.py::a", value),
        "t.py::b": _record("t.py::b", value, question="q2"),
    }
    return AnswerKey("ex", "digest", tests, {"q1": 1.0, "q2": 1.0})


def _mutant() -> Mutant:
    return Mutant("c:constant:0123456789", "c", "constant", "constant 1 -> 2", 5, "x = 1", "x = 2")


def _output(a, b, cell_ok: bool = True) -> JobOutput:
    out = JobOutput()
    if a is not None:
        out.tests["t.py::a"] = _record("t.py::a", a)
    if b is not None:
        out.tests["t.py::b"] = _record("t.py::b", b, question="q2")
    out.cells.append(CellRecord(3, "c", cell_ok, "" if cell_ok else "NameError: y"))
    return out


def test_judge_classifies_like_the_grader():
    key, m = _key(), _mutant()
    same = judge(m, key, _output((1.0, 2.0), (1.0, 2.0)), {})
    assert same.fate is Fate.CANDIDATE and not same.killed
    close = judge(m, key, _output((1.0, 2.0), (1.0, 2.0001)), {})
    assert close.fate is Fate.SURVIVED  # within tolerance, but a value differs
    wrong = judge(m, key, _output((1.0, 3.0), (1.0, 2.0)), {})
    assert wrong.fate is Fate.KILLED and wrong.lost == ("t.py::a",) and wrong.points == 1.0
    missing = judge(m, key, _output((1.0, 2.0), None), {})
    assert missing.fate is Fate.KILLED and missing.lost == ("t.py::b",)
    static = judge(m, key, _output((1.0, 2.0), (1.0, 2.0)), {"t.py::b": "no loops"})
    assert static.fate is Fate.KILLED and static.lost == ("t.py::b",)
    raised = judge(m, key, _output(None, None, cell_ok=False), {})
    assert raised.fate is Fate.TRIVIAL and raised.killed and "NameError" in raised.note
    only_a = judge(m, key, _output((1.0, 2.0), None), {}, tests=["t.py::a"])
    assert only_a.fate is Fate.CANDIDATE  # the unselected test did not run and is not judged


def test_same_value_needs_dtype_shape_and_elements():
    a = Value("ndarray", np.array([1.0, np.nan], dtype=np.float32))
    assert same_value(a, Value("ndarray", np.array([1.0, np.nan], dtype=np.float32)))
    assert not same_value(a, Value("ndarray", np.array([1.0, np.nan], dtype=np.float64)))
    assert not same_value(a, Value("ndarray", np.array([[1.0, np.nan]], dtype=np.float32)))
    assert not same_value(a, Value("tf.Tensor", a.array, tensor=True))
    assert same_value(Value("str", text="x"), Value("str", text="x"))
    assert not same_value(a, None)


def _result(fates: list[tuple[str, Fate]]) -> AuditResult:
    outcomes = []
    for i, (cell_id, fate) in enumerate(fates):
        source = f"### BEGIN SOLUTION\nx = {i} <script>\n### END SOLUTION"
        m = Mutant(f"{cell_id}:constant:{i:010d}", cell_id, "constant", "<b>", 2, "x = 0", source)
        outcomes.append(Outcome(m, fate))
    return AuditResult("ex", 40, outcomes, {"c1": "q1", "c2": "q2"}, 3.0)


def test_rows_count_per_question_and_kill_rate_leaves_only_reviewed_equivalents_out():
    result = _result(
        [
            ("c1", Fate.KILLED),
            ("c1", Fate.TRIVIAL),
            ("c1", Fate.SURVIVED),
            ("c1", Fate.CANDIDATE),
            ("c2", Fate.REVIEWED),
            ("c2", Fate.KILLED),
            ("c2", Fate.ERROR),
        ]
    )
    q1, q2, total = question_rows(result)
    assert (q1.name, q1.mutants, q1.killed, q1.trivial, q1.survived, q1.candidates) == (
        "q1",
        4,
        2,
        1,
        1,
        1,
    )
    # An unreviewed candidate counts as not killed; the lenient rate leaves it out.
    assert q1.kill_rate == pytest.approx(2 / 4)
    assert q1.lenient_rate == pytest.approx(2 / 3)
    assert (q2.killed, q2.reviewed, q2.errors, q2.kill_rate) == (1, 1, 1, 1.0)
    assert total.mutants == 7 and total.kill_rate == pytest.approx(3 / 5)
    text = format_result(result)
    assert "c1:constant:0000000002" in text and "survived (1)" in text
    assert "trivially killed (1):\n  c1:constant:0000000001" in text


def test_html_escapes_mutant_text():
    page = render_html(_result([("c1", Fate.SURVIVED)]))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>" not in page.split("<body>")[1].split("</p>")[1]


def test_html_uses_the_one_stylesheet():
    from gradebook.pages import stylesheet

    page = render_html(_result([("c1", Fate.SURVIVED), ("c1", Fate.KILLED)]))
    assert page.count("<style>") == 1 and str(stylesheet()) in page
    assert 'class="bad">Survived (1)' in page and 'class="ok">Killed (1)' in page


def test_cell_questions_follow_notebook_order():
    import nbformat

    def code(gid, **meta):
        c = nbformat.v4.new_code_cell("")
        c.metadata["nbgrader"] = {"grade_id": gid, **meta}
        return c

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        code("a_impl", solution=True),
        code("b_impl", solution=True),
        code("q1", grade=True, points=1),
        code("c_impl", solution=True),
        code("q2", grade=True, points=2),
    ]
    assert cell_questions(nb) == {"a_impl": "q1", "b_impl": "q1", "c_impl": "q2"}


def test_pick_sample_takes_cheap_killed_mutants_from_different_cells_and_tests():
    from dataclasses import replace as changed

    from autograder.review.audit.run import pick_sample, sample_toml

    key = _key()
    key.tests["t.py::b"] = changed(key.tests["t.py::b"], timeout=5.0)
    key.tests["t.py::g"] = changed(key.tests["t.py::a"], test="t.py::g", gpu=True, timeout=1.0)

    def outcome(cell_id, op, fate, lost):
        m = Mutant(f"{cell_id}:{op}:{len(lost):010d}", cell_id, op, "d", 1, "", f"{cell_id}{op}")
        return Outcome(m, fate, tuple(lost), float(len(lost)))

    outcomes = [
        outcome("c1", "constant", Fate.KILLED, ["t.py::a", "t.py::b"]),
        outcome("c1", "axis", Fate.KILLED, ["t.py::b"]),
        outcome("c2", "axis", Fate.TRIVIAL, ["t.py::a"]),
        outcome("c3", "axis", Fate.KILLED, ["t.py::g"]),  # only a heavy test
        outcome("c4", "axis", Fate.SURVIVED, []),
        outcome("c5", "return", Fate.KILLED, ["t.py::a"]),
    ]
    chosen = pick_sample(outcomes, key)
    assert [(o.mutant.cell, o.mutant.operator, o.lost) for o in chosen] == [
        ("c1", "axis", ("t.py::b",)),  # cheapest test (timeout 5), ML operator first
        ("c5", "return", ("t.py::a",)),  # c1 is taken; c2 is trivial, c3 heavy
    ]
    text = sample_toml(chosen)
    assert tomllib.loads(text)["killed"][0] == {"id": chosen[0].mutant.id, "loses": ["t.py::b"]}


def test_cli_has_the_audit_command():
    from autograder.cli.main import build_parser

    args = build_parser().parse_args(["audit", "02_tensor_ops", "--max", "7", "--html", "x.html"])
    assert (args.exercise, args.max, args.html) == ("02_tensor_ops", 7, "x.html")
    assert build_parser().parse_args(["audit", "01_tensors"]).max == 40


# --- the CI sample: known-killed mutants through the real sandbox -----------------------

from autograder.load.exercise import exercise_names, load_exercise  # noqa: E402
from autograder.settings import load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = load_settings(ROOT)
WORKERS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
SAMPLED = [name for name in exercise_names(SETTINGS) if read_sample(load_exercise(SETTINGS, name))]


@pytest.fixture(scope="module")
def audit_box():
    from autograder.run.sandbox import SandboxSpec, make_sandbox

    box = make_sandbox(SandboxSpec.from_settings(SETTINGS, workers=WORKERS))
    yield box
    box.close()


def test_every_grader_keeps_a_sample():
    assert SAMPLED == exercise_names(SETTINGS)


def test_reviewed_marks_only_unkilled_listed_mutants():
    from autograder.review.audit.run import reviewed

    result = _result([("c1", Fate.SURVIVED), ("c1", Fate.CANDIDATE), ("c2", Fate.KILLED)])
    ids = [o.mutant.id for o in result.outcomes]
    marked = reviewed(result.outcomes, {i: "same on 2-D input" for i in ids})
    assert [o.fate for o in marked] == [Fate.REVIEWED, Fate.REVIEWED, Fate.KILLED]
    assert marked[0].note == "same on 2-D input"


@pytest.mark.parametrize("name", exercise_names(SETTINGS))
def test_reviewed_equivalents_name_generated_mutants(name):
    from autograder.review.audit.run import exercise_mutants, read_equivalents

    exercise = load_exercise(SETTINGS, name)
    listed = read_equivalents(exercise)
    stale = sorted(set(listed) - {m.id for m in exercise_mutants(exercise)}) if listed else []
    assert not stale, f"{name}: equivalent_mutants.toml lists mutants no longer generated: {stale}"
    assert all(reason.strip() for reason in listed.values())


@pytest.mark.parametrize("name", SAMPLED)
def test_sampled_mutants_are_killed(audit_box, name):
    from concurrent.futures import ThreadPoolExecutor

    from autograder.judge.answer_key import build_key
    from autograder.review.audit.run import MutantRunner, exercise_mutants

    exercise = load_exercise(SETTINGS, name)
    wanted = read_sample(exercise)
    by_id = {m.id: m for m in exercise_mutants(exercise)}
    gone = sorted(set(wanted) - set(by_id))
    assert not gone, (
        f"{name}: {gone} are no longer generated; pick new ones (gradetape audit {name})"
    )
    key = build_key(exercise, SETTINGS.seed, audit_box, SETTINGS.cache)
    runner = MutantRunner(exercise, key, audit_box, SETTINGS.seed, SETTINGS.cache)
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda i: runner.run(by_id[i], wanted[i]), wanted))
    for outcome in outcomes:
        assert outcome.fate is Fate.KILLED, (
            f"{outcome.mutant.id} {outcome.fate.value}: {outcome.note}\n{outcome.mutant.diff()}"
        )
        assert set(wanted[outcome.mutant.id]) <= set(outcome.lost), outcome.mutant.id
