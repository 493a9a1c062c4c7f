"""Hidden grader for exercise 09, saving and loading models (模型的保存与加载).

Every size, weight and input is drawn from ``rng``. Models get their weights from ``rng``
through ``set_weights``, so the recorded outputs depend only on what the student's code
computes and saves, not on the student's initializers. Layer sizes are all different and the
batch is odd, so no shape can be confused with another.

Fresh process. Saving something and loading it back in the same process proves little,
because the objects are still in memory. So the tests that save files (weights file,
``.keras`` file, SavedModel, checkpoints) save them into the hand-over folder
``handover("saving")`` with a manifest, and the ``test_fresh_*`` tests (marked
``fresh("saving")``) reload them in the fresh job: a new process the trusted side starts
after the grading job, on a copy of those files, in which no notebook cell ran. Their
inputs (and the checkpoint test's data and starting weights) are drawn there from their
own ``rng``, so nothing the grading job computed can stand in for the reloaded files:

* the weights file is loaded into a model that the grader rebuilds from the architecture's
  JSON (``model.to_json()``, written by the grader);
* the SavedModel is loaded with ``tf.saved_model.load`` and called through ``serve``
  (``test_fresh_export`` runs before ``test_fresh_keras_file``, which is the only test that
  imports a student module, and a SavedModel needs no Python class anyway);
* the ``.keras`` file is loaded with ``keras.models.load_model`` after importing the module
  that defines the student's ``ScaledDense`` (handed over beside the file), the way a Keras
  user would. The notebook writes that module (``saving_layers.py``) into its work folder,
  and the grader finds it through ``ScaledDense.__module__``. No ``custom_objects`` are
  passed, so the class must be registered with
  ``@keras.saving.register_keras_serializable``. A class that is defined only in the
  notebook (module ``__main__``) cannot be found there, which is the point;
* the checkpoints are restored into a new model with other weights and a new Adam, using
  ``tf.train.Checkpoint(step=..., model=..., optimizer=...)`` (the names the notebook asks
  for), and training continues with the grader's copy of ``train_step`` until
  ``total_steps``.

``test_checkpoint_manager`` also records ``make_checkpoint``'s contract: a
``tf.train.Checkpoint`` whose ``step`` is an int64 ``tf.Variable`` at 0 and which holds the
model and the optimizer it was given.

The reloaded outputs and final weights are recorded and compared with the reference's to
1e-6. A part whose files were not written (or were refused by the trusted side), or whose
reload raised in the fresh job, fails its ``test_fresh_*`` test with that reason.

Resume check. Training is full-batch and deterministic (op determinism is on), so a run that
stops after ``k`` steps, is restored from its newest checkpoint (step ``save_every *
floor(k / save_every)``) into new objects and is continued to ``total_steps`` ends with the
weights of an uninterrupted run. On the reference solution the difference is exactly 0. The
test records the final weights and this difference (atol 1e-6). Without Adam's state in the
checkpoint the difference is about 1e-2 to 1e-1.

Calibration: no thresholds. The whole file takes about 3 s in the grading job; the fresh
job (warm: TensorFlow already imported) a few seconds more. The fresh tests keep a 200 s
limit for cold workers, which import TensorFlow in every job.

Questions and points (they equal the notebook's question cells):
    weights 4, keras_file 5, export 3, checkpoints 6.
"""

import importlib
import json
import os
import shutil
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

# float32 outputs of small models with terms of order 1-10: honest solutions that order the
# float32 operations differently (alternatives/tolerance_kernel_scale.toml) differ by up to
# 9e-7 over 200 draws; 1e-5 is more than 4x that. Single layers use _layer_tol.
TOL = {"rtol": 1e-5, "atol": 1e-5}
F32_EPS = float(np.finfo(np.float32).eps)
LEARNING_RATE = 0.05
FRESH_TIMEOUT = 200

HANDOVER = "saving"  # the hand-over folder the fresh tests reload (their markers name it too)
MANIFEST = "manifest.json"
# What the grading job saved, per part (paths relative to the hand-over folder).
_PARTS = {}


