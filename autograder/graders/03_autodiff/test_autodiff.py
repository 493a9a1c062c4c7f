"""Hidden grader for exercise 03, automatic differentiation from scratch (自动微分).

Every function, point, step and graph is drawn from ``rng``, so nothing can be hard-coded.
Tests only record values; the trusted side compares them with the reference solution's.

* Numerical differentiation (数值微分): the forward and central differences are recorded at
  seed-drawn steps h in [1e-4, 1e-2], where the two formulas differ by about h/2 * f'' (far
  above the tolerance) while two correct implementations differ only by rounding, hence
  ``rtol=1e-9, atol=1e-10``. ``numerical_gradient`` must be within ``atol=1e-8`` of the
  reference (central differences with h = 1e-5, about 1e-10 from the exact gradient).
  Calibration over 200 drawn test functions (values up to 13, gradients up to 6): central
  differences stay within 5e-9 of the exact gradient for every step from 5e-7 to 3e-5;
  h = 1e-4 is off by more than 1e-8 on 77% of the functions (the test draws three), h = 1e-7
  on 6%, h = 1e-2 and 1e-12 on all; forward differences at their best step are off by 6e-8
  (median), so they fail too. The caller's array must come back unchanged (to 1e-12).
* Dual numbers (对偶数) and forward mode (前向模式): values and derivative parts are recorded
  with ``rtol=1e-12, atol=1e-12``. At authoring time the reference agreed with
  ``tf.autodiff.ForwardAccumulator`` in float64 to better than 1e-14 on these expressions.
* Reverse mode (反向模式): graphs are built with the given ``Node`` constructor (so
  ``topological_order`` and ``backpropagate`` are graded on their own) or, for
  ``reverse_gradient``, with the student's operations. Every graph reuses nodes (``a * a``,
  one node feeding two consumers, diamonds whose two paths have different lengths), which
  catches ``=`` instead of ``+=``, forward instead of reverse order and breadth-first walks.
  The chain-and-diamond graph is backpropagated twice (``.grad`` must be reset before each
  pass, not accumulated across passes). Upstream gradients are random. Gradients are
  recorded with ``rtol=1e-10, atol=1e-12``; the reference agreed with ``tf.GradientTape`` in
  float64 to better than 1e-14.

The whole file runs in well under a second on the reference solution.

Questions and points (they equal the notebook's question cells):
    numerical 5, dual_numbers 4, forward_mode 4, graph 4, reverse_mode 6.
"""

import math
from functools import partial

import numpy as np
import pytest

NUMERIC = {"rtol": 1e-9, "atol": 1e-10}
DUAL = {"rtol": 1e-12, "atol": 1e-12}
GRAPH = {"rtol": 1e-10, "atol": 1e-12}


# -- helpers ----------------------------------------------------------------------------------
def smooth_function(rng, n):
    """A seed-drawn smooth f: R^n -> R (NumPy, float64) with values of order 2 to 15."""
    amp = rng.uniform(0.5, 2.0, size=n)
    freq = rng.uniform(1.0, 2.5, size=n)
    sym = rng.normal(size=(n, n)) / 4
    quad = sym + sym.T
    w = rng.uniform(-0.5, 0.5, size=n)
    offset = rng.uniform(2.0, 5.0)

    def f(x):
        return float(offset + np.sum(amp * np.sin(freq * x)) + 0.5 * x @ quad @ x + np.exp(w @ x))

    return f


def floats(rng, size, low=-1.5, high=1.5):
    return np.array(rng.uniform(low, high, size=size), dtype=np.float64)


def pair(d):
    """The value and derivative parts of a dual number, as float64."""
    return np.array([float(d.value), float(d.deriv)])


def local(node, parent):
    """d(node)/d(parent) from one node's local gradients (a parent may appear twice)."""
    pairs = zip(node.parents, node.local_grads, strict=True)
    return sum(float(g) for p, g in pairs if p is parent)


def grads(nodes):
    return np.array([float(n.grad) for n in nodes])


# Expressions written once for dual numbers (ops = dual_sin, dual_exp) and, at authoring
# time, for tensors (tf.sin, tf.exp) to check the reference with ForwardAccumulator.
def expressions(c):
    """Five one-variable expressions with seed-drawn coefficients ``c``."""
    return {
        "polynomial": lambda x, sin, exp: c[0] + c[1] * x + c[2] * x * x - c[3] * x * x * x,
        "exp_times_sin": lambda x, sin, exp: exp(c[4] * x) * sin(c[5] * x + c[6]),
        "sigmoid": lambda x, sin, exp: 1 / (1 + exp(-c[1] * x)) * c[2],
        "quotient": lambda x, sin, exp: (x * x - c[3]) / (x + 3.0 + c[4] ** 2),
        "nested": lambda x, sin, exp: sin(exp(c[6] * x) * x) * x - 3 - 2 / (x * x + 1),
    }


