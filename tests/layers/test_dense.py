"""Dense layers and the tiny Input(2) -> Dense -> ReLU -> Dense network,
with every expected number worked out by hand (see the comments) or by the
numpy reference of ``helpers.np_deeplift``."""
import keras
import numpy as np
import pytest

import deeplift.layers as L
from deeplift.models import SequentialModel
from deeplift.modes import NonlinearMxtsMode as M
from helpers import (NP_ACTS, chain, compare_chain, op_act, op_linear, run_lowlevel)

# The tiny network used by the hand calculations below.
W1 = np.array([[1.0, 2.0, -1.0],
               [1.0, -2.0, 1.0]])          # (in=2, out=3)
W2 = np.array([[1.0], [-3.0], [2.0]])       # (3, 1)
B2 = np.array([0.0])


def tiny_net(mode, b1):
    return chain(L.Input(batch_shape=(None, 2)),
                 L.Dense(kernel=W1, bias=b1),
                 L.ReLU(nonlinear_mxts_mode=mode),
                 L.Dense(kernel=W2, bias=B2))


@pytest.mark.parametrize("shape", [(4, 3), (4, 2, 3)])
def test_dense_forward_matches_keras(rng, shape):
    W = rng.normal(size=(3, 5))
    b = rng.normal(size=5)
    x = rng.normal(size=shape).astype(np.float32)
    k = keras.layers.Dense(5)
    k.build((None,) + shape[1:])
    k.set_weights([W.astype(np.float32), b.astype(np.float32)])
    inp = L.Input(batch_shape=(None,) + shape[1:])
    dense = L.Dense(kernel=W, bias=b)(inp)
    res = run_lowlevel([inp, dense], x, np.zeros((1,) + shape[1:]), task=0)
    np.testing.assert_allclose(res[1]["act"], np.asarray(k(x)), rtol=1e-5, atol=1e-5)
    # the layer itself as the target: m = one-hot, input multipliers = W[:, task]
    # (broadcast over the leading positions for a rank-3 input, then only the
    # first position's neuron 0 is the flat task 0)
    expected = np.zeros(shape)
    expected[(slice(None),) + (0,) * (len(shape) - 2)] = W[:, 0]
    np.testing.assert_allclose(res[0]["mxts"], expected, atol=1e-6)


def test_linear_model_contribs_are_weight_times_delta_and_ignore_bias():
    # Input(3) -> Dense target: C_i = W[i, task] * (x_i - x0_i), whatever the bias.
    W = np.array([[2.0, -1.0], [0.5, 3.0], [-4.0, 1.0]])
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    ref = np.array([[0.5, -1.0, 1.0]], np.float32)
    for bias in ([0.0, 0.0], [10.0, -7.0]):
        inp = L.Input(batch_shape=(None, 3))
        dense = L.Dense(kernel=W, bias=bias)(inp)
        res = run_lowlevel([inp, dense], x, ref, task=1)
        # column 1 = (-1, 3, 1); dx = (0.5, 3, 2) -> C = (-0.5, 9, 2)
        np.testing.assert_allclose(res[0]["contribs"], [[-0.5, 9.0, 2.0]], atol=1e-6)
        np.testing.assert_allclose(res[0]["mxts"], [[-1.0, 3.0, 1.0]], atol=1e-6)