# -- helpers -----------------------------------------------------------------------------------
def _distinct_sizes(rng, count, low=3, high=12):
    """``count`` different lengths from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _floats(rng, shape, scale=1.0):
    return tf.constant(rng.normal(size=shape) * scale, dtype=tf.float32)


def _layer_tol(x, kernel, bias, scale):
    """The tolerance for float32 outputs of ``activation(scale * (x @ kernel) + bias)``.

    The pre-activation is a cancelling sum, so its rounding error scales with the sum of the
    magnitudes of its terms, not with the result: over 200 draws ``scale * (x @ kernel)``
    and ``x @ (kernel * scale)`` differ by at most 1.75 float32 eps x that sum. atol is
    8 eps x the batch's largest sum of |terms| (at least TOL's).
    """
    x64, k64 = np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(kernel, np.float64))
    terms = abs(scale) * (x64 @ k64) + np.abs(np.asarray(bias, np.float64))
    return {"rtol": TOL["rtol"], "atol": max(TOL["atol"], 8 * F32_EPS * float(terms.max()))}


def _batch(rng):
    return int(rng.choice([7, 9, 11, 13]))


def _mlp(n_features, n_hidden, n_outputs):
    return keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(n_hidden, activation="tanh"),
            keras.layers.Dense(n_outputs),
        ]
    )


def _randomize(model, rng, scale=0.5):
    """Give every weight of a built model values drawn from ``rng``."""
    model.set_weights(
        [(rng.normal(size=w.shape) * scale).astype(np.float32) for w in model.get_weights()]
    )


def _train_step(model, optimizer, x, y):
    """The notebook's ``train_step`` (a trusted copy)."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss


def _flat(weights):
    """All weights in one float32 vector (the recorded form of a list of weight arrays)."""
    return np.concatenate([np.asarray(w, dtype=np.float32).ravel() for w in weights])


def _folder(handover, name):
    """A sub-folder of the hand-over; returns (its path, the hand-over root)."""
    root = handover(HANDOVER)
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    return path, root


def _register(root, name, **spec):
    """Record a saved part in the hand-over's manifest (rewritten after every part)."""
    _PARTS[name] = spec
    with open(os.path.join(root, MANIFEST), "w") as fh:
        json.dump(_PARTS, fh)


def _relative(root, path):
    """``path`` relative to the hand-over root, or None when it lies outside it."""
    rel = os.path.relpath(os.path.realpath(str(path)), os.path.realpath(root))
    return None if rel == ".." or rel.startswith(("../", "/")) else rel


def _scaled_model(student, rng):
    """Input -> ScaledDense(h, scale, tanh) -> Dense(k) with ``rng`` weights; returns (model, x)."""
    d, h, k = _distinct_sizes(rng, 3)
    scale = float(np.round(rng.uniform(0.3, 3.0), 3))
    model = keras.Sequential(
        [
            keras.Input(shape=(d,)),
            student.ScaledDense(h, scale=scale, activation="tanh"),
            keras.layers.Dense(k),
        ]
    )
    _randomize(model, rng)
    return model, _floats(rng, (_batch(rng), d))


def _module_dir(cls):
    """The folder and name of the module that defines ``cls`` (None for the notebook itself)."""
    module = sys.modules.get(getattr(cls, "__module__", ""), None)
    path = getattr(module, "__file__", None)
    if module is None or path is None or cls.__module__ == "__main__":
        return None, None
    return os.path.dirname(os.path.abspath(path)), cls.__module__


# -- reloading in the fresh job (helpers) --------------------------------------------------------
def _saved(handed_over, name, saved_by):
    """(hand-over root, manifest entry) of one part; raises with the reason when it is missing."""
    root = handed_over(HANDOVER)
    try:
        with open(os.path.join(root, MANIFEST)) as fh:
            spec = json.load(fh).get(name)
    except (OSError, ValueError, AttributeError):
        spec = None
    if not isinstance(spec, dict):
        raise RuntimeError(f"nothing to reload: {saved_by} did not get as far as saving")
    return root, spec


def _inside(root, rel, what):
    """The handed-over file or folder ``rel`` (relative, inside the hand-over) as a path."""
    if not isinstance(rel, str) or os.path.isabs(rel) or os.path.normpath(rel).startswith(".."):
        raise RuntimeError(f"{what} was not saved inside the folder or path it was given")
    path = os.path.join(root, os.path.normpath(rel))
    if not os.path.exists(path):
        raise RuntimeError(f"{what} was not saved where it was asked to be")
    return path


def _size(spec, key):
    value = int(spec[key])
    if not 0 < value < 100:
        raise RuntimeError("the saved sizes are not the ones the grader chose")
    return value


def _reload(saved_by, reload):
    """Run a reload; its error, condensed, becomes the test's message."""
    try:
        return reload()
    except Exception as exc:  # the student's files failed to load: say why
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        # Keras buries the useful sentence ("Could not locate class ...") in a long message.
        found = text.find("Could not locate class")
        text = (text[found:] if found >= 0 else text)[:380]
        raise RuntimeError(f"reloading in a fresh Python process failed: {text}") from None


