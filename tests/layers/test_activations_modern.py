"""The modern activations (SiLU/Swish, GELU exact and tanh, HardSiLU, Mish,
SELU, Softsign, Exponential) and ReLU's max_value / negative_slope /
threshold combinations: forward values against Keras and a numpy float64
reference written from the published formulas, every NonlinearMxtsMode
against the numpy DeepLIFT reference (``helpers.np_deeplift``), summation to
delta with non-zero references, and Gradient mode against tf.GradientTape.
"""
import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift.modes import NonlinearMxtsMode as M
from deeplift.rules import effective_mode
from helpers import chain, compare_branches, np_sigmoid, op_act, op_linear

_erf = np.vectorize(math.erf)


def _np_softplus(x):
    return np.logaddexp(0.0, x)


def _np_relu6(x):
    return np.minimum(np.maximum(x, 0.0), 6.0)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
C = math.sqrt(2 / math.pi)

# name -> (library layer factory, numpy f, numpy f', Keras activation name or None)
SMOOTH = {
    "silu": (L.SiLU, lambda x: x * np_sigmoid(x),
             lambda x: np_sigmoid(x) + x * np_sigmoid(x) * (1 - np_sigmoid(x)), "silu"),
    "gelu": (L.GELU, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
             lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
             "gelu"),
    "gelu_tanh": (lambda **kw: L.GELU(approximate=True, **kw),
                  lambda x: 0.5 * x * (1 + np.tanh(C * (x + 0.044715 * x ** 3))),
                  lambda x: (0.5 * (1 + np.tanh(C * (x + 0.044715 * x ** 3)))
                             + 0.5 * x * (1 - np.tanh(C * (x + 0.044715 * x ** 3)) ** 2)
                             * C * (1 + 3 * 0.044715 * x ** 2)), None),
    "hard_silu": (L.HardSiLU, lambda x: x * _np_relu6(x + 3) / 6,
                  lambda x: _np_relu6(x + 3) / 6 + np.where(np.abs(x) < 3, x / 6, 0.0),
                  "hard_silu"),
    "mish": (L.Mish, lambda x: x * np.tanh(_np_softplus(x)),
             lambda x: (np.tanh(_np_softplus(x))
                        + x * (1 - np.tanh(_np_softplus(x)) ** 2) * np_sigmoid(x)), "mish"),
    "selu": (L.SELU, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
             lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
             "selu"),
    "softsign": (L.Softsign, lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2,
                 "softsign"),
    "exponential": (L.Exponential, np.exp, np.exp, "exponential"),
}


def np_keras_relu(max_value, negative_slope, threshold):
    """Keras' relu(x, negative_slope, max_value, threshold), as its source
    computes it, and its derivative away from the kinks."""

    def f(x):
        y = np.where(x > threshold, x, 0.0) if threshold else np.maximum(x, 0.0)
        if max_value is not None:
            y = np.clip(y, 0.0, max_value)
        return y - negative_slope * np.maximum(threshold - x, 0.0)

    def g(x):
        up = (x > threshold) & (x > 0) & (x < (np.inf if max_value is None else max_value))
        return np.where(up, 1.0, np.where(x < threshold, negative_slope, 0.0))

    return f, g


# Every combination the Keras ReLU layer accepts, including max_value below threshold.
RELU_OPTIONS = list(itertools.product([None, 1.5, 0.2], [0.0, 0.1], [0.0, 0.5]))
RELU = {
    f"relu_{m}_{s}_{t}": (lambda m=m, s=s, t=t, **kw: L.ReLU(max_value=m, negative_slope=s,
                                                             threshold=t, **kw),
                          *np_keras_relu(m, s, t), (m, s, t))
    for m, s, t in RELU_OPTIONS
}
ALL = {**SMOOTH, **RELU}

N_IN, N_HID = 5, 8


def _data(rng, mode, n=4):
    ref = rng.normal(scale=0.8, size=(1, N_IN))
    x = ref + rng.normal(scale=1.2, size=(n, N_IN))
    if mode != M.RevealCancel:
        # dx == 0 everywhere: the f'(x0) fallback. (Under RevealCancel the
        # multipliers of such an example are 0 / 1e-7 up to the last bit of
        # f(x0 + 0) - f(x0), which XLA may round differently for the
        # reference's and the batch's shapes: noise that the contributions
        # m * 0 do not see.)
        x[0] = ref[0]
    return x.astype(np.float32), ref.astype(np.float32)


def _keras_forward(name, x):
    if name.startswith("relu_"):
        m, s, t = ALL[name][3]
        return np.asarray(keras.layers.ReLU(max_value=m, negative_slope=s, threshold=t)(x))
    keras_name = ALL[name][3]
    if keras_name is None:
        return np.asarray(keras.activations.gelu(x, approximate=True))
    return np.asarray(keras.layers.Activation(keras_name)(x))