def test_tiny_net_rescale_by_hand_with_near_zero_fallback():
    """b1 = (0.5, 0, -1).

    Example A: x = (2, 1), x0 = (1, 0), dx = (1, 1).
      h0 = x0 W1 + b1 = (1.5, 2, -2), h = (3.5, 2, -2), dh = (2, 0, 0).
      ReLU rescale factors: unit 0: (3.5 - 1.5) / 2 = 1; units 1 and 2 have
      |dh| < 1e-7 -> f'(h0) = (1, 0) (h0 = 2 > 0, h0 = -2 < 0).
      m at the ReLU output = W2 = (1, -3, 2); at its input s*m = (1, -3, 0).
      input m = W1 (1, -3, 0) = (1 - 6, 1 + 6) = (-5, 7); C = (-5, 7), sum 2
      = t(x) - t(x0) = (3.5 - 6) - (1.5 - 6).
    Example B: x = (0, -1), same x0, dx = (-1, -1): dh = (-2, 0, 0),
      h = (-0.5, 2, -2); unit 0: s = (0 - 1.5) / -2 = 0.75.
      input m = (0.75 - 6, 0.75 + 6) = (-5.25, 6.75), C = (5.25, -6.75),
      sum -1.5 = (0 - 6) - (1.5 - 6).
    """
    layers = tiny_net(M.Rescale, b1=[0.5, 0.0, -1.0])
    x = np.array([[2.0, 1.0], [0.0, -1.0]], np.float32)
    ref = np.array([[1.0, 0.0]], np.float32)
    res = run_lowlevel(layers, x, ref, task=0)
    np.testing.assert_allclose(res[1]["act"], [[3.5, 2, -2], [-0.5, 2, -2]], atol=1e-6)
    np.testing.assert_allclose(res[1]["ref"], [[1.5, 2, -2]] * 2, atol=1e-6)
    np.testing.assert_allclose(res[2]["mxts"], [[1, -3, 2]] * 2, atol=1e-6)
    np.testing.assert_allclose(res[1]["mxts"], [[1, -3, 0], [0.75, -3, 0]], atol=1e-6)
    np.testing.assert_allclose(res[0]["mxts"], [[-5, 7], [-5.25, 6.75]], atol=1e-6)
    np.testing.assert_allclose(res[0]["contribs"], [[-5, 7], [5.25, -6.75]], atol=1e-6)
    np.testing.assert_allclose(res[0]["contribs"].sum(1), [2.0, -1.5], atol=1e-6)
    # Contributions of the hidden layers sum to the same delta.
    np.testing.assert_allclose(res[2]["contribs"].sum(1), [2.0, -1.5], atol=1e-6)


def test_tiny_net_reveal_cancel_by_hand():
    """b1 = (1.5, 0, -1), x = (1, -2), x0 = 0 -> dx+ = (1, 0), dx- = (0, -2).

    Dense parts (W+ dx+ + W- dx-, W- dx+ + W+ dx-):
      unit 0, w = (1, 1):  p = 1,  n = -2
      unit 1, w = (2, -2): p = 2 + 4 = 6, n = 0
      unit 2, w = (-1, 1): p = 0,  n = -1 - 2 = -3
    RevealCancel at unit 0 (h0 = 1.5): f(h0)=1.5, f(h0+p)=2.5, f(h0+n)=0,
      f(h0+p+n)=0.5 -> dy+ = (1 + 0.5)/2 = 0.75, dy- = (-1.5 - 2)/2 = -1.75;
      unit 1 (h0 = 0): dy+ = 6, dy- = 0; unit 2 (h0 = -1): 0, 0.
    Multipliers with m_out = W2 = (1, -3, 2):
      m+ = m_out * dy+/p = (0.75, -3, 0); m- = m_out * dy-/n = (0.875, -1.5, 0).
      A zero part is nudged to 1e-7 *before* f is evaluated (the original's
      rule): unit 1, n = 0: dy-/n = [(f(1e-7) - f(0)) + (f(6 + 1e-7) - f(6))]
      / 2e-7 = 0.5, since 6 + 1e-7 rounds to 6 in float32 (half an ulp at 6
      is 2.4e-7) -> m- = -3 * 0.5; unit 2, p = 0: f(-1 + 1e-7) - f(-1) = 0
      and f(-4 + 1e-7) - f(-4) = 0 -> m+ = 0.
    Input (dx0 > 0): W+ m+ + W- m- = 1*0.75 + 2*(-3) + (-1)*0 = -5.25;
          (dx1 < 0): W- m+ + W+ m- = (-2)(-3) + 1*0.875 + 1*0 = 6.875.
    C = (-5.25, 6.875 * -2) = (-5.25, -13.75), sum -19
      = t(x) - t(x0) = (0.5 - 18) - 1.5.
    Rescale on the same example: s = (1, 1, 0) -> input m = (-5, 7),
      C = (-5, -14): the rules differ, both sum to -19.
    """
    x = np.array([[1.0, -2.0]], np.float32)
    ref = np.zeros((1, 2), np.float32)
    res = run_lowlevel(tiny_net(M.RevealCancel, b1=[1.5, 0.0, -1.0]), x, ref, task=0)
    np.testing.assert_allclose(res[2]["pos_mxts"], [[1, -3, 2]], atol=1e-6)
    np.testing.assert_allclose(res[1]["pos_mxts"], [[0.75, -3, 0]], atol=1e-5)
    np.testing.assert_allclose(res[1]["neg_mxts"], [[0.875, -1.5, 0]], atol=1e-5)
    np.testing.assert_allclose(res[1]["mxts"], [[0.8125, -2.25, 0]], atol=1e-5)
    # contributions of the dense output: m+ p + m- n = (0.75 - 1.75, -18, 0)
    np.testing.assert_allclose(res[1]["contribs"], [[-1, -18, 0]], atol=1e-5)
    # contributions of the ReLU output: m_out * (dy+ + dy-) = (-1, -18, 0)
    np.testing.assert_allclose(res[2]["contribs"], [[-1, -18, 0]], atol=1e-5)
    np.testing.assert_allclose(res[0]["mxts"], [[-5.25, 6.875]], atol=1e-5)
    np.testing.assert_allclose(res[0]["contribs"], [[-5.25, -13.75]], atol=1e-5)

    res = run_lowlevel(tiny_net(M.Rescale, b1=[1.5, 0.0, -1.0]), x, ref, task=0)
    np.testing.assert_allclose(res[0]["mxts"], [[-5.0, 7.0]], atol=1e-5)
    np.testing.assert_allclose(res[0]["contribs"], [[-5.0, -14.0]], atol=1e-5)


