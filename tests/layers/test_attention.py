"""MultiHeadAttention (expanded by the converter) and the conserving softmax.

Expectations: a hand-computed two-token example (float64 numpy, written out
step by step), Keras' forward pass from live models, ``.keras``, Keras 3
``.h5`` and tf_keras ``.h5`` files, the Keras output difference for
summation-to-delta, and ``tf.GradientTape`` for the Gradient mode.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tf_keras

import deeplift.layers as dl
from deeplift.layers.softmax import MaskedSoftmax
from deeplift.models import GraphModel
from deeplift.modes import NonlinearMxtsMode as M
from sequence_cases import (SOURCES, assert_sums, convert, keras_out, predict, randomise,
                            scores, tape_gradient)

pytestmark = [pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5"),
              pytest.mark.filterwarnings("ignore:__array__ implementation")]


def _graph(z_layer, softmax, head):
    return GraphModel({l.name: l for l in (z_layer, softmax, head)}, [z_layer.name])


def test_two_token_attention_by_hand():
    """Scores z = (2, 0) against reference (0, 0), values v = (3, -1):
    out = v . softmax(z). Every step of the conserving rule written out."""
    z_in = dl.Input(batch_shape=(None, 2), name="z")
    softmax = MaskedSoftmax(M.Rescale, name="attn").set_inputs([z_in])
    head = dl.Dense(kernel=[[3.0], [-1.0]], name="out").set_inputs(softmax)
    model = _graph(z_in, softmax, head)
    z, z0, v = np.array([2.0, 0.0]), np.array([0.0, 0.0]), np.array([3.0, -1.0])
    c = 2.0                                     # max over the row of both streams
    e, e0 = np.exp(z - c), np.exp(z0 - c)       # (1, e^-2), (e^-2, e^-2)
    S, S0 = e.sum(), e0.sum()
    r, r0 = 1 / S, 1 / S0
    s_exp = (e - e0) / (z - z0 + (z == z0)) * (z != z0) + e0 * (z == z0)  # e0 where dz = 0
    s_inv = (r - r0) / (S - S0)
    m_e = (r + r0) / 2 * v + s_inv * np.sum((e + e0) / 2 * v)
    m_z = s_exp * m_e
    expected_contribs = m_z * (z - z0)
    (got_m,) = scores(model, "multipliers", [z[None].astype(np.float32)],
                      [z0[None].astype(np.float32)], "z", "out")
    np.testing.assert_allclose(got_m[0], m_z, rtol=1e-5, atol=1e-6)
    (got_c,) = scores(model, "contribs", [z[None].astype(np.float32)],
                      [z0[None].astype(np.float32)], "z", "out")
    np.testing.assert_allclose(got_c[0], expected_contribs, rtol=1e-5, atol=1e-6)
    delta = v @ (np.exp(z) / np.exp(z).sum()) - v @ (np.exp(z0) / np.exp(z0).sum())
    assert abs(expected_contribs.sum() - delta) < 1e-12  # the rule is exact


def _softmax_net(conserving, mode):
    rng = np.random.default_rng(0)
    x = dl.Input(batch_shape=(None, 3), name="x")
    pre = dl.Dense(kernel=rng.normal(size=(3, 4)), bias=rng.normal(size=4), name="pre"
                   ).set_inputs(x)
    soft = dl.Softmax(conserving=conserving, nonlinear_mxts_mode=mode, name="soft"
                      ).set_inputs(pre)
    out = dl.Dense(kernel=rng.normal(size=(4, 2)), name="out").set_inputs(soft)
    return GraphModel({l.name: l for l in (x, pre, soft, out)}, ["x"]), rng


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
def test_softmax_inside_a_network_sums_to_delta(mode):
    model, rng = _softmax_net(None, mode)   # auto: conserving, as it feeds a layer
    xs = [rng.normal(size=(6, 3)).astype(np.float32) * 2]
    refs = [rng.normal(size=(6, 3)).astype(np.float32)]
    predict_out = model.get_prediction_function(input_layer_names=["x"], output_layer_name="out")
    delta = predict_out(xs, batch_size=8) - predict_out(refs, batch_size=8)
    for task in (0, 1):
        contribs = scores(model, "contribs", xs, refs, "x", "out", task)
        assert_sums(contribs, delta[:, task].astype(np.float64))


def test_use_conserving_softmax_switches_inner_softmaxes_only():
    from deeplift.layers.softmax import use_conserving_softmax

    model, _ = _softmax_net(False, M.Rescale)
    assert not model.get_name_to_layer()["soft"].uses_conserving_rule()
    assert use_conserving_softmax(model) == ["soft"]
    assert model.get_name_to_layer()["soft"].uses_conserving_rule()


def test_final_softmax_keeps_the_original_numbers():
    rng = np.random.default_rng(5)
    kernel = rng.normal(size=(3, 4))
    xs, refs = [rng.normal(size=(4, 3)).astype(np.float32)], [np.zeros((4, 3), np.float32)]
    results = []
    for conserving in (None, False):
        x = dl.Input(batch_shape=(None, 3), name="x")
        pre = dl.Dense(kernel=kernel, name="pre").set_inputs(x)
        soft = dl.Softmax(conserving=conserving, name="soft").set_inputs(pre)
        model = GraphModel({"x": x, "pre": pre, "soft": soft}, ["x"])
        assert not soft.uses_conserving_rule()
        fn = model.get_target_contribs_func(find_scores_layer_name="soft",
                                            pre_activation_target_layer_name="pre")
        results.append(fn(task_idx=1, input_data_list=xs, input_references_list=refs,
                          batch_size=4, progress_update=None))
    np.testing.assert_array_equal(results[0], results[1])


# ---------------------------------------------------------------- converted MHA

def build(kind, K=keras):
    q = K.Input((4, 6), name="q")
    if kind == "self":
        h = K.layers.MultiHeadAttention(2, 3, name="mha")(q, q)
        inputs = [q]
    else:
        v = K.Input((3, 5), name="v")
        m = K.Input((4, 3), name="m")
        h = K.layers.MultiHeadAttention(2, 3, value_dim=2, output_shape=5, name="mha")(
            q, v, attention_mask=m)
        inputs = [q, v, m]
    out = K.layers.Dense(2, name="head")(K.layers.Flatten()(h))
    return randomise(K.Model(inputs, out))


def data(kind, n=5, seed=1):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, 4, 6)).astype(np.float32)]
    refs = [rng.normal(size=(n, 4, 6)).astype(np.float32) * 0.5]
    if kind == "cross_masked":
        xs.append(rng.normal(size=(n, 3, 5)).astype(np.float32))
        refs.append(rng.normal(size=(n, 3, 5)).astype(np.float32) * 0.5)
        mask = (rng.uniform(size=(n, 4, 3)) > 0.3).astype(np.float32)
        mask[:, :, 0] = 1.0  # no fully masked query row (Keras versions differ there)
        xs.append(mask)
        refs.append(mask)  # the mask is its own reference
    return xs, refs


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", ["self", "cross_masked"])
def test_forward_matches_keras(kind, source, tmp_path):
    model = build(kind, tf_keras if source == "k2_h5" else keras)
    xs, _ = data(kind)
    expected = np.asarray(model(xs if len(xs) > 1 else xs[0]))
    got = predict(convert(model, source, tmp_path), xs, "head_0")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
@pytest.mark.parametrize("kind", ["self", "cross_masked"])
def test_contributions_sum_to_delta(kind, mode, tmp_path):
    model = build(kind)
    xs, refs = data(kind)
    dl_model = convert(model, "k3_live", tmp_path, nonlinear_mxts_mode=mode)
    scored = dl_model.get_input_layer_names()
    for task in (0, 1):
        contribs = scores(dl_model, "contribs", xs, refs, scored, "head_0", task)
        assert_sums(contribs, keras_out(model, xs, task) - keras_out(model, refs, task))


def test_gradient_mode_equals_gradient_tape(tmp_path):
    model = build("cross_masked")
    xs, refs = data("cross_masked")
    dl_model = convert(model, "k3_live", tmp_path, nonlinear_mxts_mode=M.Gradient)
    got = scores(dl_model, "multipliers", xs, refs, ["q_0", "v_0"], "head_0", 1)
    expected = tape_gradient(model, xs, 1)
    for g, e in zip(got, expected[:2]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


def test_mask_reference_must_equal_the_mask(tmp_path):
    model = build("cross_masked")
    xs, refs = data("cross_masked")
    refs[2] = np.zeros_like(refs[2])
    dl_model = convert(model, "k3_live", tmp_path, nonlinear_mxts_mode=M.Rescale)
    with pytest.raises(Exception, match="reference must equal the mask itself"):
        scores(dl_model, "contribs", xs, refs, ["q_0"], "head_0")


@pytest.mark.parametrize("source", ["k3_live", "k2_h5"])
def test_causal_mask_flag_is_refused(source, tmp_path):
    from deeplift.conversion.errors import ConversionError

    K = tf_keras if source == "k2_h5" else keras
    q = K.Input((4, 6), name="q")
    model = K.Model(q, K.layers.MultiHeadAttention(2, 3, name="mha")(q, q, use_causal_mask=True))
    with pytest.raises(ConversionError, match="use_causal_mask=True is not supported"):
        convert(model, source, tmp_path)
