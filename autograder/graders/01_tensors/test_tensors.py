"""Hidden grader for exercise 01, tensors (张量).

Every input is drawn from ``rng``, so sizes change with the course seed and nothing can be
hard-coded. Shapes are odd and never square (every axis of an image batch has a different
length), so axis mix-ups, transposes without ``perm`` and (N, N) accidents show. Tests only
record values; the trusted side compares them with the reference solution's, including
dtype and shape, and ``tensor=True`` requires a ``tf.Tensor`` where the notebook asks
for one. Calibration: the whole file runs in about a second on the reference solution.

Questions and points (they equal the notebook's question cells):
    creation 3, dtypes 2, indexing 4, reshaping 6.
"""

import numpy as np
import pytest
import tensorflow as tf

TOL = {"rtol": 1e-6, "tensor": True}


def _distinct_sizes(rng, count, low=2, high=10):
    """``count`` different axis lengths from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _floats(rng, shape):
    return tf.constant(rng.normal(size=shape), dtype=tf.float32)


# -- creation ---------------------------------------------------------------------------------
@pytest.mark.question("creation")
@pytest.mark.points(1)
def test_filled(student, rng, expect):
    shape = list(_distinct_sizes(rng, 3))
    value = float(np.round(rng.normal() * 10, 3))
    expect("filled_float64", student.filled(shape, value, tf.float64), **TOL)
    count = int(rng.integers(-50, 50))
    expect("filled_int32", student.filled([int(rng.integers(3, 9))], count, tf.int32), **TOL)


@pytest.mark.question("creation")
@pytest.mark.points(2)
def test_arange_matrix(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=3, high=12)
    expect("arange_matrix", student.arange_matrix(n, m), **TOL)
    expect("arange_matrix_transposed", student.arange_matrix(m, n), **TOL)


# -- dtypes ------------------------------------------------------------------------------------
@pytest.mark.question("dtypes")
@pytest.mark.points(1)
def test_scale_pixels(student, rng, expect):
    shape = _distinct_sizes(rng, 4)
    images = tf.constant(rng.integers(0, 256, size=shape), dtype=tf.uint8)
    expect("scaled", student.scale_pixels(images), **TOL)


@pytest.mark.question("dtypes")
@pytest.mark.points(1)
def test_round_to_int(student, rng, expect):
    shape = _distinct_sizes(rng, 2, low=5, high=12)
    values = rng.normal(size=shape) * 8
    halves = rng.random(size=shape) < 0.3  # some exact ties, both signs
    values = np.where(halves, np.floor(values) + 0.5, values)
    expect("rounded", student.round_to_int(tf.constant(values, dtype=tf.float32)), **TOL)


# -- indexing ----------------------------------------------------------------------------------
@pytest.mark.question("indexing")
@pytest.mark.points(1)
def test_every_other_row(student, rng, expect):
    rows = int(rng.choice([5, 7, 9, 11]))  # odd, so rows 0, 2, ... and 1, 3, ... differ
    cols = int(rng.integers(2, 5))
    expect("matrix", student.every_other_row(_floats(rng, (rows, cols))), **TOL)
    depth, width = _distinct_sizes(rng, 2)
    expect("rank3", student.every_other_row(_floats(rng, (rows + 2, depth, width))), **TOL)


@pytest.mark.question("indexing")
@pytest.mark.points(1)
def test_last_column(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=3, high=12)
    expect("last_column", student.last_column(_floats(rng, (n, m))), **TOL)


@pytest.mark.question("indexing")
@pytest.mark.points(2)
def test_sub_block(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=8, high=14)
    x = _floats(rng, (n, m))
    top, left = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    height = int(rng.integers(2, n - top - 1))  # leaves at least one row and column spare
    width = int(rng.integers(2, m - left - 1))
    expect("block", student.sub_block(x, top, left, height, width), **TOL)


# -- reshaping ---------------------------------------------------------------------------------
@pytest.mark.question("reshaping")
@pytest.mark.points(1)
def test_add_batch_axis(student, rng, expect):
    shape = _distinct_sizes(rng, 3)
    expect("batched", student.add_batch_axis(_floats(rng, shape)), **TOL)


@pytest.mark.question("reshaping")
@pytest.mark.points(1)
def test_drop_unit_axes(student, rng, expect):
    a, b = _distinct_sizes(rng, 2)
    # Every input has a second length-1 axis that must survive.
    expect("front", student.drop_unit_axes(_floats(rng, (1, a, 1, b)), [0]), **TOL)
    expect("negative", student.drop_unit_axes(_floats(rng, (a, 1, b, 1)), [-1]), **TOL)
    expect("two_of_three", student.drop_unit_axes(_floats(rng, (1, a, 1, b, 1)), [0, 4]), **TOL)


@pytest.mark.question("reshaping")
@pytest.mark.points(1)
def test_channels_first(student, rng, expect):
    shape = _distinct_sizes(rng, 4)  # N, H, W, C all different: H != W
    expect("nchw", student.channels_first(_floats(rng, shape)), **TOL)


@pytest.mark.question("reshaping")
@pytest.mark.points(1)
def test_merge_last_two_axes(student, rng, expect):
    shape = _distinct_sizes(rng, 4)
    expect("rank4", student.merge_last_two_axes(_floats(rng, shape)), **TOL)
    expect("rank2", student.merge_last_two_axes(_floats(rng, shape[:2])), **TOL)


@pytest.mark.question("reshaping")
@pytest.mark.points(2)
def test_merge_last_two_axes_symbolic(student, rng, expect):
    merge = tf.function(
        student.merge_last_two_axes,
        input_signature=[tf.TensorSpec([None, None, None], tf.float32)],
    )
    for i in range(2):  # two shapes through one traced function
        expect(f"shape{i}", merge(_floats(rng, _distinct_sizes(rng, 3))), **TOL)
