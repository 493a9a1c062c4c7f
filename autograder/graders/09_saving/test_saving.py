"""Hidden grader for exercise 09, saving and loading models (模型的保存与加载).

Every size, weight and input is drawn from ``rng``. Models get their weights from ``rng``
through ``set_weights``, so the recorded outputs depend only on what the student's code
computes and saves, not on the student's initializers. Layer sizes are all different and the
batch is odd, so no shape can be confused with another.

Fresh process. Saving something and loading it back in the same process proves little,
because the objects are still in memory. So the tests that save files (weights file,
``.keras`` file, SavedModel, checkpoints) also leave their files in a temporary folder in the
sandbox, and the ``test_fresh_*`` tests at the end of this file reload all of them in ONE
new Python process (``fresh_python``: the runtime's spare interpreter, forked before the
notebook ran). That process knows nothing of the notebook:

* the weights file is loaded into a model that the grader rebuilds from the architecture's
  JSON (``model.to_json()``, written by the grader);
* the SavedModel is loaded with ``tf.saved_model.load`` and called through ``serve``
  BEFORE any student module is imported, which proves it is self-contained;
* the ``.keras`` file is loaded with ``keras.models.load_model`` after importing the module
  that defines the student's ``ScaledDense``, the way a Keras user would. The notebook
  writes that module (``saving_layers.py``) into its work folder, and the grader finds it
  through ``ScaledDense.__module__``. No ``custom_objects`` are passed, so the class must be
  registered with ``@keras.saving.register_keras_serializable``. A class that is defined
  only in the notebook (module ``__main__``) cannot be found there, which is the point;
* the checkpoints are restored into a new model with other weights and a new Adam, using
  ``tf.train.Checkpoint(step=..., model=..., optimizer=...)`` (the names the notebook asks
  for), and training continues with the grader's copy of ``train_step`` until
  ``total_steps``.

The reloaded outputs and final weights are recorded and compared with the reference's to
1e-6. A part whose files were not written, or whose reload raised in the fresh process,
fails its ``test_fresh_*`` test with the error from the fresh process.

Resume check. Training is full-batch and deterministic (op determinism is on), so a run that
stops after ``k`` steps, is restored from its newest checkpoint (step ``save_every *
floor(k / save_every)``) into new objects and is continued to ``total_steps`` ends with the
weights of an uninterrupted run. On the reference solution the difference is exactly 0. The
test records the final weights and this difference (atol 1e-6). Without Adam's state in the
checkpoint the difference is about 1e-2 to 1e-1.

Calibration: no thresholds. The whole file takes about 3 s in the grading process plus one
fresh process. That process is the runtime's spare interpreter (``fresh_python``), forked
with TensorFlow already imported before any notebook cell ran, so it pays no TensorFlow
import; the fresh tests keep a 200 s limit for the fallback (a real interpreter, 5 to 30 s
of import on a loaded 2-core machine) used when a notebook killed the spare.

Questions and points (they equal the notebook's question cells):
    weights 4, keras_file 5, export 3, checkpoints 6.
"""

import json
import os
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

TOL = {"rtol": 1e-6, "atol": 1e-6}
LEARNING_RATE = 0.05
FRESH_TIMEOUT = 200

# Files saved by the tests of this module, reloaded together by the fresh-process tests.
_WORK = tempfile.mkdtemp(prefix="grader09-")
_PARTS = {}
_FRESH = {}


# -- helpers -----------------------------------------------------------------------------------
def _distinct_sizes(rng, count, low=3, high=12):
    """``count`` different lengths from [low, high), in random order."""
    return tuple(int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False))


def _floats(rng, shape, scale=1.0):
    return tf.constant(rng.normal(size=shape) * scale, dtype=tf.float32)


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


def _folder(name):
    path = os.path.join(_WORK, name)
    os.makedirs(path, exist_ok=True)
    return path


def _save_arrays(name, **arrays):
    path = os.path.join(_WORK, name + ".npz")
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})
    return path


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


