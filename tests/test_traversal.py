"""The forward pass in difference space (``ForwardPass(difference_space=True)``,
what RevealCancel scoring uses) against the plain activation-space pass, and
the fused multiplier steps it enables.

Invariants: the same differences, parts, activations (up to float32
rounding) and multipliers as the activation-space pass on every layer kind;
linear layers run their op on the reference only, never on the activations;
the fused kernels equal the steps they replace; graphs deeper than Python's
recursion limit evaluate.
"""
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift import graph, kernels
from deeplift.modes import NonlinearMxtsMode as M
from test_graph import _every_kind_graph


def _passes(layers, inp, x, ref):
    modes = graph.resolve_modes(graph.topological_order(layers))
    return [graph.ForwardPass({inp: (x, ref)}, modes, difference_space=space)
            for space in (False, True)]


def test_difference_space_matches_activation_space_on_every_layer_kind():
    inp, layers = _every_kind_graph()
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(3, 6, 2)), tf.float32)
    ref = tf.constant(rng.normal(size=(1, 6, 2)), tf.float32)
    plain, diff_space = _passes(layers, inp, x, ref)
    for layer in [inp] + layers:
        name = type(layer).__name__
        np.testing.assert_allclose(diff_space.diff(layer), plain.diff(layer),
                                   rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(diff_space.act(layer), plain.act(layer),
                                   rtol=1e-5, atol=1e-5, err_msg=name)
        for got, want in zip(diff_space.parts(layer), plain.parts(layer)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
        # parts still sum to the difference
        pos, neg = diff_space.parts(layer)
        np.testing.assert_allclose(pos + neg, diff_space.diff(layer), rtol=1e-5, atol=1e-5)
    dense = layers[-1]
    seed = tf.constant([[[0.0, 1.0]] * 3])  # (tasks, examples, units)
    wanted = [inp]
    got = graph.backward(diff_space, [(dense, (seed, seed))], wanted)[id(inp)]
    want = graph.backward(plain, [(dense, (seed, seed))], wanted)[id(inp)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def _counting(layer, calls):
    forward = layer.forward

    def counted(inputs):
        calls.append(inputs[0])
        return forward(inputs)

    layer.forward = counted
    return layer


def test_reveal_cancel_scoring_runs_linear_layers_on_the_reference_only():
    rng = np.random.default_rng(0)
    calls = []
    inp = L.Input(batch_shape=(None, 8, 4))
    conv = _counting(L.Conv1D(kernel=rng.normal(size=(3, 4, 5)), bias=rng.normal(size=5)), calls)
    conv.set_inputs(inp)
    bn = L.BatchNormalization(gamma=rng.normal(size=5), beta=rng.normal(size=5),
                              mean=rng.normal(size=5), var=rng.uniform(0.5, 2, size=5))(conv)
    relu = L.ReLU(nonlinear_mxts_mode=M.RevealCancel)(bn)
    dense = L.Dense(kernel=rng.normal(size=(30, 2)), bias=rng.normal(size=2))(L.Flatten()(relu))
    x = rng.normal(size=(7, 8, 4)).astype(np.float32)
    ref = rng.normal(size=(1, 8, 4)).astype(np.float32)
    fn = graph_function(inp, dense)
    del calls[:]
    contribs = fn(x, ref)
    # tracing applied the convolution once, to the reference: the
    # activation-space pass applies it twice (activations and reference)
    assert len(calls) == 1
    # and the contributions sum to the forward difference of the plain pass
    plain = graph.ForwardPass({inp: (tf.constant(x), tf.constant(ref))})
    delta = (plain.act(dense) - plain.ref(dense)).numpy()[:, 1]
    np.testing.assert_allclose(contribs.reshape(7, -1).sum(1), delta, rtol=1e-4, atol=1e-4)


def graph_function(inp, target):
    from deeplift.scoring import build_graph_function

    fn = build_graph_function([inp], [inp.get_target_contrib_vars()], [target])

    def run(x, ref):
        seed = np.zeros((1, 1, 2), np.float32)
        seed[0, 0, 1] = 1.0
        return fn(tf.constant(x), tf.constant(ref), tf.constant(seed))[0].numpy()[0]

    return run


def test_deep_chain_in_difference_space_does_not_recurse():
    # 1,000 linear layers: a recursive evaluation (at least two frames per
    # layer) would pass Python's recursion limit.
    rng = np.random.default_rng(1)
    inp = layer = L.Input(batch_shape=(None, 2))
    for _ in range(1000):
        layer = L.Dense(kernel=np.eye(2) + 0.01 * rng.normal(size=(2, 2)), bias=[0.1, -0.1])(layer)
    x = tf.constant(rng.uniform(1, 2, size=(3, 2)), tf.float32)
    ref = tf.zeros((1, 2))
    plain, diff_space = _passes([layer], inp, x, ref)
    np.testing.assert_allclose(diff_space.diff(layer), plain.diff(layer), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(diff_space.act(layer), plain.act(layer), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale", [np.array([2.0, -0.5, 0.0]), np.array(1.5)])
def test_fused_stream_kernels_equal_the_steps_they_replace(scale):
    rng = np.random.default_rng(2)
    pos, neg, slope_pos, slope_neg = (tf.constant(rng.normal(size=(2, 4, 3)), tf.float32)
                                      for _ in range(4))
    scale = tf.constant(scale, tf.float32)
    scaled = kernels.scale_parts_by_sign(pos, neg, scale)
    expected = kernels.sum_and_difference(*scaled)
    for got, want in zip(kernels.scaled_sum_and_difference(pos, neg, scale), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    sloped = kernels.scale_parts_by_sign(pos * slope_pos, neg * slope_neg, scale)
    for got, want in zip(kernels.sloped_sum_and_difference(pos, neg, slope_pos, slope_neg, scale),
                         kernels.sum_and_difference(*sloped)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    net, spread = pos, tf.abs(neg)
    for got, want in zip(kernels.split_by_spread_scaled(net, spread, scale),
                         kernels.scale_parts_by_sign(*kernels.split_by_spread(net, spread), scale)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_reveal_cancel_forward_kernel_equals_parts_and_slopes():
    rng = np.random.default_rng(3)
    x0 = tf.constant(rng.normal(size=(1, 5)), tf.float32)
    pos = tf.constant(np.maximum(rng.normal(size=(4, 5)), 0), tf.float32)
    neg = tf.constant(np.minimum(rng.normal(size=(4, 5)), 0), tf.float32)
    for fn in (tf.nn.relu, tf.sigmoid):
        dy_pos, dy_neg, dy, slope_pos, slope_neg = kernels.reveal_cancel_forward(x0, pos, neg, fn)
        want_parts = kernels.reveal_cancel_parts(x0, pos, neg, fn)
        want_slopes = kernels.reveal_cancel_slopes(x0, pos, neg, fn)
        for got, want in zip((dy_pos, dy_neg, slope_pos, slope_neg), (*want_parts, *want_slopes)):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(dy, (fn(x0 + pos + neg) - fn(x0)).numpy(), atol=1e-6)


def test_shared_rows_keep_the_activation_stream_where_no_parts_are_needed():
    # GenomicsDefault-like: conv -> ReLU (Rescale) -> flatten -> dense ->
    # ReLU (RevealCancel) -> dense, one sequence against three references.
    # The convolution has no parts to form: it runs on the one distinct
    # example and on the references; the dense layer before RevealCancel
    # needs W dx anyway and runs on the references only.
    from deeplift.scoring import build_graph_function

    rng = np.random.default_rng(6)
    conv_calls, dense_calls = [], []
    inp = L.Input(batch_shape=(None, 6, 4))
    conv = _counting(L.Conv1D(kernel=rng.normal(size=(3, 4, 3)), bias=rng.normal(size=3)),
                     conv_calls)
    conv.set_inputs(inp)
    relu = L.ReLU(nonlinear_mxts_mode=M.Rescale)(conv)
    dense = _counting(L.Dense(kernel=rng.normal(size=(12, 5)), bias=rng.normal(size=5)),
                      dense_calls)
    dense.set_inputs(L.Flatten()(relu))
    out = L.Dense(kernel=rng.normal(size=(5, 2)), bias=rng.normal(size=2))(
        L.ReLU(nonlinear_mxts_mode=M.RevealCancel)(dense))
    x = rng.normal(size=(1, 6, 4)).astype(np.float32)
    refs = rng.normal(size=(3, 6, 4)).astype(np.float32)
    seed = np.array([[[0.0, 1.0]]], np.float32)
    shared = build_graph_function([inp], [inp.get_target_contrib_vars()], [out], shared_rows=True)
    del conv_calls[:], dense_calls[:]
    got = shared(tf.constant(x), tf.constant(refs), tf.constant([0, 0, 0]), tf.constant(seed))
    assert (len(conv_calls), len(dense_calls)) == (2, 1)
    plain = build_graph_function([inp], [inp.get_target_contrib_vars()], [out])
    want = plain(tf.constant(np.repeat(x, 3, 0)), tf.constant(refs), tf.constant(seed))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    plain_pass = graph.ForwardPass({inp: (tf.constant(np.repeat(x, 3, 0)), tf.constant(refs))})
    delta = (plain_pass.act(out) - plain_pass.ref(out)).numpy()[:, 1]
    np.testing.assert_allclose(got[0].numpy()[0].reshape(3, -1).sum(1), delta, rtol=1e-4,
                               atol=1e-4)
