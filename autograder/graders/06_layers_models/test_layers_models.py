"""Hidden grader for exercise 06, modules, layers and models (模块、层与模型).

Every size is drawn from ``rng``: input widths are at least 5 and all widths of one network
differ, so weights created in ``__init__`` with a hard-coded input size, transposed kernels
and mixed-up layers show. Weights are never left to the initialisers: the tests copy seeded
values into the student's objects (``assign`` for ``tf.Module`` variables, ``set_weights``
for layers) and record the outputs, which the trusted side compares with the reference's to
rtol = atol = 1e-6. The initial values of ``Affine`` are checked by their statistics only:
the standard deviation and mean of sqrt(in_features) * w over a layer of at least 150000
weights (1 and 0, atol 0.1) and b exactly zero. Weight shapes are recorded as strings such
as ``"[(7, 5), (5,)]"``, in the order ``weights`` lists them (creation order); symbolic
outputs of ``keras.Input`` as ``"(None, 5)"``.

Dropout statistics: a dropped entry is exactly 0 and the others are scaled by 1/(1 - rate),
but which entries drop depends on the student's random stream. The tests therefore record the
fraction of zeros among at least 3000 outputs (atol 0.06, more than 4 standard deviations of
the difference of two such fractions) and the smallest and largest ratio of a kept output to
the inference output (rtol 1e-5), never the random mask itself.

Fresh process: the config question is checked in a new Python process that the trusted side
starts, not the student's. The notebook writes ``MyDense`` to the module file ``my_layers.py``
(its ``%%writefile`` cell), as a Keras user keeps custom layers in an importable module.
``test_config_saved`` (grading job) finds that file with ``inspect.getsourcefile``, builds two
layers, records their outputs and hands over the module file, their ``get_config()`` as JSON
and the sizes (``handover("config")``). ``test_config_round_trip_fresh_process`` is marked
``fresh("config")``: it runs in the fresh job (no notebook cell ran there), imports the class
from the handed-over module, calls ``from_config``, builds, sets weights drawn from its own
``rng`` and records the outputs and the reloaded configs.

Freezing: ``test_freeze_and_recompile`` builds, compiles and trains (one epoch) a 4-layer
classifier on seeded data before calling the student's function, so its training step
already exists, then trains 2 more epochs without shuffling. The frozen weights are recorded
with ``exact=True`` (the reference leaves them bit-identical) and the trained weights with
rtol 1e-5 / atol 1e-6 (same optimizer, loss and data: only the order of float operations
could differ). Calibration: the freezing test takes about 6 s of wall time at a load
average of 10 on 2 cores and every other test under 1 s; the fresh job costs one more job.

Questions and points (they equal the notebook's question cells):
    module 4, layer 5, training 2, config 3 (1 + 2 fresh), subclass 3, sequential 4, freezing 3,
    param_count 2.
"""

import importlib
import inspect
import json
import os
import shutil
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

TOL = {"rtol": 1e-6, "atol": 1e-6}
DROP_FRACTION = {"atol": 0.06, "rtol": 0.0, "check_dtype": False}
RATIO = {"rtol": 1e-5, "atol": 0.0, "check_dtype": False}
# Statistics of a freshly initialised Affine's w (its own random stream): two honest draws'
# statistics differ by 0.0037 (one standard deviation; 0.013 at most over 20 draws of a
# smaller layer), so atol 0.1 keeps the spread check's factor 4 with room; a wrong scale
# (x2, 1/n instead of 1/sqrt(n), a unit normal) is off by 0.5 or more.
INIT_STAT = {"rtol": 0.0, "atol": 0.1}


def _distinct_sizes(rng, count, low=5, high=14):
    """``count`` different widths from [low, high), in random order."""
    return [int(n) for n in rng.choice(np.arange(low, high), size=count, replace=False)]


