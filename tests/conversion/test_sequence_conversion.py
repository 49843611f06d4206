"""Conversion of sequence models beyond single layers: Embedding inputs, the
opt-in per-layer fallback, and an Enformer-style block (conv stem, then two
pre-norm residual sub-blocks as in Enformer's transformer tower:
LayerNormalization -> MultiHeadAttention, LayerNormalization -> GELU
feed-forward, each added back to its input).

Expectations: Keras forward passes and output differences, GradientTape,
and the exact Rescale rule the fallback must approach.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deeplift.conversion.errors import ConversionError
from deeplift.embedding import reference_tokens, sum_per_token
from deeplift.modes import NonlinearMxtsMode as M
from sequence_cases import (
    assert_sums, convert, keras_out, predict, randomise, scores, tape_gradient,
)

pytestmark = [pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5"),
              pytest.mark.filterwarnings("ignore:__array__ implementation")]


def _embedding_model():
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(7, 3, name="embed")(tokens)
    h = keras.layers.Conv1D(2, 2, activation="relu", name="conv")(h)
    out = keras.layers.Dense(1, name="head")(keras.layers.Flatten()(h))
    return randomise(keras.Model(tokens, out))


@pytest.mark.parametrize("source", ["k3_live", "k3_keras"])
def test_embedding_scores_sum_to_delta_per_token(source, tmp_path):
    model = _embedding_model()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=(4, 5)).astype(np.float32)
    dl_model = convert(model, source, tmp_path, nonlinear_mxts_mode=M.Rescale)
    np.testing.assert_allclose(predict(dl_model, [ids], "head_0"),
                               np.asarray(model(ids.astype(np.int32))), atol=1e-5, rtol=0)
    table = model.get_layer("embed").get_weights()[0]
    for token in (2, None):
        refs = reference_tokens(ids, token)
        (contribs,) = scores(dl_model, "contribs", [ids], [refs], "embed_0", "head_0")
        assert contribs.shape == (4, 5, 3)
        per_token = sum_per_token(contribs)
        assert per_token.shape == (4, 5)
        # the reference: the chosen token's embedding, or zeros fed to the same layers
        ref_embedding = np.zeros((4, 5, 3), np.float32) if token is None else table[refs.astype(int)]
        tail = keras.Model(model.get_layer("conv").input, model.output)
        delta = (keras_out(model, [ids.astype(np.int32)])
                 - np.asarray(tail(ref_embedding)).reshape(-1).astype(np.float64))
        assert_sums([per_token], delta)


def test_scores_on_token_ids_are_refused(tmp_path):
    dl_model = convert(_embedding_model(), "k3_live", tmp_path, nonlinear_mxts_mode=M.Rescale)
    ids = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="Score the Embedding layer instead"):
        scores(dl_model, "contribs", [ids], [ids], "tokens_0", "head_0")


def _tanh_model():
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, name="pre")(x)
    h = keras.layers.Activation("tanh", name="act")(h)
    return randomise(keras.Model(x, keras.layers.Dense(1, name="head")(h)))


def test_fallback_converges_to_the_exact_rule(tmp_path):
    """An element-wise tanh has an exact rule (Rescale, slope dy/dx); its
    path-averaged gradient approaches it as K grows."""
    from deeplift.conversion import layer_converters

    model = _tanh_model()
    rng = np.random.default_rng(2)
    xs, refs = [rng.normal(size=(3, 4)).astype(np.float32) * 2], [np.zeros((3, 4), np.float32)]
    exact = scores(convert(model, "k3_live", tmp_path, nonlinear_mxts_mode=M.Rescale),
                   "multipliers", xs, refs, "x_0", "head_0")[0]
    saved = layer_converters.CONVERTERS.pop("Activation")  # pretend no rule exists
    try:
        errors = []
        for steps in (1, 4, 32):
            dl_model = convert(model, "k3_live", tmp_path, fallback_steps=steps)
            got = scores(dl_model, "multipliers", xs, refs, "x_0", "head_0")[0]
            errors.append(np.abs(got - exact).max())
        with pytest.raises(ConversionError, match="cannot convert"):
            convert(model, "k3_live", tmp_path)  # not opted in
    finally:
        layer_converters.CONVERTERS["Activation"] = saved
    assert errors[0] > 1e-2 and errors[1] < errors[0] / 4 and errors[2] < 1e-3, errors


def test_fallback_rebuilds_builtins_from_files_and_refuses_lambdas(tmp_path):
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, name="pre")(x)
    h = keras.layers.UnitNormalization(name="unit")(h)  # a built-in with no rule
    model = randomise(keras.Model(x, keras.layers.Dense(1, name="head")(h)))
    xs = [np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)]
    unit_path = tmp_path / "unit.keras"
    model.save(str(unit_path))
    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    dl_model = convert_model_from_saved_files(str(unit_path), verbose=False, fallback_steps=8)
    np.testing.assert_allclose(predict(dl_model, xs, "head_0"), np.asarray(model(xs[0])),
                               atol=1e-5, rtol=0)

    lam = keras.Model(x, keras.layers.Lambda(lambda t: t * 2.0, name="lam")(x))
    lam_path = tmp_path / "lam.keras"
    lam.save(str(lam_path))
    with pytest.raises(ConversionError, match="never rebuilds Lambda"):
        convert_model_from_saved_files(str(lam_path), verbose=False, fallback_steps=4)


def _enformer_block(L=8, channels=8, heads=2):
    """Conv stem, then ``h + MHA(LN(h))`` and ``h + FF(LN(h))`` (pre-norm)."""
    x = keras.Input((L, 4), name="x")
    h = keras.layers.Conv1D(channels, 3, padding="same", activation="relu", name="stem")(x)
    n = keras.layers.LayerNormalization(name="ln1")(h)
    a = keras.layers.MultiHeadAttention(heads, channels // heads, name="mha")(n, n)
    h = keras.layers.Add(name="res1")([h, a])
    n = keras.layers.LayerNormalization(epsilon=1e-5, name="ln2")(h)
    f = keras.layers.Dense(2 * channels, activation="gelu", name="ff1")(n)
    f = keras.layers.Dense(channels, name="ff2")(f)
    h = keras.layers.Add(name="res2")([h, f])
    out = keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling1D()(h))
    model = randomise(keras.Model(x, out))
    # randomise() draws every non-bias weight from N(0, 1/fan_in), which would
    # give the LayerNormalization gammas random signs; keep them near 1, as trained.
    rng = np.random.default_rng(5)
    for name in ("ln1", "ln2"):
        gamma, beta = model.get_layer(name).get_weights()
        model.get_layer(name).set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                                           beta])
    return model


@pytest.fixture(scope="module")
def enformer():
    """The block and its data: one-hot sequences and non-zero, non-uniform references."""
    model = _enformer_block()
    rng = np.random.default_rng(4)
    xs = [np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(3, 8))]]
    refs = [rng.dirichlet(np.ones(4), size=(3, 8)).astype(np.float32)]
    return model, xs, refs


@pytest.mark.parametrize("source", ["k3_live", "k3_keras", "k3_h5"])
def test_enformer_style_block_forward_matches_keras(enformer, source, tmp_path):
    model, xs, _ = enformer
    dl_model = convert(model, source, tmp_path, nonlinear_mxts_mode=M.Rescale)
    np.testing.assert_allclose(predict(dl_model, xs, "head_0"), np.asarray(model(xs[0])),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel, M.DeepLIFT_GenomicsDefault])
def test_enformer_style_block_sums_to_delta(enformer, mode, tmp_path):
    model, xs, refs = enformer
    dl_model = convert(model, "k3_keras", tmp_path, nonlinear_mxts_mode=mode)
    for task in (0, 1):
        contribs = scores(dl_model, "contribs", xs, refs, "x_0", "head_0", task)
        assert_sums(contribs, keras_out(model, xs, task) - keras_out(model, refs, task))


def test_enformer_style_block_gradient_mode_equals_gradient_tape(enformer, tmp_path):
    model, xs, refs = enformer
    dl_model = convert(model, "k3_h5", tmp_path, nonlinear_mxts_mode=M.Gradient)
    (got,) = scores(dl_model, "multipliers", xs, refs, "x_0", "head_0", 1)
    (expected,) = tape_gradient(model, xs, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