def test_forward_matches_keras_and_numpy(rng):
    """Values straddling every kink (-3, 0, thresholds, max_values, 3)."""
    x = np.concatenate([rng.uniform(-4, 4, size=(1, 200)),
                        [[-3.0, 0.0, 0.1, 0.2, 0.5, 0.50001, 1.5, 3.0]]], axis=1).astype(np.float32)
    for name, (make, f, _, _) in ALL.items():
        got = np.asarray(make().fn(tf.constant(x)))
        np.testing.assert_allclose(got, _keras_forward(name, x), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} vs Keras")
        np.testing.assert_allclose(got, f(x.astype(np.float64)), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} vs numpy")


def test_grad_matches_gradient_tape(rng):
    x = tf.constant(rng.uniform(-4, 4, size=(300,)).astype(np.float32))
    for name, (make, _, g, _) in ALL.items():
        layer = make()
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer.fn(x)
        np.testing.assert_allclose(np.asarray(layer.grad(x)), np.asarray(tape.gradient(y, x)),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(np.asarray(layer.grad(x)), g(np.asarray(x, np.float64)),
                                   rtol=1e-4, atol=1e-5, err_msg=f"{name} vs numpy")


OTHER_MODES = [M.Gradient, M.GuidedBackprop, M.GuidedBackpropRescale, M.DeconvNet,
               M.PassThrough]
# Rescale and RevealCancel on every activation; the other (generic) rules
# only read fn and grad, so each activation gets one of them in turn.
PLANS = {
    "Rescale": [(name, M.Rescale) for name in ALL],
    "RevealCancel": [(name, M.RevealCancel) for name in SMOOTH]
                    + [(name, M.RevealCancel) for name in list(RELU)[::3]],
    "others": [(name, OTHER_MODES[i % len(OTHER_MODES)]) for i, name in enumerate(ALL)],
}


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_every_mode_matches_numpy_reference(rng, plan):
    """Input -> Dense -> activation(mode) -> Dense, all cases compiled as one
    function; every quantity of every layer against the float64 numpy
    DeepLIFT, and (Rescale, RevealCancel) summation to delta."""
    cases = []
    for name, mode in PLANS[plan]:
        make, f, g, _ = ALL[name]
        x, ref = _data(rng, mode)
        W1, b1 = rng.normal(size=(N_IN, N_HID)), rng.normal(size=N_HID) * 0.5
        W2, b2 = rng.normal(size=(N_HID, 2)), rng.normal(size=2)
        layers = chain(L.Input(batch_shape=(None, N_IN)), L.Dense(kernel=W1, bias=b1),
                       make(nonlinear_mxts_mode=mode), L.Dense(kernel=W2, bias=b2))
        cases.append((name, layers, [op_linear(W1.T, b1), op_act(f, g, mode),
                                     op_linear(W2.T, b2)], x, ref))
    assert {mode for _, mode in PLANS["others"]} == set(OTHER_MODES)
    mode = PLANS[plan][0][1]
    # RevealCancel's multipliers dy+/p are ill-conditioned where a part p is
    # tiny (float32 vs float64); its contributions m * p are not.
    quantities = (("act", "ref", "contribs") if mode == M.RevealCancel
                  else ("act", "ref", "mxts", "pos_mxts", "neg_mxts", "contribs"))
    results = compare_branches(cases, task=1, atol=2e-5, rtol=2e-4, quantities=quantities)
    if mode not in (M.Rescale, M.RevealCancel):
        return
    for name, layers, ops, x, ref in cases:
        f = ALL[name][1]
        W1, b1, W2 = ops[0]["J"].T, ops[0]["b"], ops[2]["J"].T
        out = lambda v: f(v.astype(np.float64) @ W1 + b1) @ W2[:, 1]  # noqa: E731
        lib, _ = results[name]
        np.testing.assert_allclose(lib[0]["contribs"].sum(axis=1), out(x) - out(ref),
                                   rtol=1e-4, atol=1e-4, err_msg=f"{name}: sum to delta")


def test_genomics_default_resolves_by_preceding_layer():
    for make, *_ in ALL.values():
        inp = L.Input(batch_shape=(None, 6, 4))
        after_dense = make(nonlinear_mxts_mode=M.DeepLIFT_GenomicsDefault)(
            L.Dense(kernel=np.ones((4, 2)))(inp))
        after_conv = make(nonlinear_mxts_mode=M.DeepLIFT_GenomicsDefault)(
            L.Conv1D(kernel=np.ones((3, 4, 2)))(inp))
        assert effective_mode(after_dense) == M.RevealCancel
        assert effective_mode(after_conv) == M.Rescale