# -- the fresh process -------------------------------------------------------------------------
_FRESH_SCRIPT = r"""
import importlib, json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
import keras

tf.config.experimental.enable_op_determinism()
manifest_path = sys.argv[1]
with open(manifest_path) as fh:
    manifest = json.load(fh)
results, errors = {}, {}


def run(name, reload):
    spec = manifest.get(name)
    if spec is None:
        return
    try:
        for key, value in reload(spec).items():
            results[name + "/" + key] = np.asarray(value)
    except BaseException as exc:  # report the reload's error to the test
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        # Keras buries the useful sentence ("Could not locate class ...") in a long message.
        found = text.find("Could not locate class")
        errors[name] = (text[found:] if found >= 0 else text)[:380]


def export(spec):
    # First, before any student module is imported: a SavedModel needs no Python classes.
    data = np.load(spec["data"])
    loaded = tf.saved_model.load(spec["directory"])
    return {"outputs": loaded.serve(tf.constant(data["x"])).numpy()}


def weights(spec):
    data = np.load(spec["data"])
    with open(spec["config"]) as fh:
        model = keras.models.model_from_json(fh.read())
    model.load_weights(spec["weights_file"])
    return {"outputs": model(tf.constant(data["x"])).numpy()}


def checkpoint(spec):
    data = np.load(spec["data"])
    with open(spec["config"]) as fh:
        model = keras.models.model_from_json(fh.read())
    model.set_weights([data[f"other_{i}"] for i in range(spec["n_weights"])])
    optimizer = keras.optimizers.Adam(spec["learning_rate"])
    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), model=model,
                               optimizer=optimizer)
    latest = tf.train.latest_checkpoint(spec["directory"])
    if latest is None:
        raise FileNotFoundError("no checkpoint in the folder train_with_checkpoints wrote")
    ckpt.restore(latest)
    x, y = tf.constant(data["x"]), tf.constant(data["y"])
    while int(ckpt.step) < spec["total_steps"]:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        ckpt.step.assign_add(1)
    return {f"w{i}": w for i, w in enumerate(model.get_weights())}


def keras_file(spec):
    data = np.load(spec["data"])
    if spec["module_dir"]:
        sys.path.insert(0, spec["module_dir"])
        importlib.import_module(spec["module"])
    model = keras.models.load_model(spec["path"])
    return {"outputs": np.asarray(model(tf.constant(data["x"])))}


run("export", export)
run("weights", weights)
run("checkpoint", checkpoint)
run("keras_file", keras_file)
out = os.path.dirname(manifest_path)
np.savez(os.path.join(out, "fresh_results.npz"), **results)
with open(os.path.join(out, "fresh_errors.json"), "w") as fh:
    json.dump(errors, fh)
"""


def _fresh_results(fresh_python):
    """Reload every saved part in one new Python process (once); returns (arrays, errors)."""
    if "results" not in _FRESH:
        folder = _folder("fresh")
        manifest = os.path.join(folder, "manifest.json")
        with open(manifest, "w") as fh:
            json.dump(_PARTS, fh)
        done = fresh_python(_FRESH_SCRIPT, [manifest], cwd=folder, timeout=FRESH_TIMEOUT - 20)
        results_file = os.path.join(folder, "fresh_results.npz")
        if done.returncode != 0 or not os.path.exists(results_file):
            _FRESH["crash"] = (
                f"the fresh Python process crashed (exit {done.returncode}): {done.stderr[-600:]}"
            )
            _FRESH["results"] = {}
            _FRESH["errors"] = {}
        else:
            with np.load(results_file) as arrays:
                _FRESH["results"] = {key: arrays[key] for key in arrays.files}
            with open(os.path.join(folder, "fresh_errors.json")) as fh:
                _FRESH["errors"] = json.load(fh)
    return _FRESH["results"], _FRESH["errors"]


def _fresh_part(fresh_python, name, saved_by):
    """The fresh process's arrays for one part; raises with the reason when it has none."""
    if name not in _PARTS:
        raise RuntimeError(f"nothing to reload: {saved_by} did not get as far as saving")
    results, errors = _fresh_results(fresh_python)
    if "crash" in _FRESH:
        raise RuntimeError(_FRESH["crash"])
    if name in errors:
        raise RuntimeError(f"reloading in a fresh Python process failed: {errors[name]}")
    prefix = name + "/"
    return {key[len(prefix) :]: value for key, value in results.items() if key.startswith(prefix)}


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
def test_save_and_restore_weights(student, rng, expect):
    model = _mlp(*_distinct_sizes(rng, 3))
    _randomize(model, rng)
    x = _floats(rng, (_batch(rng), model.input_shape[-1]))
    folder = _folder("weights")
    config = os.path.join(folder, "architecture.json")
    with open(config, "w") as fh:
        fh.write(model.to_json())
    stem = os.path.join(folder, f"mlp_{int(rng.integers(100, 1000))}")
    restored, weights_file = student.save_and_restore_weights(model, stem)
    _PARTS["weights"] = {
        "config": config,
        "weights_file": str(weights_file),
        "data": _save_arrays("weights_inputs", x=x),
    }
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
    layer.set_weights(
        [
            rng.normal(size=(d, units)).astype(np.float32),
            rng.normal(size=(units,)).astype(np.float32),
        ]
    )
    expect("relu_outputs", layer(x), **TOL)
    linear = student.ScaledDense(units, scale=scale)
    linear(x)
    linear.set_weights(layer.get_weights())
    expect("linear_outputs", linear(x), **TOL)


