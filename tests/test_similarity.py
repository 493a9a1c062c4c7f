"""Similarity review: a disguised copy is found; independent correct solutions are not."""

import pytest

from autograder.review.similarity import MIN_TOKENS, own_code, similar_pairs, token_count
from autograder.settings import SimilaritySettings, load_settings

ORIGINAL = '''
def pairwise_sq_distances(x, y):
    diff = tf.expand_dims(x, 1) - tf.expand_dims(y, 0)
    return tf.reduce_sum(tf.square(diff), axis=-1)

def standardize(x, mean, std):
    safe = tf.where(std > 0, std, tf.ones_like(std))
    return (x - mean) / safe

def class_totals(labels, values, num_classes):
    idx = tf.expand_dims(tf.cast(labels, tf.int64), 1)
    return tf.scatter_nd(idx, values, [num_classes] + values.shape[1:].as_list())

def row_norms(x):
    l1 = tf.reduce_sum(tf.abs(x), axis=1, keepdims=True)
    l2 = tf.sqrt(tf.reduce_sum(tf.square(x), axis=1, keepdims=True))
    linf = tf.reduce_max(tf.abs(x), axis=1, keepdims=True)
    return l1, l2, linf
'''

# the same code with every variable renamed and the functions in another order
DISGUISED = '''
def row_norms(m):
    first = tf.reduce_sum(tf.abs(m), axis=1, keepdims=True)
    second = tf.sqrt(tf.reduce_sum(tf.square(m), axis=1, keepdims=True))
    inf = tf.reduce_max(tf.abs(m), axis=1, keepdims=True)
    return first, second, inf

def class_totals(lab, vals, k):
    where = tf.expand_dims(tf.cast(lab, tf.int64), 1)
    return tf.scatter_nd(where, vals, [k] + vals.shape[1:].as_list())

def pairwise_sq_distances(a, b):
    d = tf.expand_dims(a, 1) - tf.expand_dims(b, 0)
    return tf.reduce_sum(tf.square(d), axis=-1)

def standardize(data, mu, sigma):
    s = tf.where(sigma > 0, sigma, tf.ones_like(sigma))
    return (data - mu) / s
'''

# an independent correct solution of the same functions
INDEPENDENT = '''
def pairwise_sq_distances(x, y):
    xx = tf.reduce_sum(x * x, axis=1)[:, None]
    yy = tf.reduce_sum(y * y, axis=1)[None, :]
    return tf.maximum(xx - 2.0 * tf.matmul(x, y, transpose_b=True) + yy, 0.0)

def standardize(x, mean, std):
    std = tf.maximum(std, 0.0)
    return tf.math.divide_no_nan(x - mean, std) + tf.cast(std == 0, x.dtype) * (x - mean)

def class_totals(labels, values, num_classes):
    one_hot = tf.one_hot(labels, depth=num_classes, dtype=values.dtype)
    return tf.tensordot(one_hot, values, axes=[[0], [0]])

def row_norms(x):
    return (tf.norm(x, ord=1, axis=1, keepdims=True),
            tf.norm(x, ord=2, axis=1, keepdims=True),
            tf.norm(x, ord=float("inf"), axis=1, keepdims=True))
'''

BLANK = '''
def pairwise_sq_distances(x, y):
    raise NotImplementedError()

def standardize(x, mean, std):
    raise NotImplementedError()
'''


def test_renamed_and_reordered_copy_is_flagged():
    pairs = similar_pairs({"alice": ORIGINAL, "bob": DISGUISED, "carol": INDEPENDENT}, BLANK)
    assert [(p.student_a, p.student_b) for p in pairs] == [("alice", "bob")]
    assert pairs[0].similarity > 0.8
    assert "[[" in pairs[0].code_a and "[[" in pairs[0].code_b


def test_independent_solutions_are_not_flagged():
    assert similar_pairs({"alice": ORIGINAL, "carol": INDEPENDENT}, BLANK) == []


def test_blank_boilerplate_alone_is_not_similarity():
    assert similar_pairs({"x": BLANK, "y": BLANK}, BLANK) == []


# Two hand-typed one-line answers: alike because there is one way to write them.
ONE_LINER_A = "def mean_rows(x):\n    return tf.reduce_mean(x, axis=1)  # rows\n"
ONE_LINER_B = "def mean_rows(x):\n    return tf.reduce_mean(x, axis=1)\n"


def test_short_code_is_not_compared_unless_the_threshold_allows_it():
    assert token_count(ONE_LINER_A) == token_count(ONE_LINER_B) < MIN_TOKENS  # comments ignored
    codes = {"a": ONE_LINER_A, "b": ONE_LINER_B}
    flagged = similar_pairs(codes, BLANK, min_tokens=0)  # winnowing alone calls them 100 %
    assert [(p.student_a, p.student_b, p.similarity) for p in flagged] == [("a", "b", 1.0)]
    assert similar_pairs(codes, BLANK) == []


def test_code_identical_to_the_release_is_not_compared():
    release = ORIGINAL  # an exercise that hands out working code to extend
    assert similar_pairs({"x": ORIGINAL, "y": "# mine\n" + ORIGINAL}, release, min_tokens=0) == []


def test_own_code_drops_cells_identical_to_the_release():
    release = {"q1": BLANK, "q2": "def f(x):\n    raise NotImplementedError()\n"}
    cells = {
        "q1": "# untouched\n" + BLANK.replace("    ", "        "),  # same tokens, new layout
        "q2": ORIGINAL,
        "extra-1": "print('hi')",
    }
    code = own_code(cells, release)
    assert "NotImplementedError" not in code
    assert ORIGINAL in code and "print('hi')" in code


def test_tokens_of_code_python_cannot_parse():
    assert token_count("def f(:\n  return 'unclosed") > 0


def test_similarity_settings_from_gradetape_toml(tmp_path):
    (tmp_path / "gradetape.toml").write_text("[similarity]\nmin_tokens = 12\nthreshold = 0.7\n")
    assert load_settings(tmp_path).similarity == SimilaritySettings(12, 0.7)
    for bad in ("min_tokens = -1", "min_tokens = 'ten'", "threshold = 3", "tokens = 5"):
        (tmp_path / "gradetape.toml").write_text(f"[similarity]\n{bad}\n")
        with pytest.raises(ValueError, match=r"\[similarity\]"):
            load_settings(tmp_path)
