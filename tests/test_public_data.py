"""Review flags for solution code that could look the held-out labels up."""

from pathlib import Path

import pytest

from autograder.judge.public_data import MAX_LITERAL_VALUES, public_data_flags
from autograder.judge.review_flags import review_flags
from autograder.load.exercise import exercise_names, load_exercise
from autograder.load.release import solution_sources
from autograder.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent

# A lookup-table "solution" of 07's fit_digits: no training, every held-out digit's label
# read from the public set (without a private evaluation file it scores full marks).
LOOKUP_07 = '''
def fit_digits(x_train, y_train, epochs=15, batch_size=32, learning_rate=0.1, clip_norm=5.0,
               seed=0):
    from sklearn.datasets import load_digits
    public = load_digits()
    table = {tuple(row): label for row, label in zip(public.data, public.target)}

    class Lookup:
        def __call__(self, features):
            rows = np.rint(np.asarray(features) * 16.0)   # undo preprocess
            return tf.one_hot([table.get(tuple(r), 0) for r in rows], 10)

    return Lookup()
'''

DODGES = {
    "module by string": "m = __import__('sklearn.datasets', fromlist=['x'])\n",
    "attribute path": "import sklearn\nbunch = sklearn.datasets.load_digits()\n",
    "labels of any bunch": "def labels(bunch):\n    return bunch.target\n",
    "labels by key": "def labels(bunch):\n    return bunch['target']\n",
    "the csv on disk": "import numpy as np\nrows = np.loadtxt(path_of_digits_csv, delimiter=',')\n",
    "a file opened": "with open(name, 'rb') as f:\n    blob = f.read()\n",
    "numpy load": "import numpy as np\nz = np.load(p)\n",
    "keras datasets": "from keras.datasets import mnist\n",
    "openml": "from sklearn import datasets\nd = datasets.fetch_openml('mnist_784')\n",
    "pasted table": "LABELS = [" + ", ".join(str(i % 10) for i in range(MAX_LITERAL_VALUES + 1)) + "]\n",
    "pasted string": "LABELS = '" + "0123456789" * 500 + "'\n",
    "does not parse": "from sklearn.datasets import load_digits\ndef f(:\n",
}


def test_a_lookup_solution_for_07_is_flagged():
    flags = review_flags({"fit_digits_impl": LOOKUP_07})
    assert any(f.startswith("cell `fit_digits_impl` loads a public dataset itself") for f in flags)
    assert any(f.startswith("cell `fit_digits_impl` reads a dataset's labels (.target)") for f in flags)


@pytest.mark.parametrize("name", sorted(DODGES))
def test_each_way_to_reach_public_labels_is_flagged(name):
    assert public_data_flags(DODGES[name]), name


@pytest.mark.parametrize(
    "source",
    [
        "import json\nwith_target = 3\nmodel.fit(x, y)\n",
        "def load_model_file(path):\n    return keras.models.load_model(path)\n",
        "import numpy as np\nw = np.zeros((64, 10))\nlookup = {0: 1}\n",
    ],
)
def test_ordinary_code_is_not_flagged(source):
    assert public_data_flags(source) == []


def test_no_reference_solution_is_flagged():
    settings = load_settings(ROOT)
    for name in exercise_names(settings):
        for cell, source in solution_sources(load_exercise(settings, name)).items():
            assert public_data_flags(source) == [], f"{name}/{cell}"
