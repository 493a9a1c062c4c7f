"""Held-out datasets: the sandbox gets inputs, the trusted side keeps the labels and scores."""

import ast
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.judge.compare import judge_test
from autograder.load import heldout
from autograder.load.exercise import private_sources
from autograder.load.private_data import WIDTHS, PrivateDataError
from autograder.run.job_output import read_job_output
from autograder.run.jobs import lay_out_job
from autograder.run.sandbox import SubprocessSandbox
from autograder.run.seeds import job_seeds
from autograder.runtime.protocol import JobCell, JobSpec
from autograder.settings import Limits, load_settings

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


def run(folder, cells, private=None):
    job = folder / "job"
    grader = folder / "grader" / "test_g.py"
    grader.parent.mkdir(parents=True)
    grader.write_text(GRADER)
    seeds = job_seeds(1, "job", [grader])
    spec = JobSpec(notebook_seed=seeds.notebook, test_seeds=seeds.tests, cell_timeout=20,
                   test_timeout=20, tensorflow=False, cells=(JobCell(0, "c0", cells),))
    lay_out_job(job, spec, [grader])
    heldout.write_inputs(["digits"], 1, job / "in" / "data", private)
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



# ---------------------------------------------------------------------------------------------
# Where the evaluation inputs come from: the course's public partition, or a private file.

ROOT = Path(__file__).resolve().parent.parent
DIGIT_EXERCISES = [p.parent.name for p in sorted((ROOT / "exercises").glob("*/*.ipynb"))
                   if "course_digits" in p.read_text(encoding="utf-8")]


def rows(array):
    return {r.tobytes() for r in np.ascontiguousarray(array, dtype=np.float64)}


def test_every_digits_notebook_uses_the_course_helper():
    assert {"05_backprop", "07_training_loops", "08_keras_workflow", "10_convnets",
            "11_recurrent", "12_autoencoders_transfer"} <= set(DIGIT_EXERCISES)


@pytest.mark.parametrize("exercise", DIGIT_EXERCISES)
def test_released_notebook_holds_no_labelled_evaluation_row(exercise):
    # Locked cells only call load_digits inside course_digits(), which returns the course's
    # training part: run that helper as released and compare with the platform's partition.
    nb = nbformat.read(ROOT / "exercises" / exercise / f"{exercise}.ipynb", as_version=4)
    helpers = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == "course_digits":
                helpers.append(ast.get_source_segment(cell.source, node))
            else:  # nothing at the top level touches the public set itself
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                names |= {a.name for n in ast.walk(node) if isinstance(n, ast.alias) for a in [n]}
                assert not names & {"load_digits", "sklearn.datasets", "datasets"}, exercise
    assert len(helpers) == 1, exercise
    namespace = {}
    exec(helpers[0], namespace)
    x, y = namespace["course_digits"]()
    x_train, y_train, x_eval, _ = heldout.public_digits()
    np.testing.assert_array_equal(x, x_train)
    np.testing.assert_array_equal(y, y_train)
    assert not rows(x) & rows(x_eval)
    assert rows(heldout.build("digits", 7).arrays["x_test"]) == rows(x_eval)


def write_npz(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def private_digits(seed=0, n=300):
    """Digits no public set holds: public images shifted one pixel right, with their labels."""
    x_train, y_train, _, _ = heldout.public_digits()
    pick = np.random.default_rng(seed).choice(len(y_train), n, replace=False)
    images = x_train[pick].reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, :, 1:] = images[:, :, :-1]
    return shifted.reshape(-1, 64).astype(np.uint8), y_train[pick].astype(np.int32)


def course(tmp_path, **arrays):
    x, y = private_digits()
    arrays = {"x": x, "y": y} | arrays
    write_npz(tmp_path / "private" / "digits_eval.npz", **arrays)
    (tmp_path / "gradetape.toml").write_text('[heldout]\ndigits = "private/digits_eval.npz"\n')
    return load_settings(tmp_path)


def test_private_file_is_the_evaluation_source_and_its_labels_stay_trusted(tmp_path):
    settings = course(tmp_path)
    assert settings.heldout_files == {"digits": "private/digits_eval.npz"}
    private = private_sources(settings, ("digits", "digits_transfer"))
    assert list(private) == ["digits"]
    x, y = private_digits()
    job = tmp_path / "job"
    heldout.write_inputs(["digits", "digits_transfer"], 3, job, private)
    digits = heldout.build("digits", 3, private)
    assert rows(np.load(job / "digits" / "x_test.npy")) == rows(x)
    test = {r.tobytes(): label for r, label in zip(x.astype(np.float64), y, strict=True)}
    assert [test[r.tobytes()] for r in digits.arrays["x_test"]] == digits.labels.tolist()
    transfer = heldout.build("digits_transfer", 3, private)
    assert rows(transfer.arrays["x_test"]) == rows(x[y >= 5])
    # no public row is evaluated any more, so the whole public set is the training part
    assert len(digits.arrays["x_train"]) == 1797
    for path in job.rglob("*.npy"):
        array = np.load(path, allow_pickle=False)
        assert array.shape[0] == 0 or not np.array_equal(np.sort(array, axis=0), np.sort(y)), path
    assert not any(p.suffix == ".npz" for p in job.rglob("*"))
    # the public demo is a different evaluation set, and the key digest tells them apart
    assert rows(heldout.build("digits", 3).arrays["x_test"]) != rows(x)


