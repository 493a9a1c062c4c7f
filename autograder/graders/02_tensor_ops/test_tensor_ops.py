"""Hidden grader for exercise 02, tensor operations (张量运算).

Every input is drawn from ``rng``, so sizes change with the course seed and nothing can be
hard-coded. Matrices are never square and N != M wherever two sizes meet, so a wrong
reduction axis, a swapped (M, N) result or an (N, 1) - (N,) broadcast to (N, N) changes the
shape or the values. Tests only record values; the trusted side compares them with the
reference solution's, including dtype and shape, and ``tensor=True`` requires a
``tf.Tensor``. Index arguments come as int64 (what ``tf.where``/``tf.argmax`` return) and as
int32; masks include the empty, the full and the single-True case; scatter indices repeat.

Tolerances: results of the same ops in float32 use rtol=1e-5, atol=1e-6. Pairwise distances
accept both loop-free methods (difference of every pair, or the expanded square with a
matrix product): on the drawn data they differ by < 3e-6 relative, recorded with rtol=atol=1e-4
(float32) and 1e-9 (float64). Self-distances of 31-40 points near an offset make the
expanded formula round below zero on at least 2 diagonal entries in each of 500 seeds tried
(9 on average); after clipping, the reference's square roots there are at most 0.016,
so distances are recorded with atol=0.05 and the negative part of the squared distances
must be exactly 0. Float32 feature statistics use rtol=atol=1e-4, so any sound way of
computing a column's mean and standard deviation passes, and a global or per-row statistic
(wrong by O(1)) does not.

Calibration: the reference job (notebook and all 20 tests) takes about 5 s on a warm worker.

Questions and points (they equal the notebook's question cells):
    broadcasting 4, combining 4, reductions 4, pad_clip 2, gather_scatter 8, distances 4,
    normalisation 3.
"""

import numpy as np
import pytest
import tensorflow as tf

TOL = {"rtol": 1e-5, "atol": 1e-6, "tensor": True}
EXACT = {"tensor": True}


