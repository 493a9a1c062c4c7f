"""Hidden grader for exercise 11, recurrent networks (循环神经网络).

Every size is drawn from ``rng`` and, within a test, batch, time steps, features, units (and
classes) all differ, so swapped kernels raise and a confused time and batch axis shows in the
shape. Tests only record values; the trusted side compares them with the reference's.

* Hand-written cells against Keras layers: the grader builds ``keras.layers.SimpleRNN``,
  ``LSTM`` or ``GRU`` with seed-drawn weights (biases included, so every bias slice matters),
  passes those weights to the student's function as float32 tensors and records the result
  (rtol 1e-5, atol 1e-5: the reference equals the Keras layers bit for bit, summing in
  another order moves a state by about 1e-6). The single steps start from a random non-zero
  state (and memory); the SimpleRNN is unrolled by the student (last state and
  ``return_sequences=True``), the LSTM and GRU steps by the grader from zero states, which
  gives exactly ``keras.layers.LSTM/GRU(return_sequences=True)``.
  ``lstm_gates`` is recorded block by block on a kernel, a recurrent kernel and a bias.
* Parameter counts: six seed-drawn (features, units) pairs, two per layer kind, exact.
* Clipping: a SimpleRNN -> Dense classifier whose output kernel is scaled by 30-60 and whose
  labels are the least likely classes, so the gradients are large (global norm 40-220, five
  tensors of very different norms); plain SGD. Without clipping (``clip_norm`` a thousand
  times the norm) the test records the loss, the returned norm, every weight after the
  step and whether the forward pass ran with ``training=True`` (a weightless probe layer
  notes the flag). With ``clip_norm`` the grader's own global norm divided by 10-40, it records the
  weights after the step, the global norm of the update divided by the learning rate
  (= ``clip_norm``) and its cosine with the unclipped gradient (= 1): per-tensor clipping,
  clipping by value and clipping after the update all change the weights and the norm;
  always rescaling to ``clip_norm`` fails the unclipped test.
* Digits: ``digits_to_sequences`` on seed-drawn pixel arrays (rows are time steps) and the
  logits shape of ``build_sequence_model`` (10 classes); then
  ``train_digits(x_train, y_train, seed=s)`` on the held-out ``digits`` split (1347 training
  images) with the student's defaults and ``predict_digits`` on its 450 test images, whose
  labels never enter the sandbox; the trusted side requires an accuracy of at least 0.95.
  Calibration: the reference (GRU(64) -> Dense(10), Adam 0.01, batch 64, 15 epochs, global
  norm clipping at 1 through ``tf.function(train_step)``) reached at least 0.971 (mean 0.982)
  over 24 stratified 75/25 splits (``random_state`` 0-23) with 24 different seeds; with 10
  epochs the worst split fell to 0.953, hence 15. One training run takes 4.6-5.7 s of CPU
  (about 2.5 s of it tracing) and 9-20 s of wall time at load 5-7 on 2 cores.

The rest of the file takes about 1.5 s of CPU. The reference's whole grading job (the
notebook, whose digits self-check trains once too, and these tests) took 10-26 s of wall
time at load 4-5 on 2 cores.

Questions and points (they equal the notebook's question cells):
    simple_rnn 5, lstm 4, gru 3, param_counts 2, clipping 4, digits 4.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

# Hand-written cells vs the reference: an equivalent formulation that sums in another order
# differs by about 1e-6 on states of size 1 (float32), more after several time steps.
F32 = {"rtol": 1e-5, "atol": 1e-5}
# Weights after one SGD step with gradients in the hundreds: float32 rounding of w - lr * g.
STEP = {"rtol": 1e-5, "atol": 1e-5}
ACCURACY_THRESHOLD = 0.95


def _distinct_sizes(rng, count, low=2, high=12):
    """``count`` different sizes from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _normal(rng, shape, scale=1.0):
    return tf.constant(rng.normal(0.0, scale, size=shape), dtype=tf.float32)


def _layer_weights(rng, layer, input_shape, scale=0.6):
    """Build ``layer`` for ``input_shape``, give it weights from ``rng``, return them as tensors."""
    layer.build(input_shape)
    layer.set_weights(
        [rng.normal(0.0, scale, size=w.shape).astype(np.float32) for w in layer.weights]
    )
    return [tf.constant(w) for w in layer.get_weights()]


# -- simple_rnn -------------------------------------------------------------------------------
@pytest.mark.question("simple_rnn")
@pytest.mark.points(1)
def test_rnn_cell_step(student, rng, expect):
    batch, features, units = _distinct_sizes(rng, 3)
    kernel, recurrent_kernel, bias = _layer_weights(
        rng, keras.layers.SimpleRNN(units), (None, 1, features)
    )
    x_t = _normal(rng, (batch, features))
    h = tf.constant(rng.uniform(-0.9, 0.9, size=(batch, units)), dtype=tf.float32)
    expect("new_state", student.rnn_cell_step(x_t, h, kernel, recurrent_kernel, bias), **F32)


