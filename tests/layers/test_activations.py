"""Nonlinearities: forward values against numpy and Keras, Rescale and
RevealCancel multipliers/contributions against the numpy reference, and the
near-zero fallback to f'(x0) worked out by hand."""
import keras
import numpy as np
import pytest

import deeplift.layers as L
from deeplift.modes import NonlinearMxtsMode as M
from deeplift.util import compile_func
from helpers import (NP_ACTS, chain, compare_branches, compare_chain, np_elu, np_hard_sigmoid, np_prelu,
                     np_relu_general, np_sigmoid, np_softmax, op_act, op_linear,
                     run_lowlevel, softmax_vjp)

SHAPE = (12,)
ALPHA = np.linspace(0.05, 0.6, 12)

# name -> (library constructor kwargs -> layer, numpy (f, g), Keras layer or None)
CASES = {
    "relu": (lambda **kw: L.ReLU(**kw), NP_ACTS["relu"], lambda: keras.layers.ReLU()),
    "relu_max_value": (lambda **kw: L.ReLU(max_value=1.5, **kw), np_relu_general(max_value=1.5),
                       lambda: keras.layers.ReLU(max_value=1.5)),
    "relu_negative_slope": (lambda **kw: L.ReLU(negative_slope=0.1, **kw),
                            np_relu_general(negative_slope=0.1),
                            lambda: keras.layers.ReLU(negative_slope=0.1)),
    "relu_threshold": (lambda **kw: L.ReLU(threshold=0.5, **kw), np_relu_general(threshold=0.5),
                       lambda: keras.layers.ReLU(threshold=0.5)),
    "relu_all": (lambda **kw: L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3, **kw),
                 np_relu_general(1.5, 0.1, 0.3),
                 lambda: keras.layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3)),
    "prelu_scalar": (lambda **kw: L.PReLU(alpha=0.25, **kw), np_prelu(0.25),
                     lambda: keras.layers.LeakyReLU(negative_slope=0.25)),
    "prelu_array": (lambda **kw: L.PReLU(alpha=ALPHA, **kw), np_prelu(ALPHA), "prelu"),
    "elu": (lambda **kw: L.ELU(alpha=0.7, **kw), np_elu(0.7), lambda: keras.layers.ELU(alpha=0.7)),
    "sigmoid": (lambda **kw: L.Sigmoid(**kw), NP_ACTS["sigmoid"],
                lambda: keras.layers.Activation("sigmoid")),
    "hard_sigmoid_0.2": (lambda **kw: L.HardSigmoid(**kw), np_hard_sigmoid(0.2, 0.5), None),
    "hard_sigmoid_1/6": (lambda **kw: L.HardSigmoid(slope=1 / 6, offset=0.5, **kw),
                         np_hard_sigmoid(1 / 6, 0.5),
                         lambda: keras.layers.Activation("hard_sigmoid")),
    "tanh": (lambda **kw: L.Tanh(**kw), NP_ACTS["tanh"], lambda: keras.layers.Activation("tanh")),
    "softplus": (lambda **kw: L.Softplus(**kw), NP_ACTS["softplus"],
                 lambda: keras.layers.Activation("softplus")),
}


def _data(rng, n=5):
    """Inputs spread over the interesting ranges (clipping of hard sigmoid,
    max_value, thresholds), |dx| >= 0.1 or exactly 0 (the fallback)."""
    ref = rng.normal(scale=2.0, size=(1,) + SHAPE)
    dx = rng.choice([-1, 1], size=(n,) + SHAPE) * rng.uniform(0.1, 3.0, size=(n,) + SHAPE)
    dx[:, 0] = 0.0
    dx[1, 8:] = 0.0
    x = (ref + dx).astype(np.float32)
    return x, ref.astype(np.float32)


def _keras_forward(name, x):
    factory = CASES[name][2]
    if factory is None:
        return None
    if factory == "prelu":
        k = keras.layers.PReLU()
        k.build((None,) + SHAPE)
        k.set_weights([ALPHA.astype(np.float32)])
    else:
        k = factory()
    return np.asarray(k(x))


# RevealCancel is checked on a subset (compiling is the slow part of the suite).
REVEAL_CANCEL_KINDS = ["elu", "hard_sigmoid_1/6", "prelu_array", "relu", "relu_all",
                       "sigmoid", "softplus", "tanh"]


@pytest.mark.parametrize("mode, names", [(M.Rescale, sorted(CASES)),
                                         (M.RevealCancel, REVEAL_CANCEL_KINDS)],
                         ids=["Rescale", "RevealCancel"])
