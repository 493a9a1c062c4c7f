"""Turn a GradeTape hidden grader plus its answer key into nbgrader inline-test cells.

The nbgrader peer of the benchmark grades the same class with stock ``nbgrader autograde``.
For that, every question (grade) cell of the exercise's source notebook is replaced by a
cell that

* re-runs the cell's visible self-check (errors swallowed: in GradeTape it never scores),
* runs the hidden grader's test functions of that question inline, against the notebook's
  own globals, with the same per-test seeds as a GradeTape job (the seeds
  ``autograder/run/seeds.py`` derives from the course seed, for the ``rng`` fixture and for
  Python's, NumPy's and Keras's global seeds) and the same per-test time limit,
* compares every value a test records with the answer key's value (embedded in the cell as
  base64 ``.npy``), with the key's tolerances and the rules of ``autograder/judge/compare.py``,
* ends with the points earned as the cell's value, which nbgrader takes as partial credit
  (``nbgrader.utils.determine_grade``), so a question's score equals GradeTape's sum of
  that question's passed tests.

Only the file layout the course's graders use is supported: ``test_*.py`` files whose test
functions take some of ``student``, ``rng`` and ``expect`` and are not parametrized.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import textwrap
from typing import Any

import nbformat
import numpy as np

from autograder.run.seeds import job_seeds

# The harness each inline cell defines and calls. It mirrors, in a self-contained way:
#   autograder/runtime/plugin.py   seed_for, per-test seeding, timeout, expect()
#   autograder/runtime/channel.py  kind_of, to_array, encode (str / None / numeric array)
#   autograder/judge/compare.py          Tolerance.from_record, compare_value, judge_test
HARNESS = r'''
def _gt_run_question(question, seed, files, tests, self_check, max_value_bytes):
    import base64, contextlib, inspect, io, os, random, signal, sys, types, warnings
    import numpy as np

    def kind_of(value):
        module = type(value).__module__ or ""
        name = type(value).__name__
        if module.startswith(("tensorflow", "keras")):
            for tag in ("Variable", "RaggedTensor", "SparseTensor", "Tensor"):
                if tag in name:
                    return "tf." + tag
            return "tf." + name
        if isinstance(value, np.ndarray):
            return "ndarray"
        if isinstance(value, np.generic):
            return "numpy." + name
        for tag, typ in (("bool", bool), ("int", int), ("float", float), ("str", str)):
            if isinstance(value, typ):
                return tag
        if value is None:
            return "None"
        if isinstance(value, (list, tuple)):
            return type(value).__name__
        return "object"

    def encode(value):
        kind = kind_of(value)
        if isinstance(value, str):
            return {"kind": kind, "text": value[:10_000], "array": None, "error": ""}
        if value is None:
            return {"kind": kind, "text": None, "array": None, "error": ""}
        try:
            v = value
            if hasattr(v, "numpy") and callable(v.numpy) and not isinstance(v, np.ndarray):
                v = v.numpy()
            array = np.asarray(v)
            if array.dtype.kind not in "biufc":
                raise TypeError(f"a value of type {kind} is not numeric (dtype {array.dtype})")
            array = np.array(array, order="C", copy=True)
        except Exception as exc:
            return {"kind": kind, "text": None, "array": None, "error": f"{type(exc).__name__}: {exc}"}
        if array.nbytes > max_value_bytes:
            return {"kind": kind, "text": None, "array": None, "error": "value too large"}
        return {"kind": kind, "text": None, "array": array, "error": ""}

    def tolerance(raw):
        tol = {"rtol": 1e-6, "atol": 0.0, "check_dtype": True, "tensor": False, "exact": None}
        for k in ("rtol", "atol"):
            if isinstance(raw.get(k), (int, float)) and raw[k] >= 0:
                tol[k] = float(raw[k])
        for k in ("check_dtype", "tensor", "exact"):
            if isinstance(raw.get(k), bool):
                tol[k] = raw[k]
        return tol

    def same(got, want, tol):
        """One value against the key: None when it matches, else why not."""
        if got["error"]:
            return "could not be read: " + got["error"]
        if tol["tensor"] and not got["tensor"]:
            return f"expected a tf.Tensor, received a {got['kind']}"
        if want["text"] is not None or got["text"] is not None:
            return None if want["text"] == got["text"] else "the text differs"
        if want["array"] is None:
            return None if got["array"] is None else f"expected None, received {got['kind']}"
        if got["array"] is None:
            return f"expected a value, received {got['kind']}"
        g, w = got["array"], want["array"]
        if tol["check_dtype"] and g.dtype != w.dtype:
            return f"expected dtype {w.dtype.name}, received {g.dtype.name}"
        if g.shape != w.shape:
            return f"shape {g.shape} is wrong for this input"
        exact = tol["exact"] if tol["exact"] is not None else w.dtype.kind in "biu"
        if exact or g.dtype.kind == "b" or w.dtype.kind == "b":
            bad = int(np.count_nonzero(g != w))
            return None if bad == 0 else f"{bad} of {w.size} elements differ (exact)"
        complex_ = "c" in (g.dtype.kind, w.dtype.kind)
        g = g.astype(np.complex128 if complex_ else np.float64)
        w = w.astype(g.dtype)
        if np.isfinite(w).all() and not np.isfinite(g).all():
            return "contains NaN or infinity"
        np.testing.assert_allclose(g, w, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True)
        return None

    class Student:
        def __init__(self, ns):
            object.__setattr__(self, "_ns", ns)

        def __getattr__(self, name):
            ns = object.__getattribute__(self, "_ns")
            if name in ns:
                return ns[name]
            raise AttributeError(f"Your notebook does not define `{name}`.")

    class TimeLimit(Exception):
        pass

    user_ns = globals()  # the notebook's namespace (this function is defined in a cell)
    earned = 0.0
    lines = []
    saved_fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # like the sandbox: stderr never decides a score (nor a cell's here)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self_check:
                with contextlib.redirect_stdout(io.StringIO()):
                    try:
                        exec(compile(self_check, "<self-check>", "exec"), user_ns)
                    except BaseException:
                        pass
            import tensorflow as tf
            import keras
            tf.config.experimental.enable_op_determinism()
            modules = {}
            for fname, source in files.items():
                mod = types.ModuleType("gt_grader_" + fname[:-3])
                mod.__file__ = fname
                exec(compile(source, fname, "exec"), mod.__dict__)
                modules[fname] = mod
            for test in tests:
                fname, _, fn_name = test["key"].partition("::")
                fn = getattr(modules[fname], fn_name)
                derived = int(test["seed"])
                random.seed(derived)
                np.random.seed(derived)
                keras.utils.set_random_seed(derived)
                recorded = {}

                def expect(name, value, **tol):
                    genuine = type(value) is type(tf.constant(0.0))
                    recorded.setdefault(str(name), {**encode(value), "tensor": genuine})

                fixtures = {
                    "student": Student(user_ns),
                    "rng": np.random.default_rng(derived),
                    "expect": expect,
                }
                params = inspect.signature(fn).parameters
                raised = ""

                def on_alarm(signum, frame, limit=test["timeout"]):
                    raise TimeLimit(f"this test ran longer than its limit of {limit:g} s")

                previous = signal.signal(signal.SIGALRM, on_alarm)
                signal.setitimer(signal.ITIMER_REAL, test["timeout"])
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        fn(**{p: fixtures[p] for p in params})
                except BaseException as exc:
                    raised = f"{type(exc).__name__}: {exc}"
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, previous)
                verdict = None
                for want in test["values"]:
                    got = recorded.get(want["name"])
                    if got is None:
                        verdict = f"your code raised {raised}" if raised else f"`{want['name']}`: no value"
                        break
                    key_value = dict(want)
                    if want["npy"] is not None:
                        key_value["array"] = np.load(io.BytesIO(base64.b64decode(want["npy"])), allow_pickle=False)
                    else:
                        key_value["array"] = None
                    try:
                        why = same(got, key_value, tolerance(want["tol"]))
                    except AssertionError:
                        why = "does not match the reference"
                    if why is not None:
                        verdict = f"`{want['name']}`: {why}"
                        break
                if not test["values"]:
                    verdict = "the key has no value for this test"
                if verdict is None:
                    earned += test["points"]
                    lines.append(f"  pass {test['key']} (+{test['points']:g})")
                else:
                    lines.append(f"  FAIL {test['key']}: {verdict[:200]}")
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull)
    print(f"{question}: {earned:g} points\n" + "\n".join(lines))
    return earned
'''


def _npy_b64(array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


def key_tests_for(key: Any, question: str) -> list[dict[str, Any]]:
    """The key's tests of ``question`` as plain data: test id, points, timeout, values."""
    tests = []
    for test_id, record in key.tests.items():
        if record.question != question:
            continue
        if "[" in test_id:
            raise NotImplementedError(f"parametrized test {test_id} is not supported")
        values = []
        for rec in record.values:
            v = rec.value
            if v.error:
                raise ValueError(f"{test_id}: the key value {rec.name} has an error: {v.error}")
            values.append(
                {
                    "name": rec.name,
                    "kind": v.kind,
                    "text": v.text,
                    "npy": _npy_b64(v.array) if v.array is not None else None,
                    "tol": dict(rec.tolerance),
                }
            )
        tests.append(
            {"key": test_id, "points": record.points, "timeout": record.timeout, "values": values}
        )
    return tests


