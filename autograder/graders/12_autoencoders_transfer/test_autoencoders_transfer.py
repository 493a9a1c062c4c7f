"""Hidden grader for exercise 12, autoencoders and transfer learning (自编码器, 迁移学习).

Every size, weight, seed and noise level is drawn from ``rng``; the held-out digits come from
``heldout(...)`` (pixels 0-16, scaled here to float32 in [0, 1] before the student's code sees
them), and the labels of the transfer test digits never enter the sandbox.

* Architecture: ``build_autoencoder(n_inputs, bottleneck, hidden)`` with three different
  seed-drawn sizes; the grader writes seed-drawn weights into the encoder and the decoder
  (``set_weights`` with the shapes the student's models have) and records their weight
  shapes and the outputs of ``encoder(x)``, ``decoder(z)`` and ``autoencoder(x)`` (rtol 1e-5):
  a wrong bottleneck, a wrong last activation or an autoencoder that does not share the
  encoder's and decoder's layers all change a recorded value.
* Autoencoder vs PCA: ``train_autoencoder`` on ``heldout("digits").x_train`` with a
  seed-drawn bottleneck k in [5, 12]; sklearn ``PCA(k)`` is fitted on the same inputs; both
  reconstruct the held-out ``x_test``. The test records the code shape and whether the
  autoencoder's MSE is at most 0.9 times PCA's.
* Noise: ``add_noise(x, stddev, generator)`` with a ``tf.random.Generator`` seeded from
  ``rng``: two successive calls are recorded value by value (rtol 1e-6) on inputs in
  [0.3, 0.7] with a small stddev, so clipping never acts there (plus a third call on a 3-D
  array); a separate test records the minimum and maximum on inputs at 0 and 1 with a large
  stddev (exactly 0 and 1 when clipped).
* Denoising vs PCA: ``train_denoising_autoencoder`` with a seed-drawn k and stddev in
  [0.3, 0.5]; the grader corrupts ``x_test`` with its own seed-drawn noise (clipped to [0, 1])
  and compares reconstructions of the noisy inputs with the CLEAN images, for the student's
  model and for PCA fitted on the clean training inputs; it records whether the model's MSE
  is at most PCA's. A model trained to reproduce its noisy input learns the clipped noise's
  bias (a grey background) and lands at 1.2-1.5 times PCA's error.
* Freezing: the grader builds its own base (Dense, BatchNormalization, ReLU) with
  seed-drawn weights and moving statistics, calls ``build_transfer_model`` and records the
  trainable weight shapes and, with seed-drawn head weights, the logits in inference and in
  training mode (equal when the frozen BatchNorm runs in inference mode). After
  ``fine_tune`` (3 epochs, a seed-drawn ``first_label``) it records the maximum absolute
  change of the base's kernel, bias, gamma and beta, and in a separate test of its moving
  mean and variance: both must be exactly 0.0. It also records that the head changed and
  the number of epochs in the History. A fourth test sets seed-drawn head weights after
  ``fine_tune`` and records ``model.evaluate``'s loss (rtol 1e-5): the loss the student
  compiled must be the cross-entropy on logits (``from_logits=True``).
  Keras 3.15 note: a ``training=False`` given while building a functional model is
  overridden when the model is called with ``training=True`` (``fit`` does), so only
  ``trainable = False`` on the BatchNorm layer keeps it in inference mode; the inference vs
  training-mode logits and the moving statistics show which one a submission relied on.
* ``predict_digits`` on a grader-built logits model (rows != classes), seed-drawn
  ``first_label``: the digits exactly.
* Transfer: ``pretrain_encoder`` on ``heldout("digits_transfer")``'s digits 0-4,
  ``build_transfer_model(encoder, 5)``, ``fine_tune`` on the 100 labelled digits 5-9 and
  ``predict_digits`` on its ``x_test``; ``predictions(...)`` scores the digits on the
  trusted side (at least 0.90); the test also records that the encoder has a BatchNorm layer.

Calibration, over the platform's ``digits``/``digits_transfer`` builders with batch seeds
0-11 and the tests' draws (reference defaults: autoencoder 64-k-64, Adam 1e-2, batch 64,
20 epochs; denoising 2 noisy copies, 10 epochs; encoder Dense(128)-BatchNorm-ReLU pretrained
10 epochs with Adam 1e-3, batch 32; head Adam 1e-2, batch 10, 20 epochs):
    autoencoder / PCA MSE: 0.646-0.720, mean 0.684 over 10 seeds (threshold 0.9);
    denoising / PCA MSE: 0.804-0.916, mean 0.865 over 10 seeds, the worst at stddev near 0.5
    (threshold 1.0);
    transfer accuracy on the 224 test digits 5-9: 0.924-0.969, mean 0.941 over 12 seeds
    (threshold 0.90).
On the 2-core machine at load 4 the tests took: transfer 6.6 s, autoencoder 4.1 s, denoising
3.9 s, the three fine_tune tests 1.3-1.5 s each, the rest under 0.2 s each (19 s in all, about
half of it ``tf.function`` tracing); the reference's whole grading job (notebook included)
took 27 s of wall time at load 5.

Questions and points (they equal the notebook's question cells):
    autoencoder 5, denoising 6, freezing 5, transfer 4.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import PCA

F32 = {"rtol": 1e-5, "atol": 1e-6}
EXACT = {"rtol": 0.0, "atol": 0.0}
AE_RATIO = 0.9
DENOISING_RATIO = 1.0
TRANSFER_ACCURACY = 0.90


def _distinct_sizes(rng, count, low, high):
    """``count`` different integers from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _seed(rng):
    return int(rng.integers(0, 10_000))