def test_activations_match_numpy_reference_and_keras(rng, mode, names):
    """Each activation kind as its own chain Input -> act -> Dense (compiled
    together): forward values against numpy and Keras, multipliers (incl. the
    f'(x0) fallback where dx == 0) and contributions against the numpy
    reference, and summation to delta."""
    cases = []
    for name in names:
        make, (f, g), _ = CASES[name]
        x, ref = _data(rng)
        W = rng.normal(size=(12, 3))
        b = rng.normal(size=3)
        layers = chain(L.Input(batch_shape=(None,) + SHAPE), make(nonlinear_mxts_mode=mode),
                       L.Dense(kernel=W, bias=b))
        cases.append((name, layers, [op_act(f, g, mode), op_linear(W.T, b)], x, ref))
    results = compare_branches(cases, task=2, atol=1e-5, rtol=1e-4)
    for name, layers, ops, x, ref in cases:
        lib, _ = results[name]
        f = CASES[name][1][0]
        keras_out = _keras_forward(name, x)
        if keras_out is not None:
            np.testing.assert_allclose(lib[1]["act"], keras_out, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} forward vs Keras")
        W = ops[1]["J"].T
        delta = (f(x.astype(np.float64)) - f(ref.astype(np.float64))) @ W[:, 2]
        np.testing.assert_allclose(lib[0]["contribs"].sum(1), delta, atol=1e-4,
                                   err_msg=f"{name} summation to delta")


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel, M.Gradient])
def test_softmax_matches_numpy_reference(rng, mode):
    W = rng.normal(size=(5, 3))
    x = rng.normal(size=(4, 5)).astype(np.float32)
    ref = rng.normal(size=(1, 5)).astype(np.float32)
    x[0, 1] = ref[0, 1]
    layers = chain(L.Input(batch_shape=(None, 5)), L.Softmax(nonlinear_mxts_mode=mode),
                   L.Dense(kernel=W, bias=np.zeros(3)))
    grad_diag = lambda v: np_softmax(v) * (1 - np_softmax(v))  # noqa: E731
    ops = [op_act(np_softmax, grad_diag, mode, vjp=softmax_vjp), op_linear(W.T)]
    # The softmax layer's own contributions are the subject of
    # test_softmax_layer_contribs_use_its_parts (element with dx == 0).
    compare_chain(layers, ops, x, ref, task=0, atol=1e-5, rtol=1e-4, skip={(1, "contribs")})


def test_softmax_layer_contribs_use_its_parts():
    # x = (1, 0), x0 = (0, 0): softmax y - y0 = (0.2311, -0.2311); input 1 has
    # dx = 0 so its parts are 0 * s = 0 and its contribution must be 0;
    # element 0: parts dx * s = dy0, contribution m0 * dy0 = 1 * 0.2311.
    layers = chain(L.Input(batch_shape=(None, 2)), L.Softmax(),
                   L.Dense(kernel=[[1.0], [1.0]], bias=[0.0]))
    res = run_lowlevel(layers, np.array([[1.0, 0.0]]), np.zeros((1, 2)), task=0)
    e = np.exp(1.0)
    np.testing.assert_allclose(res[1]["contribs"], [[e / (e + 1) - 0.5, 0.0]], atol=1e-6)


def _single_unit(layer, x, ref):
    layers = chain(L.Input(batch_shape=(None, 1)), layer, L.Dense(kernel=[[1.0]], bias=[0.0]))
    return run_lowlevel(layers, np.array(x, np.float32).reshape(-1, 1),
                        np.array(ref, np.float32).reshape(-1, 1), task=0)


def test_rescale_fallback_uses_derivative_at_input_reference_sigmoid_tanh():
    # x0 = 2, dx = 0 and dx = 5e-8 (< 1e-7): multiplier = f'(x0), not f'(f(x0))
    # (the original package's bug) and not the noisy ratio.
    s2 = 1 / (1 + np.exp(-2.0))
    res = _single_unit(L.Sigmoid(), [2.0, 2.0 + 5e-8, 3.0], [2.0, 2.0, 2.0])
    s3 = 1 / (1 + np.exp(-3.0))
    np.testing.assert_allclose(res[0]["mxts"].ravel(),
                               [s2 * (1 - s2), s2 * (1 - s2), (s3 - s2) / 1.0], rtol=1e-5)
    res = _single_unit(L.Tanh(), [2.0, 2.0], [2.0, 2.0])
    np.testing.assert_allclose(res[0]["mxts"].ravel(), [1 - np.tanh(2.0) ** 2] * 2, rtol=1e-5)


FALLBACK_CASES = [
    # (layer, x0, f'(x0) by hand)
    (lambda: L.ReLU(), 0.7, 1.0),
    (lambda: L.ReLU(), -0.7, 0.0),
    (lambda: L.ReLU(negative_slope=0.1), -0.7, 0.1),
    (lambda: L.ReLU(max_value=1.5), 2.0, 0.0),
    (lambda: L.ReLU(threshold=0.5), 0.3, 0.0),
    (lambda: L.PReLU(alpha=0.3), -1.0, 0.3),
    (lambda: L.ELU(alpha=0.7), -1.0, 0.7 * np.exp(-1.0)),
    (lambda: L.Softplus(), 1.0, 1 / (1 + np.exp(-1.0))),
    (lambda: L.HardSigmoid(), 1.0, 0.2),
    (lambda: L.HardSigmoid(), 3.0, 0.0),
    (lambda: L.HardSigmoid(slope=1 / 6, offset=0.5), 1.0, 1 / 6),
    (lambda: L.Tanh(), 2.0, 1 - np.tanh(2.0) ** 2),
]