# -- Part 1: architecture and weights ----------------------------------------------------------
@pytest.mark.question("weights")
@pytest.mark.points(1)
def test_copy_model(student, rng, expect):
    model = _mlp(*_distinct_sizes(rng, 3))
    _randomize(model, rng)
    x = _floats(rng, (_batch(rng), model.input_shape[-1]))
    twin = student.copy_model(model)
    expect("copy_outputs", twin(x), **TOL)


@pytest.mark.question("weights")
@pytest.mark.points(1)
def test_copy_is_independent(student, rng, expect):
    model = _mlp(*_distinct_sizes(rng, 3))
    _randomize(model, rng)
    x = _floats(rng, (_batch(rng), model.input_shape[-1]))
    twin = student.copy_model(model)
    _randomize(model, rng)  # the original changes; the copy must not
    expect("copy_after_original_changed", twin(x), **TOL)


@pytest.mark.question("weights")
@pytest.mark.points(1)
def test_save_and_restore_weights(student, rng, expect, handover):
    model = _mlp(*_distinct_sizes(rng, 3))
    _randomize(model, rng)
    x = _floats(rng, (_batch(rng), model.input_shape[-1]))
    folder, root = _folder(handover, "weights")
    config = os.path.join(folder, "architecture.json")
    with open(config, "w") as fh:
        fh.write(model.to_json())
    stem = os.path.join(folder, f"mlp_{int(rng.integers(100, 1000))}")
    restored, weights_file = student.save_and_restore_weights(model, stem)
    _register(
        root, "weights", config=_relative(root, config), weights_file=_relative(root, weights_file)
    )
    expect("restored_outputs", restored(x), **TOL)
    _randomize(model, rng)  # the restored model must hold its own weights
    expect("restored_after_original_changed", restored(x), **TOL)


# -- Part 2: the .keras file with a custom layer -----------------------------------------------
@pytest.mark.question("keras_file")
@pytest.mark.points(1)
def test_scaled_dense_call(student, rng, expect):
    d, units = _distinct_sizes(rng, 2)
    scale = float(np.round(rng.uniform(0.3, 3.0), 3))
    layer = student.ScaledDense(units, scale=scale, activation="relu")
    x = _floats(rng, (_batch(rng), d))
    layer(x)  # builds
    expect("weight_shapes", json.dumps([list(w.shape) for w in layer.weights]))
    kernel = rng.normal(size=(d, units)).astype(np.float32)
    bias = rng.normal(size=(units,)).astype(np.float32)
    layer.set_weights([kernel, bias])
    tol = _layer_tol(x, kernel, bias, scale)
    expect("relu_outputs", layer(x), **tol)
    linear = student.ScaledDense(units, scale=scale)
    linear(x)
    linear.set_weights(layer.get_weights())
    expect("linear_outputs", linear(x), **tol)


@pytest.mark.question("keras_file")
@pytest.mark.points(1)
def test_scaled_dense_config(student, rng, expect):
    d, units = _distinct_sizes(rng, 2)
    scale = float(np.round(rng.uniform(0.3, 3.0), 3))
    layer = student.ScaledDense(units, scale=scale, activation="tanh")
    x = _floats(rng, (_batch(rng), d))
    layer(x)
    kernel = rng.normal(size=(d, units)).astype(np.float32)
    bias = rng.normal(size=(units,)).astype(np.float32)
    layer.set_weights([kernel, bias])
    config = json.loads(json.dumps(layer.get_config()))  # must be JSON data
    twin = type(layer).from_config(config)
    twin(x)
    twin.set_weights(layer.get_weights())
    expect("from_config_outputs", twin(x), **_layer_tol(x, kernel, bias, scale))


@pytest.mark.question("keras_file")
@pytest.mark.points(1)
def test_load_model_file(student, rng, expect, handover):
    model, x = _scaled_model(student, rng)
    folder, root = _folder(handover, "keras_file")
    path = os.path.join(folder, f"scaled_{int(rng.integers(100, 1000))}.keras")
    module_dir, module = _module_dir(student.ScaledDense)
    if module_dir and "." not in module:  # hand the module over beside the file
        source = os.path.join(module_dir, module + ".py")
        if os.path.isfile(source):
            shutil.copyfile(source, os.path.join(folder, module + ".py"))
    student.save_model_file(model, path)
    _register(root, "keras_file", path=_relative(root, path), module=module)
    loaded = student.load_model_file(path)
    expect("loaded_outputs", np.asarray(loaded(x)), **TOL)