def _distinct_sizes(rng, count, low=2, high=10):
    """``count`` different axis lengths from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _floats(rng, shape, dtype=tf.float32):
    return tf.constant(rng.normal(size=shape), dtype=dtype)


# -- broadcasting ------------------------------------------------------------------------------
@pytest.mark.question("broadcasting")
@pytest.mark.points(1)
def test_outer_sum(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=3, high=12)
    expect("float", student.outer_sum(_floats(rng, n), _floats(rng, m)), **TOL)
    a = tf.constant(rng.integers(-50, 50, size=m), tf.int32)
    b = tf.constant(rng.integers(-50, 50, size=n), tf.int32)
    expect("int", student.outer_sum(a, b), **EXACT)


@pytest.mark.question("broadcasting")
@pytest.mark.points(2)
def test_mean_squared_error(student, rng, expect):
    for i in range(2):  # two batch sizes
        n = int(rng.integers(5, 25))
        y_true = _floats(rng, n)
        y_pred = y_true[:, None] + _floats(rng, (n, 1)) * 0.5
        expect(f"mse{i}", student.mean_squared_error(y_pred, y_true), **TOL)


@pytest.mark.question("broadcasting")
@pytest.mark.points(1)
def test_tile_image(student, rng, expect):
    h, w, c = _distinct_sizes(rng, 3)
    rows, cols = _distinct_sizes(rng, 2, low=2, high=5)
    expect("mosaic", student.tile_image(_floats(rng, (h, w, c)), rows, cols), **TOL)


# -- combining ---------------------------------------------------------------------------------
@pytest.mark.question("combining")
@pytest.mark.points(1)
def test_stack_channels(student, rng, expect):
    h, w, c = _distinct_sizes(rng, 3)
    planes = [_floats(rng, (h, w)) for _ in range(c)]
    expect("image", student.stack_channels(planes), **TOL)


@pytest.mark.question("combining")
@pytest.mark.points(2)
def test_split_merge_round_trip(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=5, high=14)
    x = _floats(rng, (n, m))
    cuts = np.sort(
        rng.choice(np.arange(1, m), size=int(rng.integers(2, min(m - 1, 4) + 1)), replace=False)
    )
    sizes = [int(s) for s in np.diff(np.concatenate([[0], cuts, [m]]))]  # unequal parts
    parts = student.split_columns(x, sizes)
    expect("count", len(parts))
    for k, part in enumerate(parts):
        expect(f"part{k}", part, **TOL)
    expect("round_trip", student.merge_columns(parts), **TOL)
    expect("merge_other", student.merge_columns([x, x[:, :2]]), **TOL)


@pytest.mark.question("combining")
@pytest.mark.points(1)
def test_unstack_columns(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=3, high=10)
    columns = student.unstack_columns(_floats(rng, (n, m)))
    expect("count", len(columns))
    for j, column in enumerate(columns):
        expect(f"column{j}", column, **TOL)


# -- reductions --------------------------------------------------------------------------------
@pytest.mark.question("reductions")
@pytest.mark.points(1)
def test_column_means(student, rng, expect):
    n, d = _distinct_sizes(rng, 2, low=3, high=12)
    x = _floats(rng, (n, d)) + tf.constant(rng.normal(size=d) * 5, tf.float32)
    expect("means", student.column_means(x), **TOL)
    expect("means_float64", student.column_means(_floats(rng, (d, n), tf.float64)), **TOL)


@pytest.mark.question("reductions")
@pytest.mark.points(2)
def test_row_norms(student, rng, expect):
    n, d = _distinct_sizes(rng, 2, low=3, high=12)
    x = _floats(rng, (n, d))
    expect("l1", student.row_norms(x, 1), **TOL)
    expect("l2", student.row_norms(x, 2), **TOL)
    expect("linf", student.row_norms(x, np.inf), **TOL)


@pytest.mark.question("reductions")
@pytest.mark.points(1)
def test_predicted_labels(student, rng, expect):
    n, k = _distinct_sizes(rng, 2, low=3, high=12)
    expect("labels", student.predicted_labels(_floats(rng, (n, k))), **EXACT)


# -- pad_clip ----------------------------------------------------------------------------------
@pytest.mark.question("pad_clip")
@pytest.mark.points(1)
def test_pad_images(student, rng, expect):
    b, h, w, c = _distinct_sizes(rng, 4, low=1, high=8)
    top, bottom, left, right = _distinct_sizes(rng, 4, low=0, high=5)
    images = _floats(rng, (b, h, w, c))
    expect("padded", student.pad_images(images, top, bottom, left, right), **TOL)


@pytest.mark.question("pad_clip")
@pytest.mark.points(1)
def test_clip_values(student, rng, expect):
    n, m = _distinct_sizes(rng, 2)
    low = float(np.round(rng.uniform(-1.0, -0.2), 2))
    high = float(np.round(rng.uniform(0.2, 1.0), 2))
    expect("float", student.clip_values(_floats(rng, (n, m)), low, high), **TOL)
    ints = tf.constant(rng.integers(-20, 20, size=(m, n)), tf.int32)
    expect(
        "int", student.clip_values(ints, int(rng.integers(-8, 0)), int(rng.integers(1, 8))), **EXACT
    )


# -- gather_scatter ----------------------------------------------------------------------------
@pytest.mark.question("gather_scatter")
@pytest.mark.points(1)
def test_pick_columns(student, rng, expect):
    n, m, k = _distinct_sizes(rng, 3, low=3, high=12)
    x = _floats(rng, (n, m))
    cols = rng.integers(0, m, size=k)  # repeats likely
    expect("int64", student.pick_columns(x, tf.constant(cols, tf.int64)), **TOL)
    expect("int32", student.pick_columns(x, tf.constant(cols[::-1], tf.int32)), **TOL)


@pytest.mark.question("gather_scatter")
@pytest.mark.points(1)
def test_pick_entries(student, rng, expect):
    n, m, k = _distinct_sizes(rng, 3, low=3, high=12)
    x = _floats(rng, (n, m))
    rows, cols = rng.integers(0, n, size=k), rng.integers(0, m, size=k)
    expect(
        "int64",
        student.pick_entries(x, tf.constant(rows, tf.int64), tf.constant(cols, tf.int64)),
        **TOL,
    )
    expect(
        "int32",
        student.pick_entries(x, tf.constant(rows[:-1], tf.int32), tf.constant(cols[:-1], tf.int32)),
        **TOL,
    )


@pytest.mark.question("gather_scatter")
@pytest.mark.points(2)
def test_select_rows(student, rng, expect):
    n, d = _distinct_sizes(rng, 2, low=4, high=12)
    x = _floats(rng, (n, d))
    mixed = rng.random(n) < 0.5
    yes, no = rng.choice(n, size=2, replace=False)
    mixed[yes], mixed[no] = True, False  # at least one of each
    one = np.zeros(n, dtype=bool)
    one[rng.integers(0, n)] = True
    masks = {
        "mixed": mixed,
        "none": np.zeros(n, dtype=bool),
        "all": np.ones(n, dtype=bool),
        "one": one,
    }
    for name, mask in masks.items():
        expect(name, student.select_rows(x, tf.constant(mask)), **TOL)


@pytest.mark.question("gather_scatter")
@pytest.mark.points(1)
def test_masked_fill(student, rng, expect):
    n, m = _distinct_sizes(rng, 2)
    x = _floats(rng, (n, m))
    value = float(np.round(rng.normal() * 10, 2))
    expect("float", student.masked_fill(x, x < 0.3, value), **TOL)
    ints = tf.constant(rng.integers(-9, 9, size=(m, n)), tf.int32)
    expect(
        "int",
        student.masked_fill(ints, tf.constant(rng.random((m, n)) < 0.4), int(rng.integers(20, 99))),
        **EXACT,
    )


@pytest.mark.question("gather_scatter")
@pytest.mark.points(2)
def test_class_totals(student, rng, expect):
    num_classes = int(rng.integers(4, 8))
    k = int(rng.integers(3 * num_classes, 5 * num_classes))  # many repeats per class
    labels = rng.integers(0, num_classes - 1, size=k)  # the last class never occurs
    labels[:2] = labels[2]  # one label at least three times
    values = rng.normal(size=k) + 2.0
    expect(
        "vector_int64",
        student.class_totals(
            tf.constant(labels, tf.int64), tf.constant(values, tf.float32), num_classes
        ),
        rtol=1e-5,
        atol=1e-5,
        tensor=True,
    )
    f = int(rng.integers(2, 5))
    matrix = rng.normal(size=(k, f))
    expect(
        "matrix_int32",
        student.class_totals(
            tf.constant(labels, tf.int32), tf.constant(matrix, tf.float64), num_classes
        ),
        rtol=1e-9,
        atol=1e-9,
        tensor=True,
    )


@pytest.mark.question("gather_scatter")
@pytest.mark.points(1)
def test_replace_rows(student, rng, expect):
    n, d = _distinct_sizes(rng, 2, low=5, high=12)
    x = _floats(rng, (n, d))
    k = int(rng.integers(2, n - 1))
    ids = rng.choice(n, size=k, replace=False)
    new_rows = _floats(rng, (k, d))
    expect("int64", student.replace_rows(x, tf.constant(ids, tf.int64), new_rows), **TOL)
    expect("int32", student.replace_rows(x, tf.constant(ids[:1], tf.int32), new_rows[:1]), **TOL)


# -- distances ---------------------------------------------------------------------------------
DIST32 = {"rtol": 1e-4, "atol": 1e-4, "tensor": True}
DIST64 = {"rtol": 1e-9, "atol": 1e-9, "tensor": True}


@pytest.mark.question("distances")
@pytest.mark.points(2)
def test_pairwise_sq_distances(student, rng, expect):
    n, m, d = _distinct_sizes(rng, 3, low=2, high=12)
    X, Y = _floats(rng, (n, d)) * 2.0, _floats(rng, (m, d)) * 2.0
    expect("float32", student.pairwise_sq_distances(X, Y), **DIST32)
    X64, Y64 = _floats(rng, (m, d), tf.float64), _floats(rng, (n, d), tf.float64)
    expect("float64", student.pairwise_sq_distances(X64, Y64), **DIST64)
    expect("one_feature", student.pairwise_sq_distances(X[:, :1], Y[:, :1]), **DIST32)


@pytest.mark.question("distances")
@pytest.mark.points(1)
def test_pairwise_distances_self(student, rng, expect):
    n, d = int(rng.integers(31, 41)), int(rng.integers(10, 20))
    offset = rng.normal(size=d) * 3
    X = tf.constant(rng.normal(size=(n, d)) * 3 + offset, tf.float32)
    sq = student.pairwise_sq_distances(X, X)
    expect("negative_part", tf.reduce_max(tf.maximum(-sq, 0.0)), atol=0.0, rtol=0.0)
    expect("distances", student.pairwise_distances(X, X), rtol=1e-4, atol=0.05, tensor=True)


@pytest.mark.question("distances")
@pytest.mark.points(1)
def test_pairwise_sq_distances_symbolic(student, rng, expect):
    spec = tf.TensorSpec([None, None], tf.float32)
    symbolic = tf.function(student.pairwise_sq_distances, input_signature=[spec, spec])
    for i in range(2):  # two shapes through one traced function
        n, m, d = _distinct_sizes(rng, 3, low=2, high=10)
        expect(f"shape{i}", symbolic(_floats(rng, (n, d)), _floats(rng, (m, d))), **DIST32)


# -- normalisation -----------------------------------------------------------------------------
@pytest.mark.question("normalisation")
@pytest.mark.points(2)
def test_feature_stats(student, rng, expect):
    n, d = _distinct_sizes(rng, 2, low=4, high=14)
    scale = rng.uniform(0.5, 20.0, size=d)
    shift = rng.normal(size=d) * 10
    x = tf.constant(rng.normal(size=(n, d)) * scale + shift, tf.float32)
    mean, std = student.feature_stats(x)
    expect("mean", mean, rtol=1e-4, atol=1e-4, tensor=True)
    expect("std", std, rtol=1e-4, atol=1e-4, tensor=True)
    mean64, std64 = student.feature_stats(tf.cast(x, tf.float64)[: n - 1])
    expect("mean64", mean64, **DIST64)
    expect("std64", std64, **DIST64)


@pytest.mark.question("normalisation")
@pytest.mark.points(1)
def test_standardize(student, rng, expect):
    n_train, n_test, d = _distinct_sizes(rng, 3, low=3, high=14)
    train = rng.normal(size=(n_train, d)) * rng.uniform(0.5, 5.0, size=d) + rng.normal(size=d)
    constant = int(rng.integers(0, d))
    train[:, constant] = np.round(rng.normal() * 5, 1)  # a constant feature: std exactly 0
    narrow = (constant + 1 + int(rng.integers(0, d - 1))) % d  # another feature, std in (0, 1)
    train[:, narrow] *= rng.uniform(0.1, 0.6) / train[:, narrow].std()
    mean = train.mean(axis=0, keepdims=True).astype(np.float32)
    std = train.std(axis=0, keepdims=True).astype(np.float32)
    std[0, constant] = 0.0
    mean[0, constant] = train[0, constant]
    test = rng.normal(size=(n_test, d)) * 3
    test[:, constant] = train[0, constant]
    result = student.standardize(tf.constant(test, tf.float32), tf.constant(mean), tf.constant(std))
    expect("test_batch", result, rtol=1e-5, atol=1e-5, tensor=True)
