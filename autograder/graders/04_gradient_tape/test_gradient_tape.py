"""Hidden grader for exercise 04, GradientTape (梯度带).

Every input is drawn from ``rng`` in float64, so values and shapes change with the course
seed and nothing can be hard-coded. Gradients are compared with the reference solution's to
rtol 1e-10 (atol 1e-12 for entries near zero), with the dtype: a computation done in float32
where float64 was asked fails on the dtype and on the digits. Jacobians use n != m and batch
sizes different from both, so a transposed or full Jacobian has the wrong shape. The scalar
functions below were chosen because their derivatives have closed forms, listed next to
them; the key is the reference solution's values, which agree with those forms.

The None cases: the grader records the student's hand-written predictions (one bool per
case, exact) and, separately, the value ``gradient_in_case`` returns for every case (None or
a tensor), so a prediction cannot hide a wrong computation and vice versa.

Himmelblau: starts are drawn in [0.5, 4.5] x [-4.5, 4.5] and [-4.5, -0.5] x [-4.5, 4.5] and
kept only when a NumPy run of the same descent from four starts perturbed by 1e-7 ends at the
same minimum, so no start sits on a basin boundary. Calibration: 20000 random starts in
[-4.5, 4.5]^2 all reach f < 1e-12 with (lr 0.01, 150 steps) and (lr 0.007, 200 steps), while
lr 0.015 diverges from about a quarter of them; the recorded point has atol 1e-3 and the value
atol 1e-6. The descent (350 eager tape steps) dominates the run time: measured 5.2 s with the
2 cores shared at a load average of 7.5, against 2.5 s for all the other tests together.

Questions and points (they equal the notebook's question cells):
    watch 2, persistent 2, higher_order 3, jacobians 4, none_cases 3, himmelblau 4.
"""

import numpy as np
import pytest
import tensorflow as tf

F64 = {"rtol": 1e-10, "atol": 1e-12}

NONE_CASES = (
    "trainable_variable",
    "unwatched_constant",
    "watched_constant",
    "integer_source",
    "through_numpy",
    "non_trainable_variable",
    "unconnected",
    "unconnected_as_zero",
    "rounded",
    "float32_detour",
)


