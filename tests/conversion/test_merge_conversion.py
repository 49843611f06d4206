"""Keras merges Multiply, Subtract, Average, Maximum, Minimum (two and three
inputs) and InceptionResNetV2's CustomScaleLayer (``x + scale * residual``):
forward pass against Keras from .keras, .h5 and live models,
summation-to-delta with non-zero references under Rescale and RevealCancel,
and Gradient mode against tf.GradientTape."""
import keras
import numpy as np
import pytest
from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_converters import CONVERTERS
from deeplift.modes import NonlinearMxtsMode as M
from keras_checks import (
    SOURCES, assert_forward_matches, assert_gradient_matches_tape, assert_sums_to_delta,
    convert, save_both,
)


def _model(merge, arity, broadcast=False):
    x = keras.Input((5, 4))
    branches = [keras.layers.Dense(6, activation="tanh", name=f"branch{i}")(x)
                for i in range(arity)]
    if broadcast:  # a squeeze-and-excitation style gate (N, 1, 6) times (N, 5, 6)
        pooled = keras.layers.GlobalAveragePooling1D(keepdims=True, name="pool")(branches[1])
        branches[1] = keras.layers.Dense(6, activation="sigmoid", name="gate")(pooled)
    merged = merge(name="merge")(branches)
    h = keras.layers.Activation("tanh", name="post")(merged)
    h = keras.layers.Flatten(name="flat")(h)
    return keras.Model(x, keras.layers.Dense(3, name="out")(h))


CASES = {
    "multiply2": (keras.layers.Multiply, 2, False),
    "multiply3": (keras.layers.Multiply, 3, False),
    "gate": (keras.layers.Multiply, 2, True),
    "subtract": (keras.layers.Subtract, 2, False),
    "average3": (keras.layers.Average, 3, False),
    "maximum2": (keras.layers.Maximum, 2, False),
    "maximum3": (keras.layers.Maximum, 3, False),
    "minimum2": (keras.layers.Minimum, 2, False),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    cache = {}

    def get(case):
        if case not in cache:
            model = _model(*CASES[case])
            rng = np.random.default_rng(sorted(CASES).index(case))
            model.set_weights([rng.normal(size=w.shape).astype(np.float32)
                               for w in model.get_weights()])
            cache[case] = (model, save_both(model, root, case))
        return cache[case]

    return get


def _inputs(seed, n=4):
    return [np.random.default_rng(seed).normal(size=(n, 5, 4)).astype(np.float32)]


FORWARD = [(case, "keras") for case in sorted(CASES)] + [
    (case, source) for case, source in (("multiply3", "h5"), ("gate", "live"), ("minimum2", "h5"))]


@pytest.mark.parametrize("case, source", FORWARD)
def test_forward_matches_keras(built, case, source):
    model, sources = built(case)
    assert_forward_matches(convert(sources[source], nonlinear_mxts_mode=M.Rescale), model,
                           _inputs(1))


@pytest.mark.parametrize("case, mode", [(case, M.Rescale) for case in sorted(CASES)] + [
    (case, M.RevealCancel) for case in ("multiply3", "gate", "subtract", "maximum3", "minimum2")])
def test_sums_to_delta_with_nonzero_reference(built, case, mode):
    model, sources = built(case)
    refs = [np.random.default_rng(7).normal(size=(1, 5, 4)).astype(np.float32)]
    assert_sums_to_delta(convert(sources["keras"], nonlinear_mxts_mode=mode), model,
                         _inputs(2), refs, task=1)


@pytest.mark.parametrize("case", ["multiply3", "gate", "subtract", "maximum3", "minimum2"])
def test_gradient_mode_matches_gradient_tape(built, case):
    model, sources = built(case)
    assert_gradient_matches_tape(convert(sources["live"], nonlinear_mxts_mode=M.Gradient),
                                 model, _inputs(3), task=2)


def _custom_scale_model(scale):
    """An Inception-ResNet style residual: ``x + scale * up`` with ``up`` a
    Dense branch, then ReLU, Flatten, Dense."""
    x = keras.Input((5, 4))
    shortcut = keras.layers.Dense(6, name="shortcut")(x)
    branch = keras.layers.Dense(6, activation="tanh", name="branch")(x)
    up = keras.layers.Dense(6, name="up")(branch)
    merged = CustomScaleLayer(scale, name="scale")([shortcut, up])
    h = keras.layers.Activation("relu", name="post")(merged)
    h = keras.layers.Flatten(name="flat")(h)
    return keras.Model(x, keras.layers.Dense(3, name="out")(h))


SCALES = {"scale017": 0.17, "scale_neg": -0.6, "scale0": 0.0}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    root = tmp_path_factory.mktemp("custom_scale")
    cache = {}

    def get(case):
        if case not in cache:
            model = _custom_scale_model(SCALES[case])
            rng = np.random.default_rng(sorted(SCALES).index(case) + 20)
            model.set_weights([rng.normal(size=w.shape).astype(np.float32)
                               for w in model.get_weights()])
            cache[case] = (model, save_both(model, root, case))
        return cache[case]

    return get


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", sorted(SCALES))
def test_custom_scale_forward_matches_keras(scaled, case, source):
    model, sources = scaled(case)
    assert_forward_matches(convert(sources[source], nonlinear_mxts_mode=M.Rescale), model,
                           _inputs(4))


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel], ids=lambda m: m.value)
@pytest.mark.parametrize("case", ["scale017", "scale_neg"])
def test_custom_scale_sums_to_delta(scaled, case, mode):
    model, sources = scaled(case)
    refs = [np.random.default_rng(8).normal(size=(1, 5, 4)).astype(np.float32)]
    assert_sums_to_delta(convert(sources["h5"], nonlinear_mxts_mode=mode), model,
                         _inputs(5), refs, task=0)


def test_custom_scale_gradient_mode_matches_gradient_tape(scaled):
    model, sources = scaled("scale_neg")
    assert_gradient_matches_tape(convert(sources["keras"], nonlinear_mxts_mode=M.Gradient),
                                 model, _inputs(6), task=1)


def test_custom_scale_without_a_number_is_refused_naming_the_layer():
    with pytest.raises(ConversionError, match="'res'.*scale"):
        CONVERTERS["CustomScaleLayer"]({"name": "res", "scale": "big"}, name="res",
                                       verbose=False)
