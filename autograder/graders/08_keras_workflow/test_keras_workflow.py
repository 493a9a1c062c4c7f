"""Hidden grader for exercise 08, the Keras workflow (Keras 工作流程).

Models output logits and are compiled with ``from_logits=True``: Keras 3 on TensorFlow
silently repairs ``from_logits=True`` on a softmax output inside ``fit``/``evaluate`` (it takes
the softmax's input), so only the opposite mismatch, logits given to a loss that expects
probabilities, changes the loss and can be graded.

Every size, weight, label and coefficient is drawn from ``rng``; shapes are non-square with
all sizes different (n != features != classes), so an argmax over the batch axis or a
penalty summed over the wrong axis shows. Models built by the grader get seed-drawn weights
with ``set_weights``, so losses, penalties and one-step updates are compared with the
reference to rtol 1e-5 (float32) or 1e-6 (penalties, which Keras computes the same way
whichever regulariser class the student uses).

Callbacks are driven by **scripted logs**: the grader calls ``on_train_begin``,
``on_epoch_end(epoch, logs)`` and ``on_train_end`` itself, with a seed-drawn ``val_loss``
sequence (a decreasing start with a local minimum, the best value at epoch ``b``, values
above it for ``patience`` epochs, then a new best right after the expected stop, so
patience one too large or too small both change the stop epoch) and a monotonically
decreasing training ``loss`` (monitoring ``loss`` never stops). The model's weights are set
to seed-drawn arrays before every epoch, so the restored weights show which epoch was
restored.

``compile_classifier`` must return the model it compiled and ``DenseDropout.get_config()``
(given in the notebook) must find the ``units`` and ``rate`` that ``__init__`` keeps. What
``fit_classifier`` prints (Keras's progress bars when ``verbose`` is not 0) is never graded:
output noise does not cost a point.

Dropout is checked statistically, not by mask: on about 6 000 outputs the dropped fraction
must be within 0.04 of the reference's (about 6 standard deviations), and the survivors'
scale 1 / (1 - rate) within 1e-4; the inference output must equal the Dense layer alone.

Calibration of the threshold: the reference ``train_digits`` (64-64-10, L2 1e-4, dropout
0.2, Adam 1e-2, batch 64, at most 30 epochs, EarlyStopping patience 4 on a 20 % validation
split) reached 0.960-0.978 test accuracy on the fixed ``load_digits`` split (25 %,
stratified, random_state=0) over seeds 0-7, stopping after 18-26 epochs, and 0.949-0.982
(mean 0.969) on the platform's held-out ``digits`` split of 8 batch seeds (the course seed
and 1-7; the 0.949 run stopped early). The test trains on that split's ``x_train``
(pixels / 16) and records the predictions for ``x_test``, whose labels stay on the trusted
side: the accuracy must be at least 0.93 (and the history
must have validation results, the model a non-zero penalty and a Dropout layer). That test
takes 8-15 s on a 2-core machine; the rest of the file a few seconds.

Questions and points (they equal the notebook's question cells):
    workflow 6, losses 5, regularisation 6, dropout 3, callbacks 6, digits 2.
"""

import contextlib
import io

import keras
import numpy as np
import pytest
import tensorflow as tf