def grader_sources(exercise: Any) -> dict[str, str]:
    """``file name -> source`` of the hidden grader's test files."""
    files = {}
    for path in exercise.grader_files():
        if path.suffix != ".py" or not path.name.startswith("test_"):
            raise NotImplementedError(f"grader support file {path.name} is not supported")
        files[path.name] = path.read_text(encoding="utf-8")
    return files


def _check_signatures(files: dict[str, str]) -> None:
    """Fail early when a test asks for a fixture the inline harness does not provide."""
    import ast

    for name, source in files.items():
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                args = {a.arg for a in node.args.args}
                if not args <= {"student", "rng", "expect"}:
                    raise NotImplementedError(f"{name}::{node.name} uses fixtures {sorted(args)}")


def inline_cell_source(
    question: str,
    seed: int,
    files: dict[str, str],
    tests: list[dict[str, Any]],
    self_check: str,
    max_value_bytes: int,
) -> str:
    """The source of one inline-test grade cell."""
    payload = base64.b64encode(
        json.dumps(
            {"files": files, "tests": tests, "self_check": self_check}, ensure_ascii=True
        ).encode()
    ).decode()
    wrapped = "\n".join(textwrap.wrap(payload, 100))
    return (
        f"# Hidden tests of question {question!r}, inline (generated by bench/inline_tests.py)\n"
        + HARNESS.strip()
        + "\n\nimport base64 as _gt_b64, json as _gt_json\n"
        + f'_gt_data = _gt_json.loads(_gt_b64.b64decode("""\n{wrapped}\n"""))\n'
        + f"_gt_run_question({question!r}, {int(seed)}, _gt_data['files'], _gt_data['tests'], "
        + f"_gt_data['self_check'], {int(max_value_bytes)})\n"
    )