def test_tiny_net_reveal_cancel_via_model_api():
    # Same numbers as above through SequentialModel.get_target_contribs_func.
    model = SequentialModel(tiny_net(M.RevealCancel, b1=[1.5, 0.0, -1.0]))
    func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    out = func(task_idx=0, input_data_list=[np.array([[1.0, -2.0]])],
               input_references_list=[np.zeros((1, 2))], batch_size=1)
    np.testing.assert_allclose(out, [[-5.25, -13.75]], atol=1e-5)
    mult = model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-1)
    np.testing.assert_allclose(mult(0, [np.array([[1.0, -2.0]])], input_references_list=[0.0]),
                               [[-5.25, 6.875]], atol=1e-5)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_dense_two_stream_backward_matches_numpy_reference(rng, act):
    """RevealCancel downstream makes m+ != m- reach the first Dense.

    Inputs 0 and 1 always have dx > 0 and every hidden unit has a positive
    weight on input 0 and a negative one on input 1, so every unit has
    non-zero positive and negative parts (exact zeros are the subject of
    ``test_dense_parts_exact_when_a_part_is_zero``). Input 2 has random-sign
    dx (the dx < 0 branch), input 3 has dx == 0 (the (m+ + m-)/2 branch).
    Example 0 has dh == 0 on hidden unit 4 (the near-zero fallback).
    """
    W1r = rng.normal(size=(4, 5))
    W1r[0] = np.abs(W1r[0]) + 0.1
    W1r[1] = -np.abs(W1r[1]) - 0.1
    W1r[:, 4] = [1.0, -1.0, 0.0, 0.5]        # hidden unit 4: dh = dx0 - dx1 (+0.5 dx3 = 0)
    b1 = rng.normal(size=5)
    W2r = rng.normal(size=(5, 2))
    b2 = rng.normal(size=2)
    ref = rng.normal(size=(6, 4)).astype(np.float32)
    x = ref + rng.normal(size=(6, 4)).astype(np.float32)
    x[:, :2] = ref[:, :2] + rng.uniform(0.2, 1.0, size=(6, 2)).astype(np.float32)
    x[:, 3] = ref[:, 3]                       # dx == 0 on input 3
    ref[0, :2] = [0.25, -0.5]                 # example 0: dx0 == dx1 == 0.75
    x[0, :2] = [1.0, 0.25]                    # exactly -> dh4 == 0
    x[1, 2], ref[1, 2] = 1.0, 2.0             # make sure dx2 < 0 occurs
    f, g = NP_ACTS[act]
    cls = {"relu": L.ReLU, "sigmoid": L.Sigmoid, "tanh": L.Tanh}[act]
    layers = chain(L.Input(batch_shape=(None, 4)), L.Dense(kernel=W1r, bias=b1),
                   cls(nonlinear_mxts_mode=M.RevealCancel), L.Dense(kernel=W2r, bias=b2))
    ops = [op_linear(W1r.T, b1), op_act(f, g, M.RevealCancel), op_linear(W2r.T, b2)]
    lib, levels = compare_chain(layers, ops, x, ref, task=1)
    # the streams really differ (otherwise this would not test the 2-stream path)
    assert np.abs(lib[1]["pos_mxts"] - lib[1]["neg_mxts"]).max() > 1e-2


