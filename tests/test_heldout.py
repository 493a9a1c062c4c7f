"""Held-out datasets: the sandbox gets inputs, the trusted side keeps the labels and scores."""

import json

import numpy as np
import pytest

from autograder import heldout
from autograder.compare import judge_test
from autograder.sandbox import SubprocessSandbox
from autograder.seeds import job_seeds
from autograder.settings import Limits
from autograder.values import read_job_output

MB = 1 << 20


@pytest.mark.parametrize("name", sorted(heldout.BUILDERS))
def test_same_seed_same_data_other_seed_other_split(name):
    a, b, c = heldout.build(name, 11), heldout.BUILDERS[name](11), heldout.build(name, 12)
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.arrays["x_test"], c.arrays["x_test"])
    assert len(a.labels) == len(a.arrays["x_test"])


def test_digits_split_is_stratified_and_complete():
    d = heldout.build("digits", 5)
    assert d.arrays["x_train"].shape == (1347, 64) and d.arrays["x_test"].shape == (450, 64)
    assert d.arrays["y_train"].dtype == np.int64 and d.labels.dtype == np.int64
    counts = np.bincount(d.labels, minlength=10)
    assert counts.min() >= 43 and counts.max() <= 46
    assert "y_test" not in d.arrays


def test_digits_transfer_has_few_target_labels_and_tests_only_new_digits():
    d = heldout.build("digits_transfer", 5)
    assert set(np.unique(d.arrays["y_source"])) == {0, 1, 2, 3, 4}
    assert np.bincount(d.arrays["y_target"], minlength=10)[5:].tolist() == [heldout.TRANSFER_SHOTS] * 5
    assert set(np.unique(d.labels)) == {5, 6, 7, 8, 9}
    assert len(d.arrays["x_test"]) == len(d.labels) > 200
    full = heldout.build("digits", 5)
    # target examples come from the training part only: none of them is a test input
    test_rows = {r.tobytes() for r in full.arrays["x_test"]}
    assert not any(r.tobytes() in test_rows for r in d.arrays["x_target"])


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="unknown datasets \\['mnist'\\]"):
        heldout.check_names(["digits", "mnist"], "grader.toml")


def test_written_inputs_never_hold_the_labels(tmp_path):
    heldout.write_inputs(["digits", "digits_transfer"], 3, tmp_path)
    for name in ("digits", "digits_transfer"):
        files = sorted(p.stem for p in (tmp_path / name).iterdir())
        assert files == sorted(heldout.build(name, 3).arrays)
        labels = heldout.build(name, 3).labels
        for path in (tmp_path / name).iterdir():
            array = np.load(path, allow_pickle=False)
            assert array.shape != labels.shape or not np.array_equal(array, labels)


CELLS = {
    # nearest class mean on the training part: about 0.9 on digits
    "honest": (
        "import numpy as np\n"
        "def predict(x_train, y_train, x):\n"
        "    means = np.stack([x_train[y_train == c].mean(0) for c in range(10)])\n"
        "    return np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)\n"
    ),
    "constant": "import numpy as np\ndef predict(x_train, y_train, x):\n    return np.zeros(len(x), int)\n",
    "short": "import numpy as np\ndef predict(x_train, y_train, x):\n    return np.zeros(3, int)\n",
    "probabilities": "import numpy as np\ndef predict(x_train, y_train, x):\n    return np.full((len(x), 10), 0.1)\n",
}

GRADER = '''
import pytest

@pytest.mark.question("q")
def test_accuracy(student, heldout, predictions):
    data = heldout("digits")
    predictions("digits", student.predict(data.x_train, data.y_train, data.x_test),
                dataset="digits", min_accuracy=0.8)
'''


def run(folder, cells):
    job = folder / "job"
    (job / "in" / "grader").mkdir(parents=True)
    (job / "out").mkdir()
    (job / "in" / "grader" / "test_g.py").write_text(GRADER)
    spec = {**job_seeds(1, "job", [job / "in" / "grader" / "test_g.py"]).as_json(),
            "cell_timeout": 20, "test_timeout": 20, "tensorflow": False,
            "cells": [{"index": 0, "cell_id": "c0", "source": cells}]}
    (job / "in" / "job.json").write_text(json.dumps(spec))
    heldout.write_inputs(["digits"], 1, job / "in" / "data")
    SubprocessSandbox().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), 64 * MB, 64 * MB)
    return out.tests["test_g.py::test_accuracy"]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return {name: run(tmp_path_factory.mktemp(name), cells) for name, cells in CELLS.items()}


def test_predictions_are_scored_against_the_kept_labels(records):
    key, labels = records["honest"], heldout.labels_for(["digits"], 1)
    assert judge_test(key, key, labels=labels).passed
    lost = {name: judge_test(key, records[name], labels=labels) for name in ("constant", "short", "probabilities")}
    assert not any(r.passed for r in lost.values())
    assert "accuracy 0.1" in lost["constant"].message and "below the required 0.8" in lost["constant"].message
    assert "one predicted label per input (450)" in lost["short"].message
    assert "(450, 10)" in lost["probabilities"].message


def test_the_reference_predictions_are_not_the_answer(records):
    # Copying the reference's predictions is not what passes: the labels are.
    key = records["honest"]
    assert not judge_test(key, key, labels={"digits": np.zeros(450, np.int64)}).passed
    missing = judge_test(key, key, labels={})
    assert not missing.passed and "grader error" in missing.message