def inline_source_notebook(exercise: Any, key: Any, seed: int) -> nbformat.NotebookNode:
    """The exercise's source notebook with each question cell replaced by inline tests."""
    files = grader_sources(exercise)
    _check_signatures(files)
    nb = nbformat.read(exercise.source_path, as_version=4)
    nb = copy.deepcopy(nb)
    seeds = job_seeds(seed, exercise.name, exercise.grader_files())  # never the course seed
    seen = set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        question = meta["grade_id"]
        tests = [{**t, "seed": seeds.tests[t["key"]]} for t in key_tests_for(key, question)]
        points = sum(t["points"] for t in tests)
        if abs(points - float(meta.get("points", 0))) > 1e-9:
            raise ValueError(f"{question}: cell points {meta.get('points')} != tests' {points}")
        cell.source = inline_cell_source(
            question, seeds.notebook, files, tests, str(cell.source), exercise.limits.max_value_mb << 20
        )
        cell.outputs = []
        cell.execution_count = None
        seen.add(question)
    missing = set(key.questions) - seen
    if missing:
        raise ValueError(f"questions without a grade cell: {sorted(missing)}")
    return nb


def merge_student(
    release: nbformat.NotebookNode, student: nbformat.NotebookNode
) -> nbformat.NotebookNode:
    """nbgrader's release notebook with the student's solution cells (by ``grade_id``)."""
    answers = {}
    for cell in student.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            answers[meta.get("grade_id")] = cell.source
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb


__all__ = ["inline_source_notebook", "merge_student"]