def _pixels(x):
    """Digits pixels 0-16 as float32 in [0, 1], the form every student function receives."""
    return (np.asarray(x, dtype=np.float64) / 16.0).astype(np.float32)


def _mse(a, b):
    return float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))


def _pca_reconstruction(x_fit, x_in, k):
    pca = PCA(n_components=k, svd_solver="full").fit(x_fit)
    return pca.inverse_transform(pca.transform(x_in))


def _shapes(model):
    return str([tuple(int(n) for n in w.shape) for w in model.get_weights()])


def _set_random(rng, model, scale=0.5):
    model.set_weights(
        [(rng.normal(size=w.shape) * scale).astype(np.float32) for w in model.get_weights()]
    )


def _np(value):
    return np.asarray(value)


# -- autoencoder --------------------------------------------------------------------------
@pytest.mark.question("autoencoder")
@pytest.mark.points(2)
def test_autoencoder_architecture(student, rng, expect):
    n_inputs = int(rng.integers(23, 41))
    bottleneck, hidden, n = _distinct_sizes(rng, 3, low=3, high=22)
    autoencoder, encoder, decoder = student.build_autoencoder(n_inputs, bottleneck, hidden=hidden)
    expect("encoder_weight_shapes", _shapes(encoder))
    expect("decoder_weight_shapes", _shapes(decoder))
    expect("autoencoder_n_weights", len(autoencoder.weights))
    _set_random(rng, encoder)
    _set_random(rng, decoder)
    x = rng.uniform(size=(n, n_inputs)).astype(np.float32)
    z = (rng.normal(size=(n, bottleneck)) * 2.0).astype(np.float32)
    expect("encoder_output", _np(encoder(x)), **F32)
    expect("decoder_output", _np(decoder(z)), **F32)
    expect("autoencoder_output", _np(autoencoder(x)), **F32)


@pytest.mark.question("autoencoder")
@pytest.mark.points(3)
@pytest.mark.gpu
@pytest.mark.timeout(150)
def test_autoencoder_beats_pca(student, rng, expect, heldout):
    data = heldout("digits")
    x_train, x_test = _pixels(data.x_train), _pixels(data.x_test)
    k = int(rng.integers(5, 13))
    autoencoder, encoder, decoder = student.train_autoencoder(x_train, k, seed=_seed(rng))
    expect("code_shape", tuple(_np(encoder(x_test)).shape))
    reconstruction = _np(autoencoder(x_test))
    expect("reconstruction_shape", tuple(reconstruction.shape))
    ratio = _mse(reconstruction, x_test) / _mse(_pca_reconstruction(x_train, x_test, k), x_test)
    expect(f"mse_at_most_{AE_RATIO}_times_pca", bool(ratio <= AE_RATIO))


