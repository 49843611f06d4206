"""LayerNormalization and GroupNormalization, converted into the primitives
of ``deeplift.layers.group_norm``: forward pass against Keras from .keras,
.h5 and live models, summation-to-delta with non-zero references under
Rescale and RevealCancel, and Gradient mode against tf.GradientTape."""
import keras
import numpy as np
import pytest

from deeplift.modes import NonlinearMxtsMode as M
from keras_checks import (
    SOURCES, assert_forward_matches, assert_gradient_matches_tape, assert_sums_to_delta,
    convert, save_both,
)


def _randomise(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.7
                       for w in model.get_weights()])


def _model(norm, shape=(3, 4, 8)):
    x = keras.Input(shape)
    h = keras.layers.Dense(8, name="pre")(x)
    h = norm()(h)
    h = keras.layers.Activation("tanh", name="act")(h)
    h = keras.layers.Flatten(name="flat")(h)
    out = keras.layers.Dense(3, name="out")(h)
    return keras.Model(x, out)


CASES = {
    "ln_last": lambda: keras.layers.LayerNormalization(name="norm"),
    "ln_two_axes": lambda: keras.layers.LayerNormalization(axis=[1, 3], name="norm",
                                                           epsilon=1e-5),
    "ln_no_scale": lambda: keras.layers.LayerNormalization(scale=False, name="norm"),
    "ln_no_center": lambda: keras.layers.LayerNormalization(center=False, name="norm"),
    "ln_rms": lambda: keras.layers.LayerNormalization(rms_scaling=True, name="norm"),
    "gn": lambda: keras.layers.GroupNormalization(groups=2, name="norm"),
    "gn_bare": lambda: keras.layers.GroupNormalization(groups=4, scale=False, center=False,
                                                       name="norm"),
    "gn_axis2": lambda: keras.layers.GroupNormalization(groups=2, axis=2, name="norm"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("norm")
    cache = {}

    def get(case):
        if case not in cache:
            model = _model(CASES[case])
            _randomise(model, sorted(CASES).index(case))
            cache[case] = (model, save_both(model, root, case))
        return cache[case]

    return get


def _inputs(seed, n=4):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 3, 4, 8)).astype(np.float32)]


FORWARD_CASES = [(case, "keras") for case in sorted(CASES)] + [
    (case, source) for case in ("ln_two_axes", "gn_axis2") for source in SOURCES if source != "keras"]


@pytest.mark.parametrize("case, source", FORWARD_CASES)
def test_forward_matches_keras(built, case, source):
    model, sources = built(case)
    dl_model = convert(sources[source], nonlinear_mxts_mode=M.Rescale)
    assert_forward_matches(dl_model, model, _inputs(1))


@pytest.mark.parametrize("case, mode", [(case, mode) for case in sorted(CASES) for mode in (
    M.Rescale, M.RevealCancel) if mode == M.Rescale or case in ("ln_two_axes", "ln_rms", "gn")])
def test_sums_to_delta_with_nonzero_reference(built, case, mode):
    model, sources = built(case)
    dl_model = convert(sources["keras"], nonlinear_mxts_mode=mode)
    inputs = _inputs(2)
    refs = [np.random.default_rng(3).normal(size=(1, 3, 4, 8)).astype(np.float32)]
    assert_sums_to_delta(dl_model, model, inputs, refs, task=2)


@pytest.mark.parametrize("case", ["ln_two_axes", "gn"])
def test_gradient_mode_matches_gradient_tape(built, case):
    model, sources = built(case)
    dl_model = convert(sources["live"], nonlinear_mxts_mode=M.Gradient)
    assert_gradient_matches_tape(dl_model, model, _inputs(4), task=1)


def test_reference_equal_to_input_gives_zero_contributions(built):
    model, sources = built("ln_last")
    dl_model = convert(sources["h5"], nonlinear_mxts_mode=M.Rescale)
    inputs = _inputs(5)
    contribs = assert_sums_to_delta(dl_model, model, inputs, [inputs[0]])
    np.testing.assert_allclose(contribs[0], 0.0, atol=1e-6)