# -- Part 3: SavedModel export -----------------------------------------------------------------
@pytest.mark.question("export")
@pytest.mark.points(1)
def test_serve_saved_model(student, rng, expect):
    model, x = _scaled_model(student, rng)
    directory = os.path.join(tempfile.mkdtemp(prefix="grader09-"), "served")
    model.export(directory, verbose=False)  # a trusted export: this test grades the loading
    expect("served", student.serve_saved_model(directory, x), tensor=True, **TOL)


@pytest.mark.question("export")
@pytest.mark.points(1)
def test_export_for_serving(student, rng, expect, handover):
    """The student's export, loaded with a trusted ``tf.saved_model.load``.

    ``test_fresh_export`` loads it again in a fresh process.
    """
    model, x = _scaled_model(student, rng)
    folder, root = _folder(handover, "export")
    directory = os.path.join(folder, f"served_{int(rng.integers(100, 1000))}")
    student.export_for_serving(model, directory)
    _register(root, "export", directory=_relative(root, directory), features=int(x.shape[-1]))
    loaded = tf.saved_model.load(directory)  # keep a reference while serving
    expect("served", loaded.serve(x), **TOL)


# -- Part 4: checkpoints -----------------------------------------------------------------------
def _regression(rng):
    d, h, k = _distinct_sizes(rng, 3)
    n = _batch(rng)
    return (d, h, k), _floats(rng, (n, d)), _floats(rng, (n, k))


@pytest.mark.question("checkpoints")
@pytest.mark.points(2)
def test_checkpoint_manager(student, rng, expect):
    sizes, x, y = _regression(rng)
    steps = int(rng.integers(19, 26))
    save_every = int(rng.integers(2, 4))  # at least 6 saves: more than the default of 5
    max_to_keep = int(rng.integers(2, 5))
    model = _mlp(*sizes)
    _randomize(model, rng)
    directory = tempfile.mkdtemp(prefix="grader09-checkpoints-")
    manager = student.train_with_checkpoints(
        model,
        keras.optimizers.Adam(LEARNING_RATE),
        x,
        y,
        steps,
        directory,
        save_every,
        max_to_keep,
    )
    kept = [int(os.path.basename(p).rsplit("-", 1)[-1]) for p in manager.checkpoints]
    expect("kept_count", len(kept))
    expect("kept_steps", kept)
    latest = tf.train.latest_checkpoint(directory)
    expect("latest_step", None if latest is None else int(latest.rsplit("-", 1)[-1]))
    on_disk = [f for f in os.listdir(directory) if f.endswith(".index")]
    expect("index_files_on_disk", len(on_disk))
    expect("final_weights", _flat(model.get_weights()), **TOL)
    # make_checkpoint's contract: a tf.train.Checkpoint whose step is an int64 variable at 0.
    fresh_model, fresh_optimizer = _mlp(*sizes), keras.optimizers.Adam(LEARNING_RATE)
    checkpoint = student.make_checkpoint(fresh_model, fresh_optimizer)
    expect("make_checkpoint_type", type(checkpoint).__name__)
    step = getattr(checkpoint, "step", None)
    expect("step_dtype", getattr(getattr(step, "dtype", None), "name", None))
    expect("step_is_a_variable", isinstance(step, tf.Variable))
    expect("initial_step", None if step is None else int(step))
    expect("holds_the_model", getattr(checkpoint, "model", None) is fresh_model)
    expect("holds_the_optimizer", getattr(checkpoint, "optimizer", None) is fresh_optimizer)