def _distinct_sizes(rng, count, low=2, high=10):
    """``count`` different axis lengths from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _f64(rng, shape, scale=1.0):
    return tf.constant(rng.normal(size=shape) * scale, dtype=tf.float64)


# -- Part 1: watch -----------------------------------------------------------------------------
@pytest.mark.question("watch")
@pytest.mark.points(1)
def test_constant_gradients_two_inputs(student, rng, expect):
    n, k, m = _distinct_sizes(rng, 3)
    a, b = _f64(rng, (n, k)), _f64(rng, (k, m), 0.5)
    u = _f64(rng, (n, m))  # random weights on every output, never ones

    def f(a, b):
        return tf.reduce_sum(u * tf.tanh(a @ b)) + 0.5 * tf.reduce_sum(a**2)

    grad_a, grad_b = student.constant_gradients(f, [a, b])
    expect("grad_a", grad_a, tensor=True, **F64)
    expect("grad_b", grad_b, tensor=True, **F64)


@pytest.mark.question("watch")
@pytest.mark.points(1)
def test_constant_gradients_three_inputs(student, rng, expect):
    p, q = _distinct_sizes(rng, 2, low=3)
    c = tf.constant(rng.uniform(0.2, 0.8), dtype=tf.float64)  # a scalar input
    a, mat, v = _f64(rng, (p,)), _f64(rng, (q, p)), _f64(rng, (q,))

    def f(c, a, mat):
        return tf.reduce_sum(v * tf.sin(c * tf.linalg.matvec(mat, a))) + c**2 * tf.reduce_sum(a)

    grad_c, grad_a, grad_mat = student.constant_gradients(f, [c, a, mat])
    expect("grad_scalar", grad_c, **F64)
    expect("grad_vector", grad_a, **F64)
    expect("grad_matrix", grad_mat, **F64)


# -- Part 2: persistent tape -------------------------------------------------------------------
@pytest.mark.question("persistent")
@pytest.mark.points(2)
def test_chain_gradients(student, rng, expect):
    shapes = (("vector", (int(rng.integers(5, 12)),)), ("matrix", _distinct_sizes(rng, 2)))
    for label, shape in shapes:
        x = tf.Variable(rng.normal(size=shape) * 2, dtype=tf.float64)
        c = _f64(rng, shape)
        dz_dx, dz_dy, dy_dx = student.chain_gradients(x, c)
        expect(f"{label}_dz_dx", dz_dx, **F64)
        expect(f"{label}_dz_dy", dz_dy, **F64)
        expect(f"{label}_dy_dx", dy_dx, **F64)


# -- Part 3: higher-order derivatives ----------------------------------------------------------
# Elementwise functions and their closed-form second derivatives:
#   quartic        t^4 - 3 t^2 + sin t     f'' = 12 t^2 - 6 - sin t
#   damped_cosine  exp(-t^2/2) cos 3t      f'' = exp(-t^2/2) ((t^2 - 10) cos 3t + 6 t sin 3t)
#   t_log          t log(1 + t^2)          f'' = 2t (3 + t^2) / (1 + t^2)^2
#   tanh           tanh t                  f'' = -2 tanh t (1 - tanh^2 t)
SECOND_ORDER = (
    ("quartic", lambda t: t**4 - 3 * t**2 + tf.sin(t)),
    ("damped_cosine", lambda t: tf.exp(-(t**2) / 2) * tf.cos(3 * t)),
    ("t_log", lambda t: t * tf.math.log(1 + t**2)),
    ("tanh", tf.tanh),
)


@pytest.mark.question("higher_order")
@pytest.mark.points(2)
def test_second_derivatives(student, rng, expect):
    x = tf.constant(rng.uniform(-2.0, 2.0, size=int(rng.choice([7, 9, 11, 13]))), dtype=tf.float64)
    for name, f in SECOND_ORDER:
        df, d2f = student.first_and_second_derivative(f, x)
        expect(f"{name}_first", df, **F64)
        expect(f"{name}_second", d2f, **F64)
    grid = tf.constant(rng.uniform(-1.5, 1.5, size=_distinct_sizes(rng, 2)), dtype=tf.float64)
    df, d2f = student.first_and_second_derivative(SECOND_ORDER[0][1], grid)
    expect("matrix_second", d2f, **F64)


@pytest.mark.question("higher_order")
@pytest.mark.points(1)
def test_mixed_partial(student, rng, expect):
    shape = _distinct_sizes(rng, 2)
    x, y = _f64(rng, shape), _f64(rng, shape)
    # d2/dxdy: cos(xy) - xy sin(xy) + 6 x y^2
    sin_poly = student.mixed_partial(lambda s, t: tf.sin(s * t) + s**2 * t**3, x, y)
    expect("sin_poly", sin_poly, **F64)
    # d2/dxdy: -2 exp(x - 2y) (1 + x)
    expect("exp", student.mixed_partial(lambda s, t: s * tf.exp(s - 2 * t), x, y), **F64)


# -- Part 4: Jacobians -------------------------------------------------------------------------
@pytest.mark.question("jacobians")
@pytest.mark.points(2)
def test_jacobian(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=3, high=10)
    for label, (rows, cols) in (("wide", (m, n)), ("tall", (n, m))):
        w, b = _f64(rng, (rows, cols), 0.5), _f64(rng, (rows,))

        def f(x, w=w, b=b):
            return tf.tanh(tf.linalg.matvec(w, x) + b) + 0.1 * tf.linalg.matvec(w, x**2)

        expect(f"jacobian_{label}", student.jacobian(f, _f64(rng, (cols,))), **F64)


@pytest.mark.question("jacobians")
@pytest.mark.points(2)
def test_batch_jacobian(student, rng, expect):
    batch, n, m = _distinct_sizes(rng, 3, low=3, high=10)
    w, b = _f64(rng, (m, n), 0.5), _f64(rng, (m,))

    def f(x):
        rows = tf.reduce_sum(x**2, axis=1, keepdims=True)  # couples the inputs of one row only
        return tf.tanh(tf.matmul(x, w, transpose_b=True) + b) * rows

    expect("batch_jacobian", student.batch_jacobian(f, _f64(rng, (batch, n))), **F64)


# -- Part 5: None gradients --------------------------------------------------------------------
@pytest.mark.question("none_cases")
@pytest.mark.points(1)
def test_none_predictions(student, rng, expect):
    predictions = student.predict_none()
    for case in NONE_CASES:
        expect(f"predict_none()[{case!r}]", predictions.get(case))


@pytest.mark.question("none_cases")
@pytest.mark.points(2)
def test_gradient_in_case(student, rng, expect):
    values = rng.normal(size=_distinct_sizes(rng, 2)) * 2
    for case in NONE_CASES:
        # None where the tape loses the path; otherwise the gradient (float32_detour is only
        # float32-accurate, hence rtol 1e-5).
        expect(
            f"gradient_in_case({case!r})",
            student.gradient_in_case(case, values.copy()),
            rtol=1e-5,
            atol=1e-9,
        )


# -- Part 6: Himmelblau ------------------------------------------------------------------------
def _np_descent(start, lr, steps):
    p = np.array(start, dtype=np.float64)
    for _ in range(steps):
        x, y = p
        a, b = x * x + y - 11, x + y * y - 7
        p = p - lr * np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])
    return p


def _robust_start(rng, x_range, lr, steps):
    """A start whose descent ends at the same minimum when it is nudged by 1e-7."""
    while True:
        start = np.array([rng.uniform(*x_range), rng.uniform(-4.5, 4.5)])
        end = _np_descent(start, lr, steps)
        nudged = [
            _np_descent(start + d, lr, steps)
            for d in 1e-7 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
        ]
        if all(np.allclose(e, end, atol=1e-6) for e in nudged):
            return float(start[0]), float(start[1])


@pytest.mark.question("himmelblau")
@pytest.mark.points(1)
def test_himmelblau_values(student, rng, expect):
    for i, point in enumerate(rng.uniform(-5, 5, size=(4, 2))):
        expect(
            f"himmelblau_{i}", student.himmelblau(tf.constant(point, dtype=tf.float64)), rtol=1e-12
        )


@pytest.mark.question("himmelblau")
@pytest.mark.points(3)
@pytest.mark.timeout(40)
def test_gradient_descent_minimum(student, rng, expect):
    for label, x_range, lr, steps in (
        ("east", (0.5, 4.5), 0.01, 150),
        ("west", (-4.5, -0.5), 0.007, 200),
    ):
        start = _robust_start(rng, x_range, lr, steps)
        point, value = student.minimize_himmelblau(start, lr, steps)
        expect(f"{label}_point", point, rtol=0.0, atol=1e-3)
        expect(f"{label}_value", value, rtol=0.0, atol=1e-6)
