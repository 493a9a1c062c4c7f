"""bench/bench_selfcheck.py: its settings apply to the notebooks, and it judges as the grader."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> types.ModuleType:
    path = ROOT / "bench" / "bench_selfcheck.py"
    spec = importlib.util.spec_from_file_location("bench_selfcheck", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_selfcheck"] = module
    spec.loader.exec_module(module)
    return module


def test_every_setting_edits_its_notebook(bench: types.ModuleType) -> None:
    for exercise, spec in bench.EXERCISES.items():
        reference = dict(bench.load_cells(exercise, {}))
        for grade_id in (*spec.self_checks,):
            assert grade_id in reference, f"{exercise}: no self-check cell {grade_id}"
        for name, edits in spec.settings.items():
            edited = dict(bench.load_cells(exercise, edits))
            changed = [gid for gid in edits if edited[gid] != reference[gid]]
            assert changed == list(edits), f"{exercise}/{name} changed only {changed}"


def test_a_stale_edit_is_an_error(bench: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="not in the cell"):
        bench.load_cells("05_backprop", {"train_impl": [("no such text", "x")]})


def test_seeded_replaces_the_seed_argument(bench: types.ModuleType) -> None:
    def train(x, seed=0, epochs=3):
        return (x, seed, epochs)

    assert bench._seeded(train, 7)(1, seed=1) == (1, 7, 3)
    assert bench._unseeded(train, 7)(1, seed=1) == (1, 1, 3)


def test_hidden_judging_follows_the_trusted_side(bench: types.ModuleType) -> None:
    """A perfect and a constant predictor, through the accuracy threshold of the test."""
    from autograder.load import heldout

    labels = heldout.build("digits", 3).labels

    def perfect(**_):
        return labels

    def constant(**_):
        return np.zeros_like(labels)

    spec = bench.Exercise(functions=("predict",), self_checks=(), hidden=("test_x",))

    def test_x(student, heldout, predictions, expect):
        predictions(
            "p", student.predict(x=heldout("digits").x_test), dataset="digits", min_accuracy=0.9
        )
        expect("flag", True)

    tests = types.SimpleNamespace(test_x=test_x)
    good = bench.run_hidden({"predict": perfect}, spec, tests, "test_x", 3)
    bad = bench.run_hidden({"predict": constant}, spec, tests, "test_x", 3)
    assert good.passed and good.values == [1.0]
    assert not bad.passed and "accuracy" in bad.detail and bad.values[0] < 0.2
