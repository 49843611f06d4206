"""BatchNormalization (inference form): forward against Keras, and the
sign swap of a negative scale, which only shows when RevealCancel
downstream makes the two multiplier streams differ."""
import keras
import numpy as np
import tensorflow as tf
import pytest

import deeplift.layers as L
from deeplift.modes import NonlinearMxtsMode as M
from helpers import (NP_ACTS, chain, compare_branches, linear_matrix, np_conv, op_act,
                     op_linear, op_routing, op_scale, run_lowlevel)


def test_negative_gamma_sign_swap_by_hand():
    """Input(2) -> BN(gamma=(-2, 1), beta=(0.5, 0), mean=0, var=1, eps=0)
    -> ReLU(RevealCancel) -> Dense(1, 1) target; x = (1, -1), x0 = 0.

    Input parts: p = (1, 0), n = (0, -1). BN scale s = (-2, 1):
      y = (-1.5, -1), y0 = (0.5, 0); parts unit 0 (s < 0): pos = s*n = 0,
      neg = s*p = -2; unit 1: pos = 0, neg = -1.
    RevealCancel nudges a zero part to 1e-7 before evaluating dy (as the
    original package did); in float32, 0.5 + 1e-7 rounds to 0.5 + 2**-23.
    Unit 0 (x0 = 0.5, p = 0, n = -2): dy+/p = [(f(0.5 + 1e-7) - f(0.5))
      + (f(-1.5 + 1e-7) - f(-1.5))] / 2e-7 = 2**-23 / 2e-7 = 0.596 = m+;
      dy- = f(-1.5) - f(0.5) = -0.5 -> m- = -0.5/-2 = 0.25.
      Unit 1 (x0 = 0, p = 0, n = -1): dy+/p = [(f(1e-7) - f(0)) + 0] / 2e-7
      = 0.5 = m+; dy-/n = [(f(-1) - f(0)) + (f(1e-7 - 1) - f(1e-7))] / -2
      = 5e-8 = m- (the nudge of p leaks 1e-7/2 into the secant of n).
    BN backward, unit 0 (s < 0): m_in+ = s * m_out- = -0.5,
      m_in- = s * m_out+ = -2 * 0.596 (without the swap m_in+ would be
      -1.19); unit 1 (s = 1): m_in+ = 0.5, m_in- = 0.
    Input contributions: m+ p + m- n = (-0.5, 0) (the zero parts add
      nothing): sum -0.5 = t(x) - t(x0)
      = (relu(-1.5) + relu(-1)) - (relu(0.5) + relu(0)).
    """
    layers = chain(L.Input(batch_shape=(None, 2)),
                   L.BatchNormalization(gamma=[-2.0, 1.0], beta=[0.5, 0.0], axis=-1,
                                        mean=[0.0, 0.0], var=[1.0, 1.0], epsilon=0.0),
                   L.ReLU(nonlinear_mxts_mode=M.RevealCancel),
                   L.Dense(kernel=[[1.0], [1.0]], bias=[0.0]))
    res = run_lowlevel(layers, np.array([[1.0, -1.0]]), np.zeros((1, 2)), task=0)
    tiny = np.float32(1e-7)
    slope0 = 0.5 * float((np.float32(0.5) + tiny) - np.float32(0.5)) / float(tiny)
    np.testing.assert_allclose(slope0, 0.5 * 2.0 ** -23 / 1e-7, rtol=1e-6)
    np.testing.assert_allclose(res[1]["act"], [[-1.5, -1.0]])
    np.testing.assert_allclose(res[2]["pos_mxts"], [[1.0, 1.0]])
    np.testing.assert_allclose(res[1]["pos_mxts"], [[slope0, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(res[1]["neg_mxts"], [[0.25, 0.0]], atol=1e-6)
    np.testing.assert_allclose(res[0]["pos_mxts"], [[-0.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(res[0]["neg_mxts"], [[-2 * slope0, 5e-8]], rtol=1e-5)
    # The nudge moves the secant of the non-zero part by <= 0.5e-7 * slope.
    np.testing.assert_allclose(res[0]["contribs"], [[-0.5, 0.0]], atol=1e-7)
    np.testing.assert_allclose(res[0]["mxts"], [[(-0.5 - 2 * slope0) / 2, 0.25]], rtol=1e-6)


def _bn_params(rng, c):
    gamma = rng.uniform(0.5, 2.0, size=c) * np.where(np.arange(c) % 2 == 0, -1.0, 1.0)
    return dict(gamma=gamma, beta=rng.normal(size=c), mean=rng.normal(size=c),
                var=rng.uniform(0.5, 2.0, size=c), epsilon=1e-3)


def test_batchnorm_matches_keras_and_numpy_reference(rng):
    f, g = NP_ACTS["relu"]
    cases = []
    # (a) features: Input(5) -> BN -> ReLU(RC) -> Dense
    p = _bn_params(rng, 5)
    s = p["gamma"] / np.sqrt(p["var"] + p["epsilon"])
    W, b = rng.normal(size=(5, 2)), rng.normal(size=2)
    x, ref = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    cases.append(("features", chain(L.Input(batch_shape=(None, 5)), L.BatchNormalization(axis=-1, **p),
                                    L.ReLU(nonlinear_mxts_mode=M.RevealCancel),
                                    L.Dense(kernel=W, bias=b)),
                  [op_scale(s, p["beta"] - p["mean"] * s), op_act(f, g, M.RevealCancel),
                   op_linear(W.T, b)], x, ref, p, -1))
    # (b) channels_first images: Input(3, 2, 2) -> BN(axis=1) -> Sigmoid(RC) -> Flatten -> Dense
    p = _bn_params(rng, 3)
    s = p["gamma"] / np.sqrt(p["var"] + p["epsilon"])
    s_full = np.repeat(s, 4)
    shift_full = np.repeat(p["beta"] - p["mean"] * s, 4)
    W, b = rng.normal(size=(12, 2)), rng.normal(size=2)
    x, ref = rng.normal(size=(4, 3, 2, 2)), rng.normal(size=(1, 3, 2, 2))
    fs, gs = NP_ACTS["sigmoid"]
    # Flatten(channels_first) moves channels last: a permutation
    P = linear_matrix(lambda v: np.moveaxis(v, 1, -1).reshape(len(v), -1), (3, 2, 2))[0]
    cases.append(("channels_first", chain(L.Input(batch_shape=(None, 3, 2, 2)),
                                          L.BatchNormalization(axis=1, **p),
                                          L.Sigmoid(nonlinear_mxts_mode=M.RevealCancel),
                                          L.Flatten(data_format="channels_first"),
                                          L.Dense(kernel=W, bias=b)),
                  [op_scale(s_full, shift_full), op_act(fs, gs, M.RevealCancel), op_routing(P),
                   op_linear(W.T, b)], x, ref, p, 1))
    # (c) after a convolution: Conv1D -> BN -> ReLU(RC) -> Flatten -> Dense. Input
    # channel 0 has dx > 0 and channel 1 dx < 0 with positive kernel taps, so
    # every conv output has non-zero positive and negative parts.
    K = np.abs(rng.normal(size=(2, 2, 3))) + 0.1
    cb = rng.normal(size=3)
    p = _bn_params(rng, 3)
    s = p["gamma"] / np.sqrt(p["var"] + p["epsilon"])
    Jc, _ = linear_matrix(lambda v: np_conv(v, K), (5, 2))
    conv_bias = np.tile(cb, 4)
    W, b = rng.normal(size=(12, 2)), rng.normal(size=2)
    ref = rng.normal(size=(4, 5, 2))
    dx = np.stack([rng.uniform(0.1, 1, size=(4, 5)), -rng.uniform(0.1, 1, size=(4, 5))], -1)
    cases.append(("after_conv", chain(L.Input(batch_shape=(None, 5, 2)), L.Conv1D(kernel=K, bias=cb),
                                      L.BatchNormalization(axis=-1, **p),
                                      L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.Flatten(),
                                      L.Dense(kernel=W, bias=b)),
                  [op_linear(Jc, conv_bias), op_scale(np.tile(s, 4), np.tile(p["beta"] - p["mean"] * s, 4)),
                   op_act(f, g, M.RevealCancel), None, op_linear(W.T, b)], ref + dx, ref, p, -1))
    results = compare_branches([c[:5] for c in cases], task=1, atol=2e-5, rtol=2e-4)
    for label, layers, ops, x, ref, p, axis in cases:
        lib = results[label][0]
        bn_index = 2 if label == "after_conv" else 1
        bn_input = np.asarray(x, np.float32) if bn_index == 1 else lib[1]["act"]
        k = keras.layers.BatchNormalization(axis=axis, epsilon=p["epsilon"])
        k.build(bn_input.shape)
        k.set_weights([np.asarray(w, np.float32) for w in (p["gamma"], p["beta"], p["mean"], p["var"])])
        np.testing.assert_allclose(lib[bn_index]["act"], np.asarray(k(bn_input, training=False)),
                                   rtol=1e-5, atol=1e-5, err_msg=label)
        # the streams differ at the BN output and the swap is visible
        assert np.abs(lib[bn_index]["pos_mxts"] - lib[bn_index]["neg_mxts"]).max() > 1e-3
        delta = lib[-1]["act"][:, 1] - lib[-1]["ref"][:, 1]
        np.testing.assert_allclose(lib[0]["contribs"].reshape(len(delta), -1).sum(1), delta,
                                   rtol=1e-4, atol=1e-4, err_msg=label)


@pytest.mark.parametrize("kwargs, words", [
    (dict(gamma=[1.0], beta=[0.0], mean=[0.0]), ["mean", "var"]),
    (dict(gamma=[1.0, 2.0], beta=[0.0], mean=[0.0], var=[1.0]), ["gamma", "(1,)"]),
    (dict(mean=[0.0], var=[-1.0], epsilon=0.5), ["var", "epsilon"]),
])
def test_batchnorm_argument_validation(kwargs, words):
    with pytest.raises(ValueError) as err:
        L.BatchNormalization(**kwargs)
    for word in words:
        assert word in str(err.value)


def _folding_cases(rng):
    """(linear layer, input batch, BN axis) for every linear kind whose
    kernel layout BatchNormalization folds into."""
    return [
        (L.Conv1D(kernel=rng.normal(size=(3, 2, 4)), bias=rng.normal(size=4)),
         rng.normal(size=(3, 7, 2)), -1),
        (L.Conv2D(kernel=rng.normal(size=(2, 2, 3, 4)), bias=rng.normal(size=4),
                  data_format="channels_first"), rng.normal(size=(3, 3, 5, 5)), 1),
        (L.DepthwiseConv2D(kernel=rng.normal(size=(3, 3, 2, 3)), bias=rng.normal(size=6),
                           padding="same"), rng.normal(size=(3, 5, 5, 2)), -1),
        (L.Conv2DTranspose(kernel=rng.normal(size=(2, 2, 4, 3)), bias=rng.normal(size=4),
                           strides=2), rng.normal(size=(3, 3, 3, 3)), -1),
        (L.Dense(kernel=rng.normal(size=(5, 4)), bias=rng.normal(size=4)),
         rng.normal(size=(3, 6, 5)), -1),
    ]


def test_batchnorm_folds_into_the_linear_layer_before_it():
    rng = np.random.default_rng(11)
    for linear, x, axis in _folding_cases(rng):
        inp = L.Input(batch_shape=(None,) + x.shape[1:])
        linear.set_inputs(inp)
        units = int(linear.bias.shape[0])
        p = _bn_params(rng, units)
        bn = L.BatchNormalization(axis=axis, **p)(linear)
        x = tf.constant(x, tf.float32)
        folded = bn.forward_folded(lambda layer: x)
        assert folded is not None, type(linear).__name__
        s = p["gamma"] / np.sqrt(p["var"] + p["epsilon"])
        shape = [1] * folded.shape.rank
        shape[axis] = -1
        expected = ((linear.forward([x]).numpy() - np.reshape(p["mean"], shape)) * np.reshape(s, shape)
                    + np.reshape(p["beta"], shape))
        np.testing.assert_allclose(folded, expected, rtol=1e-4, atol=1e-4,
                                   err_msg=type(linear).__name__)
        # a second consumer of the linear layer's output: no folding
        L.ReLU()(linear)
        assert bn.forward_folded(lambda layer: x) is None