@pytest.mark.question("checkpoints")
@pytest.mark.points(2)
def test_resume_training(student, rng, expect, handover):
    sizes, x, y = _regression(rng)
    total = int(rng.integers(14, 20))
    save_every = int(rng.integers(3, 5))
    stop = int(rng.integers(save_every + 1, total - 2))  # often between two checkpoints
    start = _mlp(*sizes)
    _randomize(start, rng)
    initial = start.get_weights()
    other = [(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in initial]

    straight = _mlp(*sizes)
    straight.set_weights(initial)
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    for _ in range(total):
        _train_step(straight, optimizer, x, y)

    folder, root = _folder(handover, "checkpoint")
    directory = os.path.join(folder, "checkpoints")
    os.makedirs(directory)
    student.train_with_checkpoints(
        start, keras.optimizers.Adam(LEARNING_RATE), x, y, stop, directory, save_every, 2
    )
    config = os.path.join(folder, "architecture.json")
    with open(config, "w") as fh:
        fh.write(start.to_json())
    _register(
        root,
        "checkpoint",
        config=_relative(root, config),
        directory=_relative(root, directory),
        total_steps=total,
        samples=int(x.shape[0]),
    )

    resumed = _mlp(*sizes)
    resumed.set_weights(other)  # as after a restart: other weights, a new optimizer
    steps_run = student.resume_training(
        resumed, keras.optimizers.Adam(LEARNING_RATE), x, y, total, directory
    )
    expect("steps_run", int(steps_run))
    final = resumed.get_weights()
    expect("resumed_weights", _flat(final), **TOL)
    gap = max(
        float(np.max(np.abs(a - b))) for a, b in zip(final, straight.get_weights(), strict=True)
    )
    expect("gap_to_uninterrupted", gap, rtol=0, atol=1e-6)


# -- reloading in the fresh job (no notebook cell ran there) -------------------------------------
@pytest.mark.question("export")
@pytest.mark.points(1)
@pytest.mark.timeout(FRESH_TIMEOUT)
@pytest.mark.fresh("saving")  # literal: read statically
def test_fresh_export(rng, expect, handed_over):
    root, spec = _saved(handed_over, "export", "export_for_serving")
    directory = _inside(root, spec.get("directory"), "the SavedModel")
    x = _floats(rng, (_batch(rng), _size(spec, "features")))
    loaded = _reload("export_for_serving", lambda: tf.saved_model.load(directory))
    expect("fresh_outputs", _reload("export_for_serving", lambda: loaded.serve(x)), **TOL)


@pytest.mark.question("weights")
@pytest.mark.points(1)
@pytest.mark.timeout(FRESH_TIMEOUT)
@pytest.mark.fresh("saving")  # literal: read statically
def test_fresh_weights_file(rng, expect, handed_over):
    root, spec = _saved(handed_over, "weights", "save_and_restore_weights")
    config = _inside(root, spec.get("config"), "the architecture")
    weights_file = _inside(root, spec.get("weights_file"), "the weights file")

    def reload():
        with open(config) as fh:
            model = keras.models.model_from_json(fh.read())
        model.load_weights(weights_file)
        return model

    model = _reload("save_and_restore_weights", reload)
    x = _floats(rng, (_batch(rng), int(model.input_shape[-1])))
    expect("fresh_outputs", model(x), **TOL)


@pytest.mark.question("checkpoints")
@pytest.mark.points(2)
@pytest.mark.timeout(FRESH_TIMEOUT)
@pytest.mark.fresh("saving")  # literal: read statically
def test_fresh_checkpoint(rng, expect, handed_over):
    root, spec = _saved(handed_over, "checkpoint", "train_with_checkpoints")
    config = _inside(root, spec.get("config"), "the architecture")
    directory = _inside(root, spec.get("directory"), "the checkpoints")
    total, samples = _size(spec, "total_steps"), _size(spec, "samples")
    with open(config) as fh:
        model = keras.models.model_from_json(fh.read())
    model.set_weights([(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in model.weights])
    x = _floats(rng, (samples, int(model.input_shape[-1])))
    y = _floats(rng, (samples, int(model.output_shape[-1])))
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    ckpt = tf.train.Checkpoint(
        step=tf.Variable(0, dtype=tf.int64), model=model, optimizer=optimizer
    )
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise RuntimeError(
            "nothing to reload: no checkpoint in the folder train_with_checkpoints wrote"
        )
    _reload("train_with_checkpoints", lambda: ckpt.restore(latest))
    while int(ckpt.step) < total:
        _train_step(model, optimizer, x, y)
        ckpt.step.assign_add(1)
    expect("fresh_final_weights", _flat(model.get_weights()), **TOL)


@pytest.mark.question("keras_file")
@pytest.mark.points(2)
@pytest.mark.timeout(FRESH_TIMEOUT)
@pytest.mark.fresh("saving")  # literal: read statically
def test_fresh_keras_file(rng, expect, handed_over):
    """Keep this after ``test_fresh_export``: it is the one test that imports student code."""
    root, spec = _saved(handed_over, "keras_file", "save_model_file")
    path = _inside(root, spec.get("path"), "the .keras file")
    module = spec.get("module")

    def reload():
        if isinstance(module, str) and module.isidentifier():
            sys.path.insert(0, os.path.dirname(path))
            importlib.import_module(module)
        return keras.models.load_model(path)

    model = _reload("save_model_file", reload)
    x = _floats(rng, (_batch(rng), int(model.input_shape[-1])))
    expect("fresh_outputs", np.asarray(model(x)), **TOL)