F32 = {"rtol": 1e-5, "atol": 1e-7}
PENALTY = {"rtol": 1e-6}
EXACT = {"rtol": 0.0, "atol": 0.0}
ACCURACY_THRESHOLD = 0.93
_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _distinct_sizes(rng, count, low=3, high=13):
    """``count`` different lengths from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _f32(rng, shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def _labels(rng, n, classes):
    """Labels in which every class occurs at least once (when n >= classes), shuffled."""
    if n < classes:
        return rng.integers(0, classes, size=n).astype(np.int32)
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, size=n - classes)])
    return rng.permutation(labels).astype(np.int32)


def _set_random_weights(rng, model, scale=0.5):
    model.set_weights([_f32(rng, w.shape, scale) for w in model.get_weights()])


def _logits_model(rng, n_features, n_hidden, n_classes, middle=()):
    """A classifier that outputs logits (the setup the notebook asks for), weights from rng."""
    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(n_hidden, activation="relu"),
            *middle,
            keras.layers.Dense(n_classes),
        ]
    )
    _set_random_weights(rng, model)
    return model


# -- workflow: compile / evaluate / predict / fit -----------------------------------------
@pytest.mark.question("workflow")
@pytest.mark.points(2)
def test_compile_evaluate(student, rng, expect):
    n, d, h, k = _distinct_sizes(rng, 4, low=3, high=20)
    model = _logits_model(rng, d, h, k)
    learning_rate = float(np.round(10 ** rng.uniform(-3.5, -1.5), 6))
    returned = student.compile_classifier(model, learning_rate)
    expect("returns_the_same_model", returned is model)
    x, y = _f32(rng, (n, d)), _labels(rng, n, k)
    results = model.evaluate(x, y, batch_size=n, return_dict=True, verbose=0)
    expect("keys", " ".join(sorted(results)))
    expect("loss", float(results["loss"]), **F32)
    expect("accuracy", float(results["accuracy"]), **F32)
    expect("optimizer", type(model.optimizer).__name__)
    expect("learning_rate", float(model.optimizer.learning_rate), **F32)


@pytest.mark.question("workflow")
@pytest.mark.points(1)
def test_predict_classes(student, rng, expect):
    n, d, h, k = _distinct_sizes(rng, 4, low=3, high=20)
    model = _logits_model(rng, d, h, k)
    predicted = student.predict_classes(model, _f32(rng, (n, d), scale=2.0))
    expect("classes", np.asarray(predicted).astype(np.int64), check_dtype=False)


@pytest.mark.question("workflow")
@pytest.mark.points(1)
def test_balanced_class_weights(student, rng, expect):
    k = int(rng.integers(3, 7))
    n = int(rng.integers(25, 60))
    probabilities = rng.dirichlet(np.ones(k))  # unbalanced classes
    y = np.concatenate([np.arange(k), rng.choice(k, size=n - k, p=probabilities)])
    weights = student.balanced_class_weights(rng.permutation(y), k)
    expect("classes", sorted(int(c) for c in weights))
    # float32 division is an honest way to compute them (relative error up to 6e-8 over 200
    # draws; alternatives/tolerance_float32_class_weights.toml): rtol is 17x that
    expect("weights", [float(weights[c]) for c in range(k)], rtol=1e-6)


@pytest.mark.question("workflow")
@pytest.mark.points(2)
def test_fit_validation_split_class_weight(student, rng, expect):
    """Two full-batch SGD epochs on fixed weights: each epoch is one deterministic step."""
    d, h, k = _distinct_sizes(rng, 3, low=3, high=12)
    n = int(rng.integers(30, 50))
    model = _logits_model(rng, d, h, k)
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss=_LOSS, metrics=["accuracy"])
    x, y = _f32(rng, (n, d)), _labels(rng, n, k)
    split = float(rng.choice([0.2, 0.25, 0.3]))
    class_weight = {c: float(np.round(rng.uniform(0.2, 4.0), 3)) for c in range(k)}
    with contextlib.redirect_stdout(io.StringIO()):  # progress bars are never graded
        history = student.fit_classifier(
            model,
            x,
            y,
            epochs=2,
            batch_size=2 * n,
            validation_split=split,
            class_weight=class_weight,
        )
    logs = history.history
    expect("keys", " ".join(sorted(logs)))
    for key in ("loss", "val_loss", "val_accuracy"):
        expect(key, [float(v) for v in logs.get(key, [])], **F32)
    for i, w in enumerate(model.get_weights()):
        expect(f"weights{i}", w, rtol=1e-5, atol=1e-6)


# -- losses ---------------------------------------------------------------------------------
@pytest.mark.question("losses")
@pytest.mark.points(2)
def test_huber_loss(student, rng, expect):
    n, m = _distinct_sizes(rng, 2, low=3, high=12)
    delta = float(np.round(rng.uniform(0.5, 2.0), 3))
    y_true = tf.constant(_f32(rng, (n, m)))
    y_pred = tf.constant(_f32(rng, (n, m), scale=2.0 * delta))  # errors on both sides of delta
    expect("huber", student.huber_loss(y_true, y_pred, delta=delta), **F32)
    expect("huber_default_delta", student.huber_loss(y_true, y_pred), **F32)


def _focal_inputs(rng):
    n, k = _distinct_sizes(rng, 2, low=3, high=14)
    logits = tf.constant(_f32(rng, (n, k), scale=2.0))
    labels = tf.constant(_labels(rng, n, k))
    gamma = float(np.round(rng.uniform(0.5, 3.0), 3))
    return logits, labels, gamma


@pytest.mark.question("losses")
@pytest.mark.points(2)
def test_focal_loss_from_logits(student, rng, expect):
    logits, labels, gamma = _focal_inputs(rng)
    tol = {"rtol": 1e-5, "atol": 1e-6}
    expect("logits", student.FocalLoss(gamma=gamma, from_logits=True)(labels, logits), **tol)
    probabilities = tf.nn.softmax(logits)
    expect("probabilities", student.FocalLoss(gamma=gamma)(labels, probabilities), **tol)
    expect("gamma0", student.FocalLoss(gamma=0.0, from_logits=True)(labels, logits), **tol)
    expect(
        "large_logits",
        student.FocalLoss(gamma=gamma, from_logits=True)(labels, logits * 40.0),
        **tol,
    )


@pytest.mark.question("losses")
@pytest.mark.points(1)
def test_focal_loss_reduction(student, rng, expect):
    """Reductions on probabilities (from_logits=False), so from_logits bugs do not count here."""
    logits, labels, gamma = _focal_inputs(rng)
    probabilities = tf.nn.softmax(logits)
    tol = {"rtol": 1e-5, "atol": 1e-6}
    per_example = student.FocalLoss(gamma=gamma, reduction=None)
    expect("none", per_example(labels, probabilities), **tol)
    summed = student.FocalLoss(gamma=gamma, reduction="sum")
    expect("sum", summed(labels, probabilities), **tol)
    weights = tf.constant(rng.uniform(0.0, 2.0, size=labels.shape[0]).astype(np.float32))
    mean = student.FocalLoss(gamma=gamma)
    expect("weighted_mean", mean(labels, probabilities, sample_weight=weights), **tol)


# -- regularisation -------------------------------------------------------------------------
@pytest.mark.question("regularisation")
@pytest.mark.points(2)
def test_regularisation_term(student, rng, expect):
    sizes = _distinct_sizes(rng, 4, low=2, high=11)
    kernels = [tf.constant(rng.normal(size=(sizes[i], sizes[i + 1]))) for i in range(3)]
    l1 = float(np.round(10 ** rng.uniform(-4, -1), 6))
    l2 = float(np.round(10 ** rng.uniform(-4, -1), 6))
    # A float32 penalty is honest (relative error 1e-10 to 1.7e-7 over 200 draws; the terms are
    # all positive, so relative is the right scale; alternatives/tolerance_float32_regularisation)
    tol = {"rtol": 2e-6}
    expect("l1_only", float(student.regularisation_term(kernels, l1=l1)), **tol)
    expect("l2_only", float(student.regularisation_term(kernels, l2=l2)), **tol)
    expect("both", float(student.regularisation_term(kernels, l1=l1, l2=l2)), **tol)


@pytest.mark.question("regularisation")
@pytest.mark.points(2)
def test_model_kernel_regularisers(student, rng, expect):
    """``sum(model.losses)`` on seed-set weights equals l1 sum|W| + l2 sum W^2 over kernels."""
    d, h, k, n = _distinct_sizes(rng, 4, low=3, high=16)
    l1 = float(np.round(10 ** rng.uniform(-4, -2), 6))
    l2 = float(np.round(10 ** rng.uniform(-4, -2), 6))
    rate = float(np.round(rng.uniform(0.1, 0.6), 2))
    x = _f32(rng, (n, d))
    settings = (("l1", {"l1": l1}), ("l2", {"l2": l2}), ("both", {"l1": l1, "l2": l2}))
    for label, coefficients in settings:
        model = student.build_regularised_mlp(d, h, k, dropout=rate, **coefficients)
        expect(f"{label}_shapes", str([tuple(w.shape) for w in model.get_weights()]))
        _set_random_weights(rng, model, scale=1.0)
        expect(f"{label}_penalty", float(sum(model.losses)), **PENALTY)
        expect(f"{label}_output", model(x, training=False), **F32)
        rates = [
            float(layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)
        ]
        expect(f"{label}_dropout_rates", rates, **F32)


@pytest.mark.question("regularisation")
@pytest.mark.points(2)
def test_activity_regulariser(student, rng, expect):
    n, d, h, k = _distinct_sizes(rng, 4, low=3, high=16)
    rate = float(np.round(10 ** rng.uniform(-3, -1), 6))
    layer = student.ActivityL2(rate)
    x = _f32(rng, (n, d))
    expect("output", layer(tf.constant(x)), **F32)
    expect("penalty", float(sum(layer.losses)), **F32)
    model = _logits_model(rng, d, h, k, middle=[student.ActivityL2(rate)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=_LOSS)
    y = _labels(rng, n, k)
    expect("evaluate_loss", float(model.evaluate(x, y, batch_size=n, verbose=0)), **F32)
    model(x)
    expect("model_penalty", float(sum(model.losses)), **F32)


# -- dropout ----------------------------------------------------------------------------------
def _dense_dropout(student, rng, n, d):
    units = int(rng.integers(37, 50))
    rate = float(np.round(rng.uniform(0.2, 0.6), 2))
    layer = student.DenseDropout(units, rate)
    x = tf.constant(_f32(rng, (n, d)))
    layer(x)  # builds the weights
    for variable in layer.trainable_weights:
        variable.assign(_f32(rng, variable.shape))
    return layer, x


@pytest.mark.question("dropout")
@pytest.mark.points(1)
def test_dense_dropout_inference(student, rng, expect):
    n, d = _distinct_sizes(rng, 2, low=3, high=14)
    layer, x = _dense_dropout(student, rng, n, d)
    expect("trainable_shapes", str([tuple(v.shape) for v in layer.trainable_weights]))
    # get_config (given in the notebook) reads the attributes __init__ must keep.
    config = layer.get_config()
    expect("config_units", int(config["units"]))
    expect("config_rate", float(config["rate"]), **F32)
    expect("training_false", layer(x, training=False), **F32)
    expect("training_default", layer(x), **F32)


@pytest.mark.question("dropout")
@pytest.mark.points(2)
def test_dense_dropout_training(student, rng, expect):
    n, d = int(rng.integers(130, 160)), int(rng.integers(3, 9))
    layer, x = _dense_dropout(student, rng, n, d)
    kernel, bias = layer.trainable_weights
    plain = (tf.matmul(x, kernel) + bias).numpy()  # the Dense output, computed here
    fraction_tol = {"atol": 0.04, "rtol": 0.0}
    for label, out in (
        ("direct", layer(x, training=True)),
        ("in_model", keras.Sequential([keras.Input(shape=(d,)), layer])(x, training=True)),
    ):
        out = np.asarray(out)
        kept = out != 0
        expect(f"{label}_dropped_fraction", float(1.0 - kept.mean()), **fraction_tol)
        scale = float(np.mean(out[kept] / plain[kept])) if kept.any() else 0.0
        expect(f"{label}_scale", scale, rtol=1e-4)


# -- callbacks --------------------------------------------------------------------------------
def _script(rng):
    """A scripted run: (val_loss values, patience, best epoch, per-epoch weights).

    Epochs 0..b-1 stay above the best (with an earlier local minimum), epoch b holds the best
    value, epochs b+1..b+p stay above it, epoch b+p+1 is a new best and later ones are above
    that. EarlyStopping(patience=p) must stop at the end of epoch b+p.
    """
    patience = int(rng.integers(2, 5))
    best = int(rng.integers(3, 6))
    epochs = best + 2 * patience + 4
    best_value = float(rng.uniform(0.3, 0.6))
    values = list(best_value + rng.uniform(0.05, 1.0, size=best))
    values[best // 2] = best_value + 0.02  # an earlier best that epoch b beats
    values.append(best_value)
    values += list(best_value + rng.uniform(0.01, 0.5, size=patience))
    new_best = best_value - 0.1
    values.append(new_best)
    values += list(new_best + rng.uniform(0.01, 0.5, size=epochs - len(values)))
    return [float(np.float32(v)) for v in values], patience, best


def _int(value):
    """An int attribute as a Python int (None stays None), whatever integer type it has."""
    return None if value is None else int(value)


def _tiny_model(rng):
    d, u = _distinct_sizes(rng, 2, low=2, high=6)
    return keras.Sequential([keras.Input(shape=(d,)), keras.layers.Dense(u)])


def _play(rng, callback, model, values, stop=True):
    """Drive ``callback`` with scripted logs; returns the epoch at which it stopped or -1."""
    weights = [[_f32(rng, w.shape) for w in model.get_weights()] for _ in values]
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin(logs={})
    stopped = -1
    for epoch, value in enumerate(values):
        model.set_weights(weights[epoch])
        logs = {"loss": 1.0 / (epoch + 2), "val_loss": value, "val_accuracy": 1.0 - value / 2}
        callback.on_epoch_end(epoch, logs=logs)
        if stop and model.stop_training:
            stopped = epoch
            break
    callback.on_train_end(logs={})
    return stopped


@pytest.mark.question("callbacks")
@pytest.mark.points(1)
def test_early_stopping_stop_epoch(student, rng, expect):
    values, patience, _ = _script(rng)
    model = _tiny_model(rng)
    expect("stopped_at", _play(rng, student.make_early_stopping(patience), model, values))


@pytest.mark.question("callbacks")
@pytest.mark.points(2)
def test_early_stopping_restores_best(student, rng, expect):
    values, patience, _ = _script(rng)
    model = _tiny_model(rng)
    _play(rng, student.make_early_stopping(patience), model, values)
    for i, w in enumerate(model.get_weights()):
        expect(f"weights{i}", w, **EXACT)


@pytest.mark.question("callbacks")
@pytest.mark.points(1)
def test_best_epoch_recorder_tracks(student, rng, expect):
    values, _, _ = _script(rng)
    values = values[: int(rng.integers(len(values) - 3, len(values) + 1))]
    model = _tiny_model(rng)
    recorder = student.BestEpochRecorder()
    expect("stopped_at", _play(rng, recorder, model, values))
    expect("best_epoch", _int(recorder.best_epoch))
    expect("best_value", float(recorder.best_value), rtol=1e-7)
    expect("wait", _int(recorder.wait))
    expect("stopped_epoch", _int(recorder.stopped_epoch))


@pytest.mark.question("callbacks")
@pytest.mark.points(1)
def test_best_epoch_recorder_stops(student, rng, expect):
    values, patience, _ = _script(rng)
    model = _tiny_model(rng)
    recorder = student.BestEpochRecorder(patience=patience)
    expect("stopped_at", _play(rng, recorder, model, values))
    expect("stopped_epoch", _int(recorder.stopped_epoch))
    expect("best_epoch", _int(recorder.best_epoch))
    expect("wait", _int(recorder.wait))


@pytest.mark.question("callbacks")
@pytest.mark.points(1)
def test_best_epoch_recorder_resets(student, rng, expect):
    """One recorder, two runs; the second run's values are all above the first's."""
    first, _, _ = _script(rng)
    second, _, _ = _script(rng)
    second = [v + 2.0 for v in second]
    model = _tiny_model(rng)
    recorder = student.BestEpochRecorder(monitor="val_loss")
    _play(rng, recorder, model, first, stop=False)
    _play(rng, recorder, model, second, stop=False)
    expect("best_epoch", _int(recorder.best_epoch))
    expect("best_value", float(recorder.best_value), rtol=1e-7)
    expect("wait", _int(recorder.wait))


# -- digits -------------------------------------------------------------------------------------
@pytest.mark.question("digits")
@pytest.mark.points(2)
@pytest.mark.timeout(150)
@pytest.mark.gpu
def test_digits_training(student, rng, heldout, predictions, expect):
    data = heldout("digits")  # the labels of x_test stay on the trusted side
    x_train = (data.x_train / 16.0).astype(np.float32)
    x_test = (data.x_test / 16.0).astype(np.float32)
    model, history = student.train_digits(x_train, data.y_train.astype(np.int32))
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    predictions("test_predictions", predicted, dataset="digits", min_accuracy=ACCURACY_THRESHOLD)
    expect("has_validation_results", "val_loss" in history.history)
    expect("has_weight_penalty", bool(float(sum(model.losses)) > 0))
    expect(
        "has_dropout",
        any(isinstance(layer, keras.layers.Dropout) and layer.rate > 0 for layer in model.layers),
    )