@pytest.mark.question("simple_rnn")
@pytest.mark.points(2)
def test_simple_rnn_last_state(student, rng, expect):
    batch, time, features, units = _distinct_sizes(rng, 4)
    weights = _layer_weights(rng, keras.layers.SimpleRNN(units), (None, time, features))
    x = _normal(rng, (batch, time, features))
    expect("last_state", student.simple_rnn(x, *weights), **F32)


@pytest.mark.question("simple_rnn")
@pytest.mark.points(2)
def test_simple_rnn_sequences(student, rng, expect):
    batch, time, features, units = _distinct_sizes(rng, 4)
    weights = _layer_weights(rng, keras.layers.SimpleRNN(units), (None, time, features))
    x = _normal(rng, (batch, time, features))
    expect("all_states", student.simple_rnn(x, *weights, return_sequences=True), **F32)


# -- lstm -------------------------------------------------------------------------------------
@pytest.mark.question("lstm")
@pytest.mark.points(1)
def test_lstm_gates(student, rng, expect):
    features, units = _distinct_sizes(rng, 2)
    fused = {
        "kernel": _normal(rng, (features, 4 * units)),
        "recurrent_kernel": _normal(rng, (units, 4 * units)),
        "bias": _normal(rng, (4 * units,)),
    }
    for weight_name, weight in fused.items():
        blocks = student.lstm_gates(weight, units)
        for gate in "ifco":
            expect(f"{weight_name}_{gate}", blocks[gate])


@pytest.mark.question("lstm")
@pytest.mark.points(2)
def test_lstm_step(student, rng, expect):
    batch, features, units = _distinct_sizes(rng, 3)
    kernel, recurrent_kernel, bias = _layer_weights(
        rng, keras.layers.LSTM(units), (None, 1, features)
    )
    x_t = _normal(rng, (batch, features))
    h = tf.constant(rng.uniform(-0.9, 0.9, size=(batch, units)), dtype=tf.float32)
    c = _normal(rng, (batch, units), scale=1.5)
    h_new, c_new = student.lstm_step(x_t, h, c, kernel, recurrent_kernel, bias)
    expect("c_new", c_new, **F32)
    expect("h_new", h_new, **F32)


@pytest.mark.question("lstm")
@pytest.mark.points(1)
def test_lstm_unrolled(student, rng, expect):
    batch, time, features, units = _distinct_sizes(rng, 4)
    weights = _layer_weights(rng, keras.layers.LSTM(units), (None, time, features))
    x = _normal(rng, (batch, time, features))
    h = tf.zeros((batch, units))
    c = tf.zeros((batch, units))
    states = []
    for t in range(time):
        h, c = student.lstm_step(x[:, t, :], h, c, *weights)
        states.append(h)
    expect("all_states", tf.stack(states, axis=1), **F32)
    expect("last_memory", c, **F32)


# -- gru --------------------------------------------------------------------------------------
@pytest.mark.question("gru")
@pytest.mark.points(2)
def test_gru_step(student, rng, expect):
    batch, features, units = _distinct_sizes(rng, 3)
    kernel, recurrent_kernel, bias = _layer_weights(
        rng, keras.layers.GRU(units), (None, 1, features)
    )
    x_t = _normal(rng, (batch, features))
    h = tf.constant(rng.uniform(-0.9, 0.9, size=(batch, units)), dtype=tf.float32)
    expect("new_state", student.gru_step(x_t, h, kernel, recurrent_kernel, bias), **F32)


@pytest.mark.question("gru")
@pytest.mark.points(1)
def test_gru_unrolled(student, rng, expect):
    batch, time, features, units = _distinct_sizes(rng, 4)
    weights = _layer_weights(rng, keras.layers.GRU(units), (None, time, features))
    x = _normal(rng, (batch, time, features))
    h = tf.zeros((batch, units))
    states = []
    for t in range(time):
        h = student.gru_step(x[:, t, :], h, *weights)
        states.append(h)
    expect("all_states", tf.stack(states, axis=1), **F32)


# -- param_counts -----------------------------------------------------------------------------
@pytest.mark.question("param_counts")
@pytest.mark.points(2)
def test_param_counts(student, rng, expect):
    for kind in ("simple_rnn", "lstm", "gru"):
        for draw in range(2):
            features, units = _distinct_sizes(rng, 2, low=2, high=300)
            count = student.count_rnn_params(kind, features, units)
            expect(f"{kind}_{draw}_features_{features}_units_{units}", int(count))