@pytest.mark.question("keras_file")
@pytest.mark.points(1)
def test_scaled_dense_config(student, rng, expect):
    d, units = _distinct_sizes(rng, 2)
    scale = float(np.round(rng.uniform(0.3, 3.0), 3))
    layer = student.ScaledDense(units, scale=scale, activation="tanh")
    x = _floats(rng, (_batch(rng), d))
    layer(x)
    layer.set_weights(
        [
            rng.normal(size=(d, units)).astype(np.float32),
            rng.normal(size=(units,)).astype(np.float32),
        ]
    )
    config = json.loads(json.dumps(layer.get_config()))  # must be JSON data
    twin = type(layer).from_config(config)
    twin(x)
    twin.set_weights(layer.get_weights())
    expect("from_config_outputs", twin(x), **TOL)


@pytest.mark.question("keras_file")
@pytest.mark.points(1)
def test_load_model_file(student, rng, expect):
    model, x = _scaled_model(student, rng)
    path = os.path.join(_folder("keras_file"), f"scaled_{int(rng.integers(100, 1000))}.keras")
    module_dir, module = _module_dir(student.ScaledDense)
    _PARTS["keras_file"] = {
        "path": path,
        "module_dir": module_dir,
        "module": module,
        "data": _save_arrays("keras_file_inputs", x=x),
    }
    student.save_model_file(model, path)
    loaded = student.load_model_file(path)
    expect("loaded_outputs", np.asarray(loaded(x)), **TOL)


# -- Part 3: SavedModel export -----------------------------------------------------------------
@pytest.mark.question("export")
@pytest.mark.points(1)
def test_serve_saved_model(student, rng, expect):
    model, x = _scaled_model(student, rng)
    directory = os.path.join(_folder("export_trusted"), "served")
    model.export(directory, verbose=False)  # a trusted export: this test grades the loading
    expect("served", student.serve_saved_model(directory, x), tensor=True, **TOL)


@pytest.mark.question("export")
@pytest.mark.points(1)
def test_export_for_serving(student, rng, expect):
    """The student's export, loaded with a trusted ``tf.saved_model.load``.

    ``test_fresh_export`` loads it again in a fresh process.
    """
    model, x = _scaled_model(student, rng)
    directory = os.path.join(_folder("export"), f"served_{int(rng.integers(100, 1000))}")
    _PARTS["export"] = {"directory": directory, "data": _save_arrays("export_inputs", x=x)}
    student.export_for_serving(model, directory)
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
    directory = _folder("checkpoints_kept")
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


@pytest.mark.question("checkpoints")
@pytest.mark.points(2)
def test_resume_training(student, rng, expect):
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

    directory = _folder("checkpoints_resume")
    student.train_with_checkpoints(
        start, keras.optimizers.Adam(LEARNING_RATE), x, y, stop, directory, save_every, 2
    )
    _PARTS["checkpoint"] = {
        "config": os.path.join(_WORK, "resume_architecture.json"),
        "directory": directory,
        "n_weights": len(initial),
        "learning_rate": LEARNING_RATE,
        "total_steps": total,
        "data": _save_arrays(
            "checkpoint_data", x=x, y=y, **{f"other_{i}": w for i, w in enumerate(other)}
        ),
    }
    with open(_PARTS["checkpoint"]["config"], "w") as fh:
        fh.write(start.to_json())

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


# -- reloading in a fresh process (keep these last: they reload what the tests above saved) ---
@pytest.mark.question("weights")
@pytest.mark.points(1)
@pytest.mark.timeout(FRESH_TIMEOUT)
def test_fresh_weights_file(expect, fresh_python):
    part = _fresh_part(fresh_python, "weights", "save_and_restore_weights")
    expect("fresh_outputs", part["outputs"], **TOL)


@pytest.mark.question("keras_file")
@pytest.mark.points(2)
@pytest.mark.timeout(FRESH_TIMEOUT)
def test_fresh_keras_file(expect, fresh_python):
    part = _fresh_part(fresh_python, "keras_file", "save_model_file")
    expect("fresh_outputs", part["outputs"], **TOL)


@pytest.mark.question("export")
@pytest.mark.points(1)
@pytest.mark.timeout(FRESH_TIMEOUT)
def test_fresh_export(expect, fresh_python):
    part = _fresh_part(fresh_python, "export", "export_for_serving")
    expect("fresh_outputs", part["outputs"], **TOL)


@pytest.mark.question("checkpoints")
@pytest.mark.points(2)
@pytest.mark.timeout(FRESH_TIMEOUT)
def test_fresh_checkpoint(expect, fresh_python):
    part = _fresh_part(fresh_python, "checkpoint", "train_with_checkpoints")
    expect("fresh_final_weights", _flat([part[f"w{i}"] for i in range(len(part))]), **TOL)