def multivariate(c, n):
    """f(x_1..x_n) with products of neighbours, a sine and an exponential (dual numbers)."""

    def f(*xs, sin, exp):
        out = 0.0
        for i in range(n):
            out = out + c[i] * xs[i] * xs[(i + 1) % n]
        total = 0.0
        for i in range(n):
            total = total + c[n + i] * xs[i]
        return out + sin(xs[0] * xs[-1]) + exp(total * 0.5) - 1 / (xs[1] * xs[1] + 2)

    return f


# -- numerical differentiation ------------------------------------------------------------------
@pytest.mark.question("numerical")
@pytest.mark.points(1)
def test_forward_difference(student, rng, expect):
    n = int(rng.integers(3, 7))
    f = smooth_function(rng, n)
    x = floats(rng, n)
    x_before = x.copy()
    h = float(10.0 ** rng.uniform(-4, -2))
    expect("gradient", np.asarray(student.forward_difference(f, x, h)), **NUMERIC)
    expect("x_after_call", x - x_before, rtol=0, atol=1e-12)


@pytest.mark.question("numerical")
@pytest.mark.points(2)
def test_central_difference(student, rng, expect):
    n = int(rng.integers(3, 7))
    f = smooth_function(rng, n)
    x = floats(rng, n)
    x_before = x.copy()
    for k in range(2):
        h = float(10.0 ** rng.uniform(-4, -2))
        expect(f"gradient_{k}", np.asarray(student.central_difference(f, x, h)), **NUMERIC)
    expect("x_after_call", x - x_before, rtol=0, atol=1e-12)


@pytest.mark.question("numerical")
@pytest.mark.points(2)
def test_numerical_gradient(student, rng, expect):
    for k in range(3):
        n = int(rng.integers(2, 7))
        f = smooth_function(rng, n)
        x = floats(rng, n)
        expect(f"gradient_{k}", np.asarray(student.numerical_gradient(f, x)), rtol=0, atol=1e-8)


# -- dual numbers ---------------------------------------------------------------------------------
def _duals(rng, student):
    a, da, b, db = (float(v) for v in rng.uniform(0.5, 2.5, size=4) * rng.choice([-1, 1], 4))
    return student.Dual(a, da), student.Dual(b, db), float(rng.uniform(-3, 3))


@pytest.mark.question("dual_numbers")
@pytest.mark.points(1)
def test_dual_add_sub(student, rng, expect):
    u, v, c = _duals(rng, student)
    expect("construct", pair(student.Dual(c)), **DUAL)
    expect("dual_plus_dual", pair(u + v), **DUAL)
    expect("dual_plus_number", pair(u + c), **DUAL)
    expect("number_plus_dual", pair(c + u), **DUAL)
    expect("dual_minus_dual", pair(u - v), **DUAL)
    expect("number_minus_dual", pair(c - v), **DUAL)


@pytest.mark.question("dual_numbers")
@pytest.mark.points(2)
def test_dual_mul_div(student, rng, expect):
    u, v, c = _duals(rng, student)
    expect("dual_times_dual", pair(u * v), **DUAL)
    expect("dual_times_number", pair(u * c), **DUAL)
    expect("number_times_dual", pair(c * v), **DUAL)
    expect("dual_over_dual", pair(u / v), **DUAL)
    expect("dual_over_number", pair(v / (c + 4.0)), **DUAL)
    expect("number_over_dual", pair(c / u), **DUAL)
    expect("square", pair(v * v), **DUAL)


@pytest.mark.question("dual_numbers")
@pytest.mark.points(1)
def test_dual_sin_exp(student, rng, expect):
    u, v, c = _duals(rng, student)
    expect("sin", pair(student.dual_sin(u)), **DUAL)
    expect("exp", pair(student.dual_exp(v)), **DUAL)
    expect("sin_of_number", pair(student.dual_sin(c)), **DUAL)
    expect("exp_of_number", pair(student.dual_exp(c)), **DUAL)
    expect("exp_of_sin", pair(student.dual_exp(student.dual_sin(v))), **DUAL)