def test_dense_parts_exact_when_a_part_is_zero():
    """W = (0.3, 0.6), b = 0.1, x0 = (0.6, x1): dx = (x0 - 0.6, 0).

    Dense parts: p = 0.3 dx0, n = 0 exactly when dx0 > 0 (p = 0, n = 0.3 dx0
    when dx0 < 0). The ReLU (RevealCancel) stays in its linear region
    (h0, h > 0), so the non-zero part has slope 1 (m+ = 1 for dx0 > 0,
    m- = 1 for dx0 < 0). The zero part is nudged to 1e-7 before dy is
    evaluated (the original's rule), so its multiplier is the float32 secant
    [(f(h0 + 1e-7) - f(h0)) + (f(h + 1e-7) - f(h))] / 2e-7, where nudging
    only the denominator gave 0. It is 1 only up to how h0 + 1e-7 and
    h + 1e-7 round in float32 (0.6 + 1e-7 moves by 2 ulps = 1.19e-7;
    2.5 + 1e-7 rounds back to 2.5), exactly as in the original package.
    Input multipliers: input 0: 0.3 * (slope of its part) = 0.3; input 1
    (dx == 0): 0.5 * 0.6 * (m+ + m-). Its contribution stays 0, and the
    contributions sum to delta. (Zero-dx multipliers are exactly what
    hypothetical contributions use.)
    """
    layers = chain(L.Input(batch_shape=(None, 2)),
                   L.Dense(kernel=[[0.3], [0.6]], bias=[0.1]),
                   L.ReLU(nonlinear_mxts_mode=M.RevealCancel),
                   L.Dense(kernel=[[1.0]], bias=[0.0]))
    x = np.array([[a / 10, b / 10] for a in range(1, 31, 3) for b in range(0, 31, 3)])
    ref = x.copy()
    ref[:, 0] = 0.6
    res = run_lowlevel(layers, x, ref, task=0)
    positive = x[:, 0] > 0.6
    h = res[1]["act"][:, 0].astype(np.float32)
    h0 = res[1]["ref"][:, 0].astype(np.float32)
    tiny = np.float32(1e-7)
    secant = 0.5 * (((h0 + tiny) - h0).astype(np.float64)
                    + ((h + tiny) - h).astype(np.float64)) / np.float64(tiny)
    assert np.mean(secant > 0.5) > 0.5   # mostly not the 0 of the denominator-only nudge
    np.testing.assert_allclose(res[1]["pos_mxts"][positive, 0], 1.0, rtol=1e-5)
    np.testing.assert_allclose(res[1]["neg_mxts"][~positive, 0], 1.0, rtol=1e-5)
    np.testing.assert_allclose(res[1]["neg_mxts"][positive, 0], secant[positive], rtol=1e-6)
    np.testing.assert_allclose(res[1]["pos_mxts"][~positive, 0], secant[~positive], rtol=1e-6)
    np.testing.assert_allclose(res[0]["mxts"][:, 0], 0.3, rtol=1e-5)
    np.testing.assert_allclose(res[0]["mxts"][:, 1], 0.5 * 0.6 * (1 + secant), rtol=1e-5)
    np.testing.assert_array_equal(res[0]["contribs"][:, 1], 0.0)
    np.testing.assert_allclose(res[0]["contribs"].sum(axis=1), h - h0, rtol=1e-5, atol=1e-6)