def test_rescale_fallback_by_hand():
    # One input per case, x == x0: multiplier f'(x0), contribution 0.
    # Input_k -> act_k, all concatenated -> Dense(ones) target.
    inputs = [L.Input(batch_shape=(None, 1)) for _ in FALLBACK_CASES]
    acts = [make()(inp) for inp, (make, _, _) in zip(inputs, FALLBACK_CASES)]
    target = L.Dense(kernel=np.ones((len(acts), 1)), bias=[0.0])(L.Concat(axis=-1)(acts))
    target.set_scoring_mode("OneAndZeros")
    in_vars = [v for inp in inputs for v in (inp.get_activation_vars(), inp.get_reference_vars())]
    fn = compile_func(in_vars, [inp.get_mxts() for inp in inputs]
                      + [inp.get_target_contrib_vars() for inp in inputs])
    target.set_active()
    target.update_task_index(0)
    arrays = []
    for _, x0, _ in FALLBACK_CASES:
        arrays += [np.array([[x0]]), np.array([[x0]])]
    out = fn(arrays)
    got = np.array([o.item() for o in out[:len(inputs)]])
    np.testing.assert_allclose(got, [e for _, _, e in FALLBACK_CASES], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal([o.item() for o in out[len(inputs):]], 0.0)


def test_reveal_cancel_single_unit_by_hand():
    # Input -> ReLU(RC) directly: the input's parts are its sign split, so
    # with one scalar input p or n is 0 and RevealCancel reduces to the
    # secant: x0 = -1, x = 2 -> p = 3, dy+ = (f(2) - f(-1) + f(2) - f(-1)) / 2 = 2
    # -> m+ = 2/3 and m- = 0 (n = 0, dy- = 0); x = -3 -> n = -2,
    # dy- = f(-3) - f(-1) = 0 -> m- = 0, and p = 0 -> m+ = 0.
    res = _single_unit(L.ReLU(nonlinear_mxts_mode=M.RevealCancel), [2.0, -3.0], [-1.0, -1.0])
    np.testing.assert_allclose(res[0]["pos_mxts"].ravel(), [2 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(res[0]["neg_mxts"].ravel(), [0.0, 0.0], atol=1e-7)
    # get_mxts() reports (m+ + m-) / 2
    np.testing.assert_allclose(res[0]["mxts"].ravel(), [1 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(res[0]["contribs"].ravel(), [2.0, 0.0], rtol=1e-6)


def test_reveal_cancel_zero_part_gets_the_limit_slope_by_hand():
    """A part that is exactly 0 is nudged to 1e-7 before dy is evaluated, so
    its multiplier is the one-sided slope averaged over the two Shapley
    orders, not 0 / 1e-7 = 0 (the original package's rule).

    Input -> ReLU(RC): the input's parts are its sign split. h = 2**-20 keeps
    every float32 sum with 1e-7 exact to ~6e-7 relative.
    A: x0 = -1, x = h: p = 1 + h, n = 0 (nudged to 1e-7).
       dy-/n = [(f(-1 + 1e-7) - f(-1)) + (f(h + 1e-7) - f(h))] / 2e-7
             = [0 + 1e-7] / 2e-7 = 1/2;  dy+ ~= f(h) - f(-1) = h, m+ ~= h / p.
    B: x0 = h, x = -1: p = 0 (nudged), n = -(1 + h).
       dy+/p = [(f(h + 1e-7) - f(h)) + (f(-1 + 1e-7) - f(-1))] / 2e-7 = 1/2;
       dy- ~= f(-1) - f(h) = -h, m- ~= h / (1 + h).
    The zero part's contribution stays 0 (its dx is 0): C = m+ p + m- n is
    the non-zero part's term, within the 1e-7 nudge of f(x) - f(x0).
    """
    h = 2.0 ** -20
    res = _single_unit(L.ReLU(nonlinear_mxts_mode=M.RevealCancel), [h, -1.0], [-1.0, h])
    pos, neg = res[0]["pos_mxts"].ravel(), res[0]["neg_mxts"].ravel()
    np.testing.assert_allclose(neg[0], 0.5, rtol=1e-5)
    np.testing.assert_allclose(pos[1], 0.5, rtol=1e-5)
    np.testing.assert_allclose(pos[0], h / (1 + h), atol=1e-7)
    np.testing.assert_allclose(neg[1], h / (1 + h), atol=1e-7)
    np.testing.assert_allclose(res[0]["contribs"].ravel(), [h, -h], atol=1e-7)
    np.testing.assert_allclose(res[0]["contribs"].ravel(),
                               [pos[0] * (1 + h), neg[1] * -(1 + h)], rtol=1e-6)


def test_sigmoid_near_zero_fallback_reference_value_hand():
    # A compact statement of the contract: contributions are 0 where dx == 0
    # and the multiplier is exactly sigmoid'(x0).
    x0 = np.array([-1.5, 0.0, 0.5])
    res = _single_unit(L.Sigmoid(), x0, x0)
    s = np_sigmoid(x0)
    np.testing.assert_allclose(res[0]["mxts"].ravel(), s * (1 - s), rtol=1e-5)
    np.testing.assert_array_equal(res[0]["contribs"].ravel(), 0.0)