# -- forward mode ----------------------------------------------------------------------------------
@pytest.mark.question("forward_mode")
@pytest.mark.points(2)
def test_derivative(student, rng, expect):
    coef = [float(v) for v in rng.uniform(0.5, 2.0, size=7) * rng.choice([-1, 1], 7)]
    for name, expr in expressions(coef).items():
        points = floats(rng, 3, -1.5, 1.5)
        f = partial(expr, sin=student.dual_sin, exp=student.dual_exp)
        values = [float(student.derivative(f, p)) for p in points.tolist()]
        expect(name, np.array(values), **DUAL)


@pytest.mark.question("forward_mode")
@pytest.mark.points(2)
def test_forward_gradient(student, rng, expect):
    n = int(rng.integers(3, 7))
    coef = [float(v) for v in rng.uniform(-1.5, 1.5, size=2 * n)]
    f = multivariate(coef, n)
    point = floats(rng, n).tolist()
    got = student.forward_gradient(
        lambda *xs: f(*xs, sin=student.dual_sin, exp=student.dual_exp), point
    )
    expect("gradient", np.asarray(got, dtype=np.float64), **DUAL)


# -- computation graph -----------------------------------------------------------------------------
@pytest.mark.question("graph")
@pytest.mark.points(2)
def test_node_ops(student, rng, expect):
    Node = student.Node
    va, vb = (float(v) for v in rng.uniform(0.3, 1.8, size=2) * rng.choice([-1, 1], 2))
    c = float(rng.uniform(-3, 3))
    a, b = Node(va), Node(vb)
    results = {
        "a_plus_b": a + b,
        "a_plus_number": a + c,
        "number_plus_a": c + a,
        "a_times_b": a * b,
        "a_times_number": a * c,
        "number_times_b": c * b,
        "a_times_a": a * a,
        "tanh_a": a.tanh(),
        "exp_b": b.exp(),
    }
    for name, node in results.items():
        expect(name, np.array([float(node.value), local(node, a), local(node, b)]), **GRAPH)