# -- denoising ------------------------------------------------------------------------------
@pytest.mark.question("denoising")
@pytest.mark.points(2)
def test_add_noise_values(student, rng, expect):
    rows, cols = _distinct_sizes(rng, 2, low=5, high=17)
    x = rng.uniform(0.3, 0.7, size=(rows, cols))  # float64 on purpose: cast it to float32
    stddev = float(np.round(rng.uniform(0.01, 0.05), 4))
    generator = tf.random.Generator.from_seed(_seed(rng))
    expect("first_call", _np(student.add_noise(x, stddev, generator)), rtol=1e-6, atol=1e-7)
    expect("second_call", _np(student.add_noise(x, stddev, generator)), rtol=1e-6, atol=1e-7)
    cube = rng.uniform(0.3, 0.7, size=(3, cols, rows)).astype(np.float32)
    expect(
        "three_dimensional", _np(student.add_noise(cube, stddev, generator)), rtol=1e-6, atol=1e-7
    )


@pytest.mark.question("denoising")
@pytest.mark.points(1)
def test_add_noise_clipped(student, rng, expect):
    rows = int(rng.integers(150, 250))
    x = np.tile(np.array([0.0, 1.0, 0.5, 0.1, 0.9], dtype=np.float32), (rows, 1))
    stddev = float(np.round(rng.uniform(0.4, 0.8), 3))
    noisy = _np(student.add_noise(x, stddev, tf.random.Generator.from_seed(_seed(rng))))
    expect("shape", tuple(noisy.shape))
    expect("min", float(noisy.min()), **EXACT)
    expect("max", float(noisy.max()), **EXACT)


@pytest.mark.question("denoising")
@pytest.mark.points(3)
@pytest.mark.gpu
@pytest.mark.timeout(150)
def test_denoising_beats_pca(student, rng, expect, heldout):
    data = heldout("digits")
    x_train, x_test = _pixels(data.x_train), _pixels(data.x_test)
    k = int(rng.integers(5, 13))
    stddev = float(np.round(rng.uniform(0.3, 0.5), 3))
    autoencoder, encoder, _ = student.train_denoising_autoencoder(
        x_train, k, stddev, seed=_seed(rng)
    )
    noisy = np.clip(x_test + rng.normal(0.0, stddev, size=x_test.shape), 0.0, 1.0)
    noisy = noisy.astype(np.float32)
    expect("code_shape", tuple(_np(encoder(noisy)).shape))
    reconstruction = _np(autoencoder(noisy))
    expect("reconstruction_shape", tuple(reconstruction.shape))
    pca_error = _mse(_pca_reconstruction(x_train, noisy, k), x_test)
    ratio = _mse(reconstruction, x_test) / pca_error
    expect(f"clean_mse_at_most_{DENOISING_RATIO}_times_pca", bool(ratio <= DENOISING_RATIO))


# -- freezing ---------------------------------------------------------------------------------
def _base(rng):
    """A base of the grader's own, with seed-drawn weights and moving statistics.

    Returns (base, dense, batchnorm, x, y, n_classes, first_label).
    """
    d, h = _distinct_sizes(rng, 2, low=5, high=16)
    n_classes = int(rng.integers(3, 5))  # fewer than d and h
    n = int(rng.integers(31, 47))
    dense = keras.layers.Dense(h)
    batchnorm = keras.layers.BatchNormalization()
    base = keras.Sequential(
        [keras.Input(shape=(d,)), dense, batchnorm, keras.layers.Activation("relu")]
    )
    dense.kernel.assign(rng.normal(size=(d, h)).astype(np.float32))
    dense.bias.assign(rng.normal(size=h).astype(np.float32))
    batchnorm.gamma.assign(rng.uniform(0.5, 2.0, size=h).astype(np.float32))
    batchnorm.beta.assign(rng.normal(size=h).astype(np.float32))
    batchnorm.moving_mean.assign(rng.normal(size=h).astype(np.float32))
    batchnorm.moving_variance.assign(rng.uniform(0.5, 2.0, size=h).astype(np.float32))
    first_label = int(rng.integers(1, 6))  # never 0: labels must be shifted
    x = (rng.uniform(size=(n, d)) * 2.0).astype(np.float32)  # batch statistics != moving ones
    labels = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, size=n - n_classes)])
    y = (rng.permutation(labels) + first_label).astype(np.int64)
    return base, dense, batchnorm, x, y, n_classes, first_label


def _max_change(variables, before):
    return max(float(np.max(np.abs(_np(v) - b))) for v, b in zip(variables, before, strict=True))