def test_a_lookup_in_the_public_set_passes_the_demo_and_fails_a_private_file(tmp_path):
    lookup = (
        "import numpy as np\n"
        "from sklearn.datasets import load_digits\n"
        "def predict(x_train, y_train, x):\n"
        "    d = load_digits()\n"
        "    table = {r.tobytes(): t for r, t in zip(d.data, d.target)}\n"
        "    return np.array([table.get(r.tobytes(), 0) for r in np.asarray(x, float)])\n"
    )
    public = run(tmp_path / "public", lookup)
    private = private_sources(course(tmp_path / "course"), ("digits",))
    secret = run(tmp_path / "private", lookup, private)
    key_public = run(tmp_path / "key-public", CELLS["honest"])
    key_private = run(tmp_path / "key-private", CELLS["honest"], private)
    assert judge_test(key_public, public, labels=heldout.labels_for(["digits"], 1)).passed
    verdict = judge_test(key_private, secret, labels=heldout.labels_for(["digits"], 1, private))
    assert not verdict.passed and "below the required 0.8" in verdict.message


BAD_FILES = {
    "wrong names": ({"images": np.zeros((60, 64)), "y": np.arange(60) % 10}, "exactly x and y"),
    "narrow rows": ({"x": np.zeros((60, 63)), "y": np.arange(60) % 10}, "expected (n, 64)"),
    "label count": ({"x": np.zeros((60, 64)), "y": np.arange(59) % 10}, "one per row"),
    "float labels": ({"x": np.zeros((60, 64)), "y": np.arange(60) % 10 * 1.0}, "expected integers"),
    "label range": ({"x": np.zeros((60, 64)), "y": np.arange(60) % 11}, "expected 0-9"),
    "pixel range": ({"x": np.full((60, 64), 255), "y": np.arange(60) % 10}, "outside [0, 16]"),
    "nan pixels": ({"x": np.full((60, 64), np.nan), "y": np.arange(60) % 10}, "outside [0, 16]"),
    "text pixels": ({"x": np.full((60, 64), "a"), "y": np.arange(60) % 10}, "dtype <U1"),
    "objects": ({"x": np.array([None] * 60, dtype=object), "y": np.arange(60) % 10}, "cannot be read"),
    "rare digit": ({"x": np.zeros((60, 64)), "y": np.arange(60) % 9}, "digits [9] have fewer"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_malformed_private_file_is_refused_with_a_clear_error(tmp_path, case):
    arrays, problem = BAD_FILES[case]
    settings = course(tmp_path, **arrays)
    if "images" in arrays:
        write_npz(tmp_path / "private" / "digits_eval.npz", **arrays)
    with pytest.raises(PrivateDataError) as error:
        private_sources(settings, ("digits",))
    message = str(error.value)
    assert problem in message, message
    assert "digits_eval.npz" in message and "remove `digits` from the [heldout] table" in message


def test_private_file_that_is_missing_misplaced_or_not_npz_is_refused(tmp_path):
    settings = course(tmp_path)
    for configured, problem in [
        ("private/nope.npz", "no such file"),
        ("solutions/07_training_loops/eval.npz", "released to students"),
        ("autograder/graders/eval.npz", "copied into grading"),
        ("gradetape.toml", "not an .npz file"),
    ]:
        x, y = private_digits()
        if configured.endswith("eval.npz"):
            write_npz(tmp_path / configured, x=x, y=y)
        bad = replace(settings, heldout_files={"digits": configured})
        with pytest.raises(PrivateDataError, match=problem):
            private_sources(bad, ("digits",))
    assert private_sources(settings, ()) == {}  # an exercise without datasets never reads it


def test_heldout_table_in_gradetape_toml_is_checked(tmp_path):
    (tmp_path / "gradetape.toml").write_text('[heldout]\ndigit = "private/d.npz"\n')
    with pytest.raises(ValueError, match=r"unknown keys \['digit'\]; known: \['digits'\]"):
        load_settings(tmp_path)
    (tmp_path / "gradetape.toml").write_text("[heldout]\ndigits = 3\n")
    with pytest.raises(ValueError, match="must be a file path"):
        load_settings(tmp_path)
    (tmp_path / "gradetape.toml").write_text("seed = 1\n")
    assert load_settings(tmp_path).heldout_files == {}
    assert set(heldout.FAMILIES.values()) == set(WIDTHS)