def random_dag(rng, Node):
    """A random graph of 30 to 45 nodes, built with the constructor only.

    A chain runs through every inner node; there are diamonds, a node with the same parent
    twice and a node the root does not depend on. Node values are distinct labels 0, 1, 2...
    """
    n_leaves, n_inner = int(rng.integers(3, 6)), int(rng.integers(25, 40))
    nodes = [Node(float(i)) for i in range(n_leaves)]
    for _ in range(n_inner):
        last = nodes[-1]
        other = nodes[int(rng.integers(0, len(nodes)))]
        kind = rng.random()
        parents = (last,) if kind < 0.2 else (last, last) if kind < 0.3 else (other, last)
        nodes.append(Node(float(len(nodes)), parents, [1.0] * len(parents)))
    outsider = Node(float(len(nodes)), (nodes[1],), (1.0,))  # uses a leaf, not an ancestor
    nodes.append(outsider)
    root = Node(float(len(nodes)), (nodes[-2], nodes[n_leaves // 2]), (1.0, 1.0))
    return root


@pytest.mark.question("graph")
@pytest.mark.points(2)
def test_topological_order(student, rng, expect):
    for k in range(2):
        root = random_dag(rng, student.Node)
        order = list(student.topological_order(root))
        position = {}
        for i, node in enumerate(order):
            position.setdefault(id(node), i)
        misplaced = sum(
            1
            for node in order
            for parent in node.parents
            if position.get(id(parent), len(order)) >= position[id(node)]
        )
        expect(f"length_{k}", len(order))
        expect(f"distinct_nodes_{k}", len(position))
        expect(f"node_labels_{k}", np.sort([float(n.value) for n in order]), rtol=0)
        expect(f"edges_out_of_order_{k}", misplaced)
        expect(f"last_is_root_{k}", float(order[-1].value), rtol=0)


# -- reverse mode ----------------------------------------------------------------------------------
def _node(Node, value, *pairs):
    """A node with (parent, local gradient) pairs."""
    return Node(value, [p for p, _ in pairs], [g for _, g in pairs])


def shared_graphs(rng, Node):
    """Two graphs, built with the constructor only, in which nodes are reused.

    1. out = a*b + a*a           (a used three times; a*a has a twice among its parents)
    2. u = tanh(a*b); out = u*c + exp(u)   (u feeds two consumers; a feeds one)
    """
    va, vb, vc = (float(v) for v in rng.uniform(0.3, 1.5, size=3) * rng.choice([-1, 1], 3))
    a, b = Node(va), Node(vb)
    ab = _node(Node, va * vb, (a, vb), (b, va))
    aa = _node(Node, va * va, (a, va), (a, va))
    out1 = _node(Node, ab.value + aa.value, (ab, 1.0), (aa, 1.0))
    graph1 = (out1, [a, b, ab, aa, out1])

    a2, b2, c2 = Node(va), Node(vb), Node(vc)
    p = _node(Node, va * vb, (a2, vb), (b2, va))
    t = math.tanh(p.value)
    u = _node(Node, t, (p, 1 - t * t))
    v = _node(Node, t * vc, (u, vc), (c2, t))
    w = _node(Node, math.exp(t), (u, math.exp(t)))
    out2 = _node(Node, v.value + w.value, (v, 1.0), (w, 1.0))
    graph2 = (out2, [a2, b2, c2, p, u, v, w, out2])
    return graph1, graph2


def chain_diamond(rng, Node):
    """A chain of scale-and-tanh steps from x to p, then a diamond with uneven paths.

    The diamond's paths p*y and tanh(exp(p/2)) + y have different lengths, are merged by a
    product and a final tanh, and y feeds both. Built with the constructor only; the local
    gradients are exact, so the graph computes a real function of x and y.
    """
    x, y = Node(float(rng.uniform(-1, 1))), Node(float(rng.uniform(-1, 1)))
    h = x
    chain = []
    for _ in range(int(rng.integers(3, 7))):
        s = float(rng.uniform(0.5, 1.5) * rng.choice([-1, 1]))
        m = _node(Node, s * h.value, (h, s))
        t = math.tanh(m.value)
        h = _node(Node, t, (m, 1 - t * t))
        chain += [m, h]
    p = h
    q = _node(Node, p.value * y.value, (p, y.value), (y, p.value))
    e = math.exp(0.5 * p.value)
    r1 = _node(Node, e, (p, 0.5 * e))
    t = math.tanh(r1.value)
    r2 = _node(Node, t, (r1, 1 - t * t))
    r3 = _node(Node, r2.value + y.value, (r2, 1.0), (y, 1.0))
    merge = _node(Node, q.value * r3.value, (q, r3.value), (r3, q.value))
    t = math.tanh(merge.value)
    out = _node(Node, t, (merge, 1 - t * t))
    return out, [x, y] + chain + [q, r1, r2, r3, merge, out]


@pytest.mark.question("reverse_mode")
@pytest.mark.points(2)
def test_backward_shared_node(student, rng, expect):
    for k, (out, nodes) in enumerate(shared_graphs(rng, student.Node)):
        upstream = float(rng.uniform(0.5, 2.0) * rng.choice([-1, 1]))
        student.backpropagate(out, upstream)
        expect(f"grads_graph{k + 1}", grads(nodes), **GRAPH)


@pytest.mark.question("reverse_mode")
@pytest.mark.points(2)
def test_backward_chain_diamond(student, rng, expect):
    out, nodes = chain_diamond(rng, student.Node)
    upstream = float(rng.uniform(0.5, 2.0) * rng.choice([-1, 1]))
    student.backpropagate(out, upstream)
    expect("grads", grads(nodes), **GRAPH)
    # A second pass over the same graph: the grads must be this pass's alone (reset first).
    upstream = float(rng.uniform(0.5, 2.0) * rng.choice([-1, 1]))
    student.backpropagate(out, upstream)
    expect("grads_second_pass", grads(nodes), **GRAPH)


def reverse_expression(c):
    """f(a, b, c) with reuse, written with Node operations (and, at authoring time, tf ops)."""

    def f(a, b, d, tanh, exp):
        u = a * b + a * a
        v = tanh(u * c[0] + d)
        return v * u + exp(v * c[1]) * b - c[2] * d * d + (a - 1.5) * v

    return f


@pytest.mark.question("reverse_mode")
@pytest.mark.points(2)
def test_reverse_gradient(student, rng, expect):
    f = reverse_expression([float(v) for v in rng.uniform(-1.5, 1.5, size=3)])
    Node = student.Node
    for k in range(2):
        point = floats(rng, 3, -1.2, 1.2).tolist()
        got = student.reverse_gradient(
            lambda a, b, d: f(a, b, d, tanh=Node.tanh, exp=Node.exp), point
        )
        expect(f"gradient_{k}", np.asarray(got, dtype=np.float64), **GRAPH)