@pytest.mark.question("freezing")
@pytest.mark.points(1)
def test_transfer_model_structure(student, rng, expect):
    base, _, _, x, _, n_classes, _ = _base(rng)
    model = student.build_transfer_model(base, n_classes)
    shapes = [tuple(int(n) for n in w.shape) for w in model.trainable_weights]
    expect("trainable_weight_shapes", str(shapes))
    for weight in model.trainable_weights:
        weight.assign((rng.normal(size=weight.shape) * 0.5).astype(np.float32))
    expect("logits_inference", _np(model(x, training=False)), **F32)
    expect("logits_training_mode", _np(model(x, training=True)), **F32)


@pytest.mark.question("freezing")
@pytest.mark.points(2)
def test_frozen_base_weights(student, rng, expect):
    base, dense, batchnorm, x, y, n_classes, first_label = _base(rng)
    weights = [dense.kernel, dense.bias, batchnorm.gamma, batchnorm.beta]
    before = [_np(v).copy() for v in weights]
    model = student.build_transfer_model(base, n_classes)
    head_before = [_np(v).copy() for v in model.trainable_weights]
    history = student.fine_tune(model, x, y, seed=_seed(rng), first_label=first_label, epochs=3)
    expect("max_change_of_base_weights", _max_change(weights, before), **EXACT)
    changed = [
        not np.array_equal(_np(v), b)
        for v, b in zip(model.trainable_weights, head_before, strict=True)
    ]
    expect("head_trained", bool(changed) and all(changed))
    expect("epochs_in_history", len(history.history.get("loss", [])))


@pytest.mark.question("freezing")
@pytest.mark.points(1)
def test_frozen_batchnorm_statistics(student, rng, expect):
    base, _, batchnorm, x, y, n_classes, first_label = _base(rng)
    statistics = [batchnorm.moving_mean, batchnorm.moving_variance]
    before = [_np(v).copy() for v in statistics]
    model = student.build_transfer_model(base, n_classes)
    student.fine_tune(model, x, y, seed=_seed(rng), first_label=first_label, epochs=3)
    expect("max_change_of_moving_statistics", _max_change(statistics, before), **EXACT)


@pytest.mark.question("freezing")
@pytest.mark.points(1)
def test_fine_tune_loss(student, rng, expect):
    """The loss fine_tune compiled, on seed-drawn head weights: from_logits must match."""
    base, _, _, x, y, n_classes, first_label = _base(rng)
    model = student.build_transfer_model(base, n_classes)
    student.fine_tune(model, x, y, seed=_seed(rng), first_label=first_label, epochs=1)
    for weight in model.trainable_weights:
        weight.assign((rng.normal(size=weight.shape) * 0.5).astype(np.float32))
    loss = model.evaluate(x, y - first_label, batch_size=len(x), verbose=0, return_dict=True)
    expect("loss", float(loss["loss"]), **F32)


# -- transfer ---------------------------------------------------------------------------------
@pytest.mark.question("transfer")
@pytest.mark.points(1)
def test_predict_digits(student, rng, expect):
    n, d, k = _distinct_sizes(rng, 3, low=3, high=14)
    model = keras.Sequential([keras.Input(shape=(d,)), keras.layers.Dense(k)])
    _set_random(rng, model, scale=1.0)
    first_label = int(rng.integers(1, 8))
    x = rng.normal(size=(n, d)).astype(np.float32)
    expect(
        "digits", _np(student.predict_digits(model, x, first_label=first_label)), check_dtype=False
    )


def _layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)


@pytest.mark.question("transfer")
@pytest.mark.points(3)
@pytest.mark.gpu
@pytest.mark.timeout(150)
def test_transfer_accuracy(student, rng, expect, heldout, predictions):
    data = heldout("digits_transfer")
    seed = _seed(rng)
    encoder = student.pretrain_encoder(_pixels(data.x_source), data.y_source, seed=seed)
    expect(
        "has_batch_normalization",
        any(isinstance(layer, keras.layers.BatchNormalization) for layer in _layers(encoder)),
    )
    model = student.build_transfer_model(encoder, 5)
    student.fine_tune(model, _pixels(data.x_target), data.y_target, seed=seed)
    digits = _np(student.predict_digits(model, _pixels(data.x_test)))
    predictions("digits_5_to_9", digits, dataset="digits_transfer", min_accuracy=TRANSFER_ACCURACY)
