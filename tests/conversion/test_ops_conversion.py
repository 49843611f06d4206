"""Keras-ops nodes in saved configs (``x + 3.0``, ``a * b``, ``ops.mean``,
reshape/transpose/concatenate/expand_dims/squeeze, activation ops): parsed
as ops, not as the layers of the same class name, and converted; forward
pass against Keras from .keras, .h5 and live models, summation-to-delta
under Rescale and RevealCancel, Gradient mode against tf.GradientTape."""
import re

import keras
import numpy as np
import pytest
from keras import ops

from deeplift.conversion.errors import ConversionError
from deeplift.conversion.readers import read_model_spec
from deeplift.modes import NonlinearMxtsMode as M
from keras_checks import (
    SOURCES, assert_forward_matches, assert_gradient_matches_tape, assert_sums_to_delta,
    convert, save_both,
)


def _arithmetic_model():
    x = keras.Input((4, 6), name="x")
    h = keras.layers.Dense(6, name="d")(x)
    g = keras.layers.Dense(6, activation="sigmoid", name="g")(x)
    a = h + 3.0                      # constant shift
    b = (a * g) - ops.mean(a, axis=1, keepdims=True)   # product, broadcast subtract
    c = ops.tanh(2.0 * b / 4.0 - np.arange(6, dtype="float32"))   # numpy constant
    d = ops.maximum(ops.relu(c) + ops.sigmoid(b), 0.25) - ops.minimum(b, h)
    e = ops.reshape(ops.transpose(d, (0, 2, 1)), (-1, 24))
    f = ops.concatenate([e, ops.squeeze(ops.expand_dims(e, -1), -1)], axis=-1)
    s = ops.sum(ops.reshape(f, (-1, 8, 6)), axis=1)
    out = keras.layers.Dense(3, name="out")(-s)
    return keras.Model(x, out)


@pytest.fixture(scope="module")
def arithmetic(tmp_path_factory):
    model = _arithmetic_model()
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model, save_both(model, tmp_path_factory.mktemp("ops"), "arith")


def _inputs(seed, n=4):
    return [np.random.default_rng(seed).normal(size=(n, 4, 6)).astype(np.float32)]


@pytest.mark.parametrize("source", SOURCES)
def test_ops_are_parsed_as_ops(arithmetic, source):
    _, sources = arithmetic
    spec = read_model_spec(sources[source])
    classes = {layer.name: layer.class_name for layer in spec.layers}
    assert classes["d"] == "Dense"
    kinds = sorted(set(classes.values()))
    for op in ("Add", "Multiply", "Mean", "Subtract", "Tanh", "Reshape", "Transpose",
               "Concatenate", "ExpandDims", "Squeeze", "Sum", "Maximum", "Minimum"):
        assert f"ops.{op}" in kinds
    assert "Add" not in kinds and "Multiply" not in kinds  # never taken for the layers
    (add,) = [layer for layer in spec.layers if layer.class_name == "ops.Add"
              and isinstance(layer.config["op_args"][1], float)]
    assert add.config["op_args"] == [{"__tensor__": 0}, 3.0]
    assert add.class_name == "ops.Add" and add.weights == []
    assert add.inbound == [[spec.outputs[0].__class__("d", 0, 0)]]


@pytest.mark.parametrize("source", SOURCES)
def test_forward_matches_keras(arithmetic, source):
    model, sources = arithmetic
    assert_forward_matches(convert(sources[source], nonlinear_mxts_mode=M.Rescale), model,
                           _inputs(1))


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
def test_sums_to_delta_with_nonzero_reference(arithmetic, mode):
    model, sources = arithmetic
    refs = [np.random.default_rng(9).normal(size=(1, 4, 6)).astype(np.float32)]
    assert_sums_to_delta(convert(sources["keras"], nonlinear_mxts_mode=mode), model,
                         _inputs(2), refs, task=1)


def test_gradient_mode_matches_gradient_tape(arithmetic):
    model, sources = arithmetic
    assert_gradient_matches_tape(convert(sources["h5"], nonlinear_mxts_mode=M.Gradient),
                                 model, _inputs(3), task=0)


def test_gelu_op_default_is_the_tanh_approximation(tmp_path):
    """``keras.ops.gelu`` defaults to ``approximate=True`` (unlike the
    ``gelu`` activation): both forms convert and match Keras."""
    x = keras.Input((5,), name="x")
    h = keras.layers.Dense(4, name="d")(x)
    out = keras.layers.Dense(2, name="out")(ops.gelu(h) + ops.gelu(h, approximate=False))
    model = keras.Model(x, out)
    sources = save_both(model, tmp_path, "gelu")
    # Inputs spread wide enough that tanh-approximate and exact gelu differ
    # by more than the tolerance, so a swapped form fails.
    inputs = [np.random.default_rng(3).normal(scale=3.0, size=(6, 5)).astype(np.float32)]
    for source in SOURCES:
        assert_forward_matches(convert(sources[source], nonlinear_mxts_mode=M.Rescale), model,
                               inputs)


def test_unsupported_ops_join_the_one_error(tmp_path):
    x = keras.Input((5,), name="x")
    h = keras.layers.Dense(5, name="d")(x)
    y = ops.sin(h) + ops.divide(h, h + 1.0) + ops.mean(h, axis=0)
    model = keras.Model(x, keras.layers.Dense(1, name="out")(y))
    for value in save_both(model, tmp_path, "bad").values():
        with pytest.raises(ConversionError) as info:
            convert(value)
        message = str(info.value)
        # Keras numbers op names per session ('sin', 'sin_1', ...).
        assert re.search(r"ops\.Sin x1 \('sin(_\d+)?'\)", message)
        assert re.search(r"ops\.Divide with a tensor divisor x1 \('divide(_\d+)?'\)", message)
        assert re.search(r"ops\.Mean with axis=\[?0\]? \(the batch axis\) x1 \('mean(_\d+)?'\)",
                         message)
        assert "cannot convert 3 layer(s)" in message
        assert "no weights stored" not in message