# -- clipping ---------------------------------------------------------------------------------
class _TrainingFlagProbe(keras.layers.Layer):
    """An identity layer that notes the ``training`` flag each call receives."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flags = []

    def call(self, inputs, training=None):
        self.flags.append(training)
        return inputs


def _exploding_problem(rng):
    """A SimpleRNN classifier with large gradients, a batch, its gradients, a flag probe.

    The probe is a weightless first layer that notes the ``training`` flag of each call.
    """
    batch, time, features, units, classes = _distinct_sizes(rng, 5, low=2, high=13)
    probe = _TrainingFlagProbe()
    model = keras.Sequential(
        [
            keras.Input((time, features)),
            probe,
            keras.layers.SimpleRNN(units),
            keras.layers.Dense(classes),
        ]
    )
    model.set_weights(
        [rng.normal(0.0, 0.5, size=w.shape).astype(np.float32) for w in model.weights]
    )
    output_kernel = model.layers[-1].kernel
    output_kernel.assign(output_kernel * float(rng.uniform(30.0, 60.0)))
    x = _normal(rng, (batch, time, features))
    # The least likely class of every example: confidently wrong, so the loss is large.
    y = tf.argmin(model(x), axis=-1, output_type=tf.int32)
    with tf.GradientTape() as tape:  # the unclipped gradients, measured by the grader
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x))
    grads = [g.numpy().astype(np.float64) for g in tape.gradient(loss, model.trainable_variables)]
    probe.flags.clear()  # the grader's own calls above
    return model, x, y, grads, probe


def _sgd(model, learning_rate):
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    optimizer.build(model.trainable_variables)
    return optimizer


WEIGHT_NAMES = ("kernel", "recurrent_kernel", "rnn_bias", "output_kernel", "output_bias")


@pytest.mark.question("clipping")
@pytest.mark.points(1)
def test_train_step_unclipped(student, rng, expect):
    model, x, y, grads, probe = _exploding_problem(rng)
    global_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    optimizer = _sgd(model, float(rng.uniform(0.01, 0.05)))
    loss, norm = student.train_step(model, optimizer, x, y, 1000.0 * global_norm)
    # The forward pass runs in training mode: model(x, training=True), as the notebook asks.
    expect(
        "forward_pass_in_training_mode", bool(probe.flags) and all(f is True for f in probe.flags)
    )
    expect("loss", loss, **F32)
    expect("global_norm", norm, **F32)
    for name, w in zip(WEIGHT_NAMES, model.trainable_variables, strict=True):
        expect(f"{name}_after_step", w.numpy(), **STEP)


@pytest.mark.question("clipping")
@pytest.mark.points(3)
def test_clip_global_norm(student, rng, expect):
    model, x, y, grads, _ = _exploding_problem(rng)
    global_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    clip_norm = global_norm / float(rng.uniform(10.0, 40.0))
    learning_rate = float(rng.uniform(0.5, 1.5))
    optimizer = _sgd(model, learning_rate)
    before = [w.numpy() for w in model.trainable_variables]
    loss, norm = student.train_step(model, optimizer, x, y, clip_norm)
    after = [w.numpy() for w in model.trainable_variables]
    expect("loss", loss, **F32)
    expect("global_norm_before_clipping", norm, **F32)
    for name, w in zip(WEIGHT_NAMES, after, strict=True):
        expect(f"{name}_after_clipped_step", w, **STEP)
    # The gradients as the optimizer applied them: (before - after) / learning rate.
    pairs = zip(before, after, strict=True)
    update = np.concatenate([(b - a).astype(np.float64).ravel() for b, a in pairs]) / learning_rate
    flat = np.concatenate([g.ravel() for g in grads])
    update_norm = float(np.linalg.norm(update))
    expect("global_norm_of_applied_gradients", update_norm, rtol=1e-4)
    cosine = float(update @ flat / (update_norm * np.linalg.norm(flat))) if update_norm else 0.0
    expect("cosine_applied_vs_unclipped_gradients", cosine, rtol=1e-5)


# -- digits -----------------------------------------------------------------------------------
@pytest.mark.question("digits")
@pytest.mark.points(1)
def test_digits_to_sequences(student, rng, expect):
    n = int(rng.integers(3, 20)) * 2 + 1
    pixels = rng.integers(0, 17, size=(n, 64)).astype(np.float64)
    expect("sequences", student.digits_to_sequences(pixels))
    # build_sequence_model: (8, 8) sequences -> 10 logits, whatever the units.
    model = student.build_sequence_model(units=int(rng.integers(3, 12)), seed=0)
    expect("sequence_model_logits_shape", list(model(tf.zeros((n, 8, 8))).shape))


@pytest.mark.question("digits")
@pytest.mark.points(3)
@pytest.mark.gpu
@pytest.mark.timeout(120)
def test_digits_accuracy(student, rng, heldout, predictions):
    data = heldout("digits")
    model = student.train_digits(data.x_train, data.y_train, seed=int(rng.integers(0, 10_000)))
    y_pred = student.predict_digits(model, data.x_test)
    predictions(
        "digit_predictions",
        np.asarray(y_pred),
        dataset="digits",
        min_accuracy=ACCURACY_THRESHOLD,
    )