def _floats(rng, shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def _shape_text(variables):
    return str([tuple(int(n) for n in v.shape) for v in variables])


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _dropout_stats(expect, prefix, trained, plain):
    """Record the fraction of dropped outputs and the range of kept / plain ratios."""
    trained, plain = _numpy(trained), _numpy(plain)
    kept = trained != 0.0
    expect(f"{prefix}_zero_fraction", float(np.mean(~kept)), **DROP_FRACTION)
    ratio = trained[kept] / plain[kept] if kept.any() else np.array([np.nan])
    expect(f"{prefix}_kept_ratio_min", float(np.min(ratio)), **RATIO)
    expect(f"{prefix}_kept_ratio_max", float(np.max(ratio)), **RATIO)


# -- module ------------------------------------------------------------------------------------
@pytest.mark.question("module")
@pytest.mark.points(1)
def test_affine_variables(student, rng, expect):
    n_in, n_out = _distinct_sizes(rng, 2)
    module = student.Affine(n_in, n_out)
    expect("n_trainable_variables", len(module.trainable_variables))
    expect(
        "sorted_shapes",
        str(sorted(tuple(int(n) for n in v.shape) for v in module.trainable_variables)),
    )
    expect("w_shape", str(tuple(int(n) for n in module.w.shape)))
    expect("b_shape", str(tuple(int(n) for n in module.b.shape)))
    expect("w_dtype", module.w.dtype.name)
    expect("w_is_variable", isinstance(module.w, tf.Variable))
    # The initial values: w ~ N(0, 1 / in_features), b = 0. Over 150000+ entries the sample
    # std (and mean) of sqrt(in_features) * w are 1 (and 0) to about 0.003.
    big_in, big_out = int(rng.integers(500, 600)), int(rng.integers(300, 400))
    big = student.Affine(big_in, big_out)
    w = _numpy(big.w).astype(np.float64) * np.sqrt(big_in)
    expect("init_w_std_times_sqrt_in", float(np.std(w)), **INIT_STAT)
    expect("init_w_mean_times_sqrt_in", float(np.mean(w)), **INIT_STAT)
    expect("init_b", _numpy(big.b), rtol=0.0, atol=0.0)


@pytest.mark.question("module")
@pytest.mark.points(1)
def test_affine_outputs(student, rng, expect):
    n_in, n_out, batch = _distinct_sizes(rng, 3)
    x = tf.constant(_floats(rng, (batch, n_in)))
    for label, activation in (("linear", None), ("relu", tf.nn.relu)):
        module = student.Affine(n_in, n_out, activation=activation)
        module.w.assign(_floats(rng, (n_in, n_out)))
        module.b.assign(_floats(rng, (n_out,)))
        expect(f"{label}_output", module(x), **TOL)


@pytest.mark.question("module")
@pytest.mark.points(2)
def test_tiny_mlp(student, rng, expect):
    sizes = _distinct_sizes(rng, 4)
    batch = int(rng.integers(3, 9))
    mlp = student.TinyMLP(sizes)
    expect("n_layers", len(mlp.layers))
    expect("n_trainable_variables", len(mlp.trainable_variables))
    expect(
        "sorted_shapes",
        str(sorted(tuple(int(n) for n in v.shape) for v in mlp.trainable_variables)),
    )
    for i, layer in enumerate(mlp.layers):
        layer.w.assign(_floats(rng, (sizes[i], sizes[i + 1]), scale=0.7))
        layer.b.assign(_floats(rng, (sizes[i + 1],), scale=0.5))
    expect("output", mlp(tf.constant(_floats(rng, (batch, sizes[0])))), **TOL)
    # Other depths: only the last layer is linear, however many layers there are.
    for label, count in (("one_hidden", 3), ("four_hidden", 6)):
        other = _distinct_sizes(rng, count)
        deep = student.TinyMLP(other)
        expect(f"{label}_n_layers", len(deep.layers))
        for i, layer in enumerate(deep.layers):
            layer.w.assign(_floats(rng, (other[i], other[i + 1]), scale=0.7))
            layer.b.assign(_floats(rng, (other[i + 1],), scale=0.5))
        expect(f"{label}_output", deep(tf.constant(_floats(rng, (batch, other[0])))), **TOL)


# -- layer -------------------------------------------------------------------------------------
@pytest.mark.question("layer")
@pytest.mark.points(2)
def test_dense_lazy_build(student, rng, expect):
    n_in, units = _distinct_sizes(rng, 2)
    layer = student.MyDense(units)
    expect("weights_before_build", len(layer.weights))
    layer.build((None, n_in))
    expect("shapes_after_build", _shape_text(layer.weights))
    expect("n_trainable", len(layer.trainable_weights))
    expect("n_non_trainable", len(layer.non_trainable_weights))
    expect("count_params", int(layer.count_params()))
    no_bias = student.MyDense(units + 2, use_bias=False)
    no_bias.build((None, n_in + 1))
    expect("no_bias_shapes", _shape_text(no_bias.weights))
    expect("no_bias_count_params", int(no_bias.count_params()))


@pytest.mark.question("layer")
@pytest.mark.points(1)
def test_dense_symbolic_none_batch(student, rng, expect):
    n_in, hidden, units = _distinct_sizes(rng, 3)
    inputs = keras.Input(shape=(n_in,))
    outputs = student.MyDense(units)(student.MyDense(hidden, activation="relu")(inputs))
    expect("symbolic_shape", str(tuple(outputs.shape)))
    model = keras.Model(inputs, outputs)
    expect("model_weight_shapes", _shape_text(model.weights))
    batch = int(rng.integers(3, 9))
    expect("predict_shape", str(model.predict(_floats(rng, (batch, n_in)), verbose=0).shape))


@pytest.mark.question("layer")
@pytest.mark.points(2)
def test_dense_outputs_after_set_weights(student, rng, expect):
    n_in, units, batch = _distinct_sizes(rng, 3)
    x = _floats(rng, (batch, n_in))
    for activation, use_bias in (("tanh", True), (None, False), ("relu", True)):
        layer = student.MyDense(units, activation=activation, use_bias=use_bias)
        layer(x)  # builds lazily
        weights = [_floats(rng, (n_in, units), scale=0.6)]
        if use_bias:
            weights.append(_floats(rng, (units,), scale=0.4))
        layer.set_weights(weights)
        expect(f"{activation}_{use_bias}_output", layer(x), **TOL)


# -- training ----------------------------------------------------------------------------------
@pytest.mark.question("training")
@pytest.mark.points(2)
def test_dense_training_flag(student, rng, expect):
    n_in, units = _distinct_sizes(rng, 2, low=7)
    batch = 600  # at least 4200 outputs for the dropout statistics
    rate = float(np.round(rng.uniform(0.2, 0.5), 2))
    layer = student.MyDense(units, dropout=rate)
    x = _floats(rng, (batch, n_in))
    layer(x)
    layer.set_weights([_floats(rng, (n_in, units)), _floats(rng, (units,))])
    plain = layer(x)
    expect("default_call", plain, **TOL)
    expect("training_false", layer(x, training=False), **TOL)
    _dropout_stats(expect, "training_true", layer(x, training=True), plain)


# -- config ------------------------------------------------------------------------------------
_CASES = ("case_a", "case_b")


def _module_file(cls):
    """The file that defines ``cls``; it must be importable by a fresh process."""
    path = inspect.getsourcefile(cls) if cls.__module__ not in ("__main__", "builtins") else None
    if not path or not os.path.isfile(path) or "." in cls.__module__:
        raise RuntimeError(
            "MyDense must be defined in my_layers.py (the %%writefile cell) and imported from "
            "it, so that a fresh Python process can import it; it was defined in module "
            f"{cls.__module__!r}."
        )
    return path


def _case_kwargs(rng, name):
    if name == "case_a":
        dropout = float(np.round(rng.uniform(0.1, 0.6), 2))
        return dict(units=0, activation="tanh", use_bias=False, dropout=dropout, name="reloaded_a")
    return dict(units=0, activation="relu", use_bias=True, name="reloaded_b")


def _case_weights(rng, n_in, units, use_bias):
    weights = [_floats(rng, (n_in, units), scale=0.6)]
    if use_bias:
        weights.append(_floats(rng, (units,), scale=0.4))
    return weights


@pytest.mark.question("config")
@pytest.mark.points(1)
def test_config_saved(student, rng, expect, handover):
    """Two layers' configs, as JSON, handed over with my_layers.py to the fresh job."""
    cls = student.MyDense
    folder = handover("config")
    module_path = _module_file(cls)
    shutil.copyfile(module_path, os.path.join(folder, cls.__module__ + ".py"))
    sizes = _distinct_sizes(rng, 4)
    spec = {"module": cls.__module__, "class": cls.__name__, "cases": {}}
    for i, name in enumerate(_CASES):
        n_in, units = sizes[2 * i], sizes[2 * i + 1]
        kwargs = dict(_case_kwargs(rng, name), units=units)
        layer = cls(**kwargs)
        x = _floats(rng, (int(rng.integers(3, 9)), n_in))
        layer(x)
        layer.set_weights(_case_weights(rng, n_in, units, kwargs["use_bias"]))
        expect(f"{name}_original_output", layer(x), **TOL)
        config_text = json.dumps(layer.get_config())  # the config must be JSON-serialisable
        with open(os.path.join(folder, name + ".json"), "w") as fh:
            fh.write(config_text)
        spec["cases"][name] = {"n_in": n_in, "units": units, "use_bias": kwargs["use_bias"]}
    with open(os.path.join(folder, "spec.json"), "w") as fh:
        json.dump(spec, fh)


@pytest.mark.question("config")
@pytest.mark.points(2)
@pytest.mark.timeout(120)
@pytest.mark.fresh("config")
def test_config_round_trip_fresh_process(rng, expect, handed_over):
    """In the fresh job: import MyDense from my_layers.py, rebuild both layers from their configs.

    No notebook cell ran in this process. Inputs and weights are drawn here, from this test's
    own ``rng``, so nothing the grading job computed can stand in for the reloaded layers.
    """
    folder = handed_over("config")
    with open(os.path.join(folder, "spec.json")) as fh:
        spec = json.load(fh)
    module, class_name = str(spec["module"]), str(spec["class"])
    if not (module.isidentifier() and class_name.isidentifier()):
        raise RuntimeError(f"MyDense's module {module!r} cannot be imported by a fresh process")
    sys.path.insert(0, folder)
    cls = getattr(importlib.import_module(module), class_name)
    for name in _CASES:
        case = spec["cases"][name]
        n_in, units = int(case["n_in"]), int(case["units"])
        if not (0 < n_in < 100 and 0 < units < 100):
            raise RuntimeError("the saved layer sizes are not the ones the grader chose")
        with open(os.path.join(folder, name + ".json")) as fh:
            layer = cls.from_config(json.load(fh))
        x = _floats(rng, (int(rng.integers(3, 9)), n_in))
        layer(x)
        layer.set_weights(_case_weights(rng, n_in, units, bool(case["use_bias"])))
        expect(f"{name}_reloaded_output", layer(x), **TOL)
        config = layer.get_config()
        for key in ("name", "units", "activation", "use_bias", "dropout"):
            value = config.get(key, "<missing>")
            expect(
                f"{name}_reloaded_{key}", value if value is not None else "None", check_dtype=False
            )


# -- subclass ----------------------------------------------------------------------------------
@pytest.mark.question("subclass")
@pytest.mark.points(2)
def test_classifier_outputs(student, rng, expect):
    n_in, hidden, n_classes, batch = _distinct_sizes(rng, 4)
    model = student.Classifier(hidden, n_classes)
    x = _floats(rng, (batch, n_in))
    model(x)
    expect("is_model", isinstance(model, keras.Model))
    expect("n_layers", len(model.layers))
    expect("hidden_shapes", _shape_text(model.hidden.weights))
    expect("head_shapes", _shape_text(model.head.weights))
    expect("count_params", int(model.count_params()))
    model.hidden.set_weights([_floats(rng, (n_in, hidden), 0.6), _floats(rng, (hidden,), 0.4)])
    model.head.set_weights(
        [_floats(rng, (hidden, n_classes), 0.6), _floats(rng, (n_classes,), 0.4)]
    )
    expect("logits", model(x), **TOL)
    expect("predict", model.predict(x, verbose=0), **TOL)
    expect("symbolic_shape", str(tuple(model(keras.Input(shape=(n_in,))).shape)))


@pytest.mark.question("subclass")
@pytest.mark.points(1)
def test_classifier_dropout(student, rng, expect):
    n_in, hidden = _distinct_sizes(rng, 2, low=7)
    rate = float(np.round(rng.uniform(0.2, 0.5), 2))
    model = student.Classifier(hidden, hidden, dropout=rate)  # head: identity below
    x = np.abs(_floats(rng, (600, n_in))) + 0.1  # positive inputs, kernel and bias: no ReLU zeros
    model(x)
    model.hidden.set_weights(
        [np.abs(_floats(rng, (n_in, hidden))) + 0.1, np.abs(_floats(rng, (hidden,))) + 0.1]
    )
    model.head.set_weights([np.eye(hidden, dtype=np.float32), np.zeros(hidden, np.float32)])
    plain = model(x, training=False)
    expect("inference_logits", plain, **TOL)
    _dropout_stats(expect, "hidden_dropout", model(x, training=True), plain)


# -- sequential --------------------------------------------------------------------------------
@pytest.mark.question("sequential")
@pytest.mark.points(2)
def test_build_mlp(student, rng, expect):
    n_in, h1, h2, n_out = _distinct_sizes(rng, 4)
    model = student.build_mlp(n_in, [h1, h2], n_out)
    expect("is_sequential", isinstance(model, keras.Sequential))
    expect("n_layers", len(model.layers))
    expect("weight_shapes", _shape_text(model.weights))
    expect("count_params", int(model.count_params()))
    expect("symbolic_shape", str(tuple(model(keras.Input(shape=(n_in,))).shape)))
    model.set_weights([_floats(rng, tuple(w.shape), 0.6) for w in model.weights])
    expect("output", model(_floats(rng, (int(rng.integers(3, 9)), n_in))), **TOL)
    single = student.build_mlp(n_in + 1, [], n_out + 1)  # no hidden layer at all
    expect("single_layer_shapes", _shape_text(single.weights))


@pytest.mark.question("sequential")
@pytest.mark.points(2)
def test_replace_head(student, rng, expect):
    n_in, h1, h2, n_old, n_new = _distinct_sizes(rng, 5)
    model = keras.Sequential(
        [
            keras.Input(shape=(n_in,)),
            keras.layers.Dense(h1, activation="relu", name="kept_1"),
            keras.layers.Dense(h2, activation="relu", name="kept_2"),
            keras.layers.Dense(n_old, name="old_head"),
        ]
    )
    model.set_weights([_floats(rng, tuple(w.shape), 0.6) for w in model.weights])
    result = student.replace_head(model, n_new)
    expect("same_model", result is model)
    expect("layer_names_kept", str([layer.name for layer in result.layers[:-1]]))
    expect("n_layers", len(result.layers))
    expect("weight_shapes", _shape_text(result.weights))
    expect("count_params", int(result.count_params()))
    expect("symbolic_shape", str(tuple(result(keras.Input(shape=(n_in,))).shape)))
    result.layers[-1].set_weights([_floats(rng, (h2, n_new), 0.6), _floats(rng, (n_new,), 0.4)])
    expect("output", result(_floats(rng, (int(rng.integers(3, 9)), n_in))), **TOL)


# -- freezing ----------------------------------------------------------------------------------
@pytest.mark.question("freezing")
@pytest.mark.points(3)
def test_freeze_and_recompile(student, rng, expect):
    n_in, h1, h2, h3 = _distinct_sizes(rng, 4)
    n_classes = int(rng.integers(3, 5))
    model = keras.Sequential(
        [
            keras.Input(shape=(n_in,)),
            keras.layers.Dense(h1, activation="relu"),
            keras.layers.Dense(h2, activation="relu"),
            keras.layers.Dense(h3, activation="relu"),
            keras.layers.Dense(n_classes),
        ]
    )
    model.set_weights([_floats(rng, tuple(w.shape), 0.5) for w in model.weights])
    x = _floats(rng, (96, n_in))
    y = rng.integers(0, n_classes, size=96)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)  # training step exists

    learning_rate = float(np.round(rng.uniform(0.05, 0.2), 3))
    result = student.freeze_and_recompile(model, 2, learning_rate)
    expect("returns_model", result is model)
    expect("trainable_flags", str([layer.trainable for layer in model.layers]))
    expect("n_trainable_weights", len(model.trainable_weights))
    expect("n_non_trainable_weights", len(model.non_trainable_weights))
    history = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    for i, layer in enumerate(model.layers):
        for j, weight in enumerate(layer.weights):
            if i < 2:  # frozen: bit-identical to the weights before the student's call
                expect(f"frozen_{i}_{j}", _numpy(weight), exact=True)
            else:
                expect(f"trained_{i}_{j}", _numpy(weight), rtol=1e-5, atol=1e-6)
    expect("final_loss", float(history.history["loss"][-1]), rtol=1e-5, atol=1e-6)


# -- param_count -------------------------------------------------------------------------------
@pytest.mark.question("param_count")
@pytest.mark.points(2)
def test_mlp_param_count(student, rng, expect):
    n_in, h1, h2, h3, n_out = (int(n) for n in rng.integers(3, 300, size=5))
    expect("three_hidden", student.mlp_param_count(n_in, [h1, h2, h3], n_out))
    expect("one_hidden", student.mlp_param_count(h2, [h1], n_in))
    expect("no_hidden", student.mlp_param_count(h3, [], n_out))
    expect("no_bias", student.mlp_param_count(n_in, [h1, h2], n_out, use_bias=False))
    expect("no_bias_no_hidden", student.mlp_param_count(h1, [], h2, use_bias=False))
