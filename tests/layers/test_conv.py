"""Conv1D / Conv2D / Conv3D: forward values against a naive numpy
cross-correlation and Keras, multipliers and contributions (with a
RevealCancel nonlinearity downstream so both multiplier streams reach the
convolution) against the numpy reference, channels_first against a
channels_last twin, and argument validation."""
import keras
import numpy as np
import pytest

import deeplift.layers as L
from deeplift.modes import NonlinearMxtsMode as M
from helpers import (NP_ACTS, chain, compare_branches, linear_matrix, np_conv, op_act,
                     op_linear, op_routing, run_lowlevel)

CONV = {1: L.Conv1D, 2: L.Conv2D, 3: L.Conv3D}
KERAS_CONV = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}

# (in spatial shape, kernel size, strides, padding, dilation)
CONFIGS = {
    1: [((7,), (3,), 1, "valid", 1), ((7,), (3,), 2, "same", 1),
        ((8,), (2,), 1, "same", 2)],
    2: [((5, 5), (3, 3), 1, "valid", 1), ((5, 4), (2, 3), (2, 1), "same", 1),
        ((5, 5), (2, 2), 1, "valid", (2, 1))],
    3: [((4, 3, 3), (2, 2, 2), 1, "valid", 1), ((4, 3, 3), (2, 1, 2), 2, "same", 1),
        ((4, 3, 3), (2, 2, 1), 1, "same", (2, 1, 1))],
}
IN_CH, OUT_CH = 4, 2


def _kernel_and_data(rng, spatial, ks, n=3):
    """Channel 0: dx > 0, channel 1: dx < 0 (both with positive kernel
    taps, so every output has non-zero positive and negative parts),
    channel 2: dx == 0 exactly, channel 3: anything."""
    K = rng.normal(size=tuple(ks) + (IN_CH, OUT_CH))
    K[..., :2, :] = np.abs(K[..., :2, :]) + 0.1
    b = rng.normal(size=OUT_CH)
    ref = rng.normal(size=(n,) + tuple(spatial) + (IN_CH,))
    dx = rng.normal(size=ref.shape)
    dx[..., 0] = np.abs(dx[..., 0]) + 0.1
    dx[..., 1] = -np.abs(dx[..., 1]) - 0.1
    dx[..., 2] = 0.0
    return K, b, (ref + dx).astype(np.float32), ref.astype(np.float32)


def _to_first(a):
    return np.moveaxis(a, -1, 1)


def _to_last(a):
    return np.moveaxis(a, 1, -1)


def _cases(rng, rank, channels_first_twins):
    cases, info = [], {}
    for i, (spatial, ks, strides, padding, dilation) in enumerate(CONFIGS[rank]):
        K, b, x, ref = _kernel_and_data(rng, spatial, ks)
        conv_np = lambda v, K=K, s=strides, p=padding, d=dilation: np_conv(v, K, None, s, p, d)  # noqa: E731
        in_shape = tuple(spatial) + (IN_CH,)
        J, _ = linear_matrix(conv_np, in_shape)
        out_shape = conv_np(np.zeros((1,) + in_shape)).shape[1:]
        bias = np.broadcast_to(b, out_shape).reshape(-1)
        d = int(np.prod(out_shape))
        Wd = rng.normal(size=(d, 3))
        bd = rng.normal(size=3)
        f, g = NP_ACTS["relu"]
        label = f"rank{rank}_cfg{i}"
        layers = chain(L.Input(batch_shape=(None,) + in_shape),
                       CONV[rank](kernel=K, bias=b, strides=strides, padding=padding,
                                  dilation_rate=dilation),
                       L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.Flatten(),
                       L.Dense(kernel=Wd, bias=bd))
        ops = [op_linear(J, bias), op_act(f, g, M.RevealCancel), None, op_linear(Wd.T, bd)]
        cases.append((label, layers, ops, x, ref))
        info[label] = (K, b, strides, padding, dilation, x)
        if i in channels_first_twins:
            # The same convolution stored channels_first; numpy side: the
            # permuted map, and Flatten(channels_first) is a permutation.
            cf_shape = (IN_CH,) + tuple(spatial)
            conv_cf = lambda v, c=conv_np: _to_first(c(_to_last(v)))  # noqa: E731
            Jcf, _ = linear_matrix(conv_cf, cf_shape)
            bias_cf = _to_first(np.broadcast_to(b, (1,) + out_shape))[0].reshape(-1)
            P, _ = linear_matrix(lambda v: _to_last(v).reshape(len(v), -1),
                                 (OUT_CH,) + tuple(out_shape[:-1]))
            layers_cf = chain(
                L.Input(batch_shape=(None,) + cf_shape),
                CONV[rank](kernel=K, bias=b, strides=strides, padding=padding,
                           dilation_rate=dilation, data_format="channels_first"),
                L.ReLU(nonlinear_mxts_mode=M.RevealCancel),
                L.Flatten(data_format="channels_first"), L.Dense(kernel=Wd, bias=bd))
            ops_cf = [op_linear(Jcf, bias_cf), op_act(f, g, M.RevealCancel), op_routing(P),
                      op_linear(Wd.T, bd)]
            cases.append((label + "_cf", layers_cf, ops_cf, _to_first(x), _to_first(ref)))
    return cases, info


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_matches_numpy_reference_keras_and_channels_last_twin(rng, rank):
    cases, info = _cases(rng, rank, channels_first_twins={1} if rank == 2 else {0})
    results = compare_branches(cases, task=1, atol=2e-5, rtol=2e-4)
    for label, (K, b, strides, padding, dilation, x) in info.items():
        lib = results[label][0]
        # forward: Keras
        k = KERAS_CONV[rank](OUT_CH, K.shape[:rank], strides=strides, padding=padding,
                             dilation_rate=dilation)
        k.build((None,) + x.shape[1:])
        k.set_weights([K.astype(np.float32), b.astype(np.float32)])
        np.testing.assert_allclose(lib[1]["act"], np.asarray(k(x)), rtol=1e-5, atol=1e-5,
                                   err_msg=f"{label} forward vs Keras")
        # the two multiplier streams really differ at the convolution output
        assert np.abs(lib[1]["pos_mxts"] - lib[1]["neg_mxts"]).max() > 1e-3
        # summation to delta at every scored layer
        delta = lib[-1]["act"][:, 1] - lib[-1]["ref"][:, 1]
        for i in (0, 1, 2):
            np.testing.assert_allclose(lib[i]["contribs"].reshape(len(x), -1).sum(1), delta,
                                       rtol=1e-4, atol=1e-4)
        if label + "_cf" in results:
            cf = results[label + "_cf"][0]
            for i in (0, 1, 2):
                for q in ("act", "mxts", "contribs"):
                    np.testing.assert_allclose(_to_last(cf[i][q]), lib[i][q], rtol=1e-5,
                                               atol=1e-6, err_msg=f"{label} cf twin {q} {i}")


def test_conv1d_hand_values():
    # x = (1, 2, 3, 4), kernel (1, -1) (width 2, 1 -> 1 channel), bias 0.5,
    # stride 2, valid: y = (1 - 2, 3 - 4) + 0.5 = (-0.5, -0.5).
    # Target y[1] (flat task 1): input multipliers (0, 0, 1, -1).
    inp = L.Input(batch_shape=(None, 4, 1))
    conv = L.Conv1D(kernel=np.array([1.0, -1.0]).reshape(2, 1, 1), bias=[0.5], stride=2)(inp)
    res = run_lowlevel([inp, conv], np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1),
                       np.zeros((1, 4, 1)), task=1)
    np.testing.assert_allclose(res[1]["act"].ravel(), [-0.5, -0.5])
    np.testing.assert_allclose(res[0]["mxts"].ravel(), [0, 0, 1, -1])
    np.testing.assert_allclose(res[0]["contribs"].ravel(), [0, 0, 3, -4])


@pytest.mark.parametrize("make, words", [
    (lambda: L.Conv2D(kernel=np.ones((3, 3, 2)), bias=np.zeros(2)), ["rank", "kernel"]),
    (lambda: L.Conv1D(kernel=np.ones((3, 2, 2)), bias=np.zeros(3)), ["bias", "(2,)"]),
    (lambda: L.Conv1D(kernel=np.ones((3, 2, 2)), bias=np.zeros(2), padding="full"),
     ["full", "same", "valid"]),
    (lambda: L.Conv2D(kernel=np.ones((2, 2, 1, 1)), strides=2, dilation_rate=2), ["dilation"]),
    (lambda: L.Conv2D(kernel=np.ones((2, 2, 1, 1)), strides=(1, 0)), ["strides"]),
    (lambda: L.Conv2D(kernel=np.ones((2, 2, 1, 1)), data_format="channels_middle"),
     ["channels_middle", "channels_first"]),
])
def test_conv_argument_validation(make, words):
    with pytest.raises(ValueError) as err:
        make()
    for word in words:
        assert word.lower() in str(err.value).lower()


def test_conv_parts_exact_zero_under_reveal_cancel(rng):
    """Non-negative kernel and x >= x0 everywhere: every conv output's
    negative part W- dx+ + W+ dx- is exactly 0, so RevealCancel (ReLU kept in
    its linear region by positive inputs and bias) must give m- = 0 on the
    conv output and m+ = the dense weight. The input multipliers are then
    W^T m+ where dx > 0 and (W^T m+ + W^T m-) / 2 = W^T m+ / 2 where
    dx == 0 (the linear rule's average of the two streams)."""
    kernel = np.abs(rng.normal(size=(3, IN_CH, OUT_CH))).astype(np.float32) + 0.1
    dense = rng.normal(size=(6 * OUT_CH, 1)).astype(np.float32)
    ref = np.abs(rng.normal(size=(4, 8, IN_CH))).astype(np.float32)
    x = ref + np.abs(rng.normal(size=ref.shape)).astype(np.float32)
    x[0, 2] = ref[0, 2]                                  # some dx exactly 0
    layers = chain(L.Input(batch_shape=(None, 8, IN_CH)),
                   L.Conv1D(kernel=kernel, bias=np.full(OUT_CH, 0.1), padding="valid"),
                   L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.Flatten(),
                   L.Dense(kernel=dense, bias=[0.0]))
    res = run_lowlevel(layers, x, ref, task=0)
    per_position = dense.reshape(1, 6, OUT_CH)
    np.testing.assert_array_equal(res[1]["neg_mxts"], 0.0)
    np.testing.assert_allclose(res[1]["pos_mxts"], np.broadcast_to(per_position, (4, 6, OUT_CH)),
                               rtol=1e-6)
    expected = np.zeros((4, 8, IN_CH), np.float32)       # W^T m, by hand
    for t in range(6):
        expected[:, t:t + 3, :] += np.einsum("kio,o->ki", kernel, per_position[0, t])
    expected[0, 2] *= 0.5
    np.testing.assert_allclose(res[0]["mxts"], expected, rtol=1e-5, atol=1e-6)


def _np_reveal_cancel_slope(x0, part, other):
    """dy/part for ReLU with both parts nudged off zero first, in float64."""
    def nudge(t):
        return t + np.where(np.abs(t) < 0.5e-7, np.where(t >= 0, 1e-7, -1e-7), 0.0)

    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    a, b = nudge(part), nudge(other)
    return 0.5 * ((relu(x0 + a) - relu(x0)) + (relu(x0 + b + a) - relu(x0 + b))) / a


def test_one_hot_reveal_cancel_multipliers_at_absent_bases(rng):
    """One-hot DNA, all-zeros reference, Conv1D (no bias) -> ReLU(RC) ->
    Dense: the input multipliers at the absent bases (dx == 0, where
    hypothetical contributions read them) equal a float64 numpy evaluation
    of the RevealCancel formula with p and n nudged off zero before dy is
    evaluated. Tap 0 of the kernel is negative for every base, so n < 0 at
    every conv output while p is exactly 0 at some: those get the limit slope
    (1/2 here), where nudging only the denominator gave 0."""
    length, width, channels = 10, 3, 3
    kernel = rng.normal(size=(width, 4, channels))
    kernel[0] = -np.abs(kernel[0]) - 0.1
    kernel = kernel.astype(np.float32).astype(np.float64)
    out_len = length - width + 1
    dense = rng.normal(size=(out_len * channels, 1)).astype(np.float32).astype(np.float64)
    x = np.eye(4)[rng.integers(0, 4, size=(5, length))]
    layers = chain(L.Input(batch_shape=(None, length, 4)),
                   L.Conv1D(kernel=kernel, bias=np.zeros(channels), padding="valid"),
                   L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.Flatten(),
                   L.Dense(kernel=dense, bias=[0.0]))
    res = run_lowlevel(layers, x.astype(np.float32), np.zeros_like(x, np.float32), task=0)

    # float64 reference: conv parts W+ x and W- x (dx = x >= 0), x0 = 0 after the conv.
    windows = np.stack([x[:, i:i + width] for i in range(out_len)], axis=1)   # (N, P, K, 4)
    p = np.einsum("npka,kac->npc", windows, np.maximum(kernel, 0))
    n = np.einsum("npka,kac->npc", windows, np.minimum(kernel, 0))
    assert np.all(n < 0) and np.any(p == 0) and np.any(p > 0)
    m_out = dense.reshape(1, out_len, channels)

    def input_mxts(slope_pos, slope_neg):
        m_pos, m_neg = m_out * slope_pos, m_out * slope_neg
        mean = np.zeros_like(x)     # dx == 0: W^T (m+ + m-) / 2; dx > 0: W+^T m+ + W-^T m-
        present = np.zeros_like(x)
        for i in range(out_len):
            mean[:, i:i + width] += np.einsum("kac,nc->nka", kernel, (m_pos + m_neg)[:, i] / 2)
            present[:, i:i + width] += (np.einsum("kac,nc->nka", np.maximum(kernel, 0), m_pos[:, i])
                                        + np.einsum("kac,nc->nka", np.minimum(kernel, 0), m_neg[:, i]))
        return np.where(x > 0, present, mean)

    expected = input_mxts(_np_reveal_cancel_slope(0.0, p, n), _np_reveal_cancel_slope(0.0, n, p))
    absent = x == 0
    np.testing.assert_allclose(res[0]["mxts"][absent], expected[absent], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res[0]["mxts"], expected, rtol=1e-5, atol=1e-6)
    denominator_only = input_mxts(np.where(p == 0, 0.0, _np_reveal_cancel_slope(0.0, p, n)),
                                  _np_reveal_cancel_slope(0.0, n, p))
    assert np.max(np.abs(expected - denominator_only)[absent]) > 1e-2
    # Contributions: 0 at the absent bases, and they sum to t(x) - t(x0).
    np.testing.assert_array_equal(res[0]["contribs"][absent], 0.0)
    target = np.maximum(p + n, 0).reshape(len(x), -1) @ dense[:, 0]
    np.testing.assert_allclose(res[0]["contribs"].sum(axis=(1, 2)), target, rtol=1e-5, atol=1e-5)


# (length, kernel width, padding, dilation, data format): Conv1D layers with
# few input channels and many output channels, which transpose through a
# matrix product and a shift-and-add instead of oneDNN's transposed conv.
FEW_INPUT_CHANNEL_CONFIGS = [
    (12, 5, "same", 1, "channels_last"), (12, 4, "same", 1, "channels_last"),
    (12, 3, "valid", 1, "channels_last"), (13, 3, "same", 2, "channels_last"),
    (12, 4, "valid", 3, "channels_last"), (11, 5, "same", 1, "channels_first"),
]


@pytest.fixture
def tap_calls(monkeypatch):
    """Records each call of ``kernels.overlap_add_taps``, the second half of
    the matmul-plus-shift-and-add transpose."""
    from deeplift import kernels

    calls = []
    original = kernels.overlap_add_taps
    monkeypatch.setattr(kernels, "overlap_add_taps",
                        lambda *a: calls.append(a[1:]) or original(*a))
    return calls


def _few_input_channel_case(rng, label, K, b, x, ref, padding, dilation, data_format):
    """``(label, layers, numpy ops, x, ref)`` for Input -> ConvND(K, b) ->
    ReLU(RevealCancel) -> Flatten -> Dense(3), the numpy side built from
    ``np_conv``. ``x`` and ``ref`` are given channels_last; for
    channels_first the library sees them transposed, and its Flatten undoes
    the layout."""
    out_ch = K.shape[-1]
    conv_np = lambda v: np_conv(v, K, None, 1, padding, dilation)  # noqa: E731
    in_shape = tuple(x.shape[1:])
    J, _ = linear_matrix(conv_np, in_shape)
    out_shape = conv_np(np.zeros((1,) + in_shape)).shape[1:]
    bias = np.broadcast_to(b, out_shape).reshape(-1)
    Wd, bd = rng.normal(size=(int(np.prod(out_shape)), 3)), rng.normal(size=3)
    f, g = NP_ACTS["relu"]
    ops = [op_linear(J, bias), op_act(f, g, M.RevealCancel), None, op_linear(Wd.T, bd)]
    if data_format == "channels_first":
        in_shape = (in_shape[-1],) + in_shape[:-1]
        x, ref = _to_first(x), _to_first(ref)
        J, _ = linear_matrix(lambda v: _to_first(conv_np(_to_last(v))), in_shape)
        bias = _to_first(np.broadcast_to(b, (1,) + out_shape))[0].reshape(-1)
        P, _ = linear_matrix(lambda v: _to_last(v).reshape(len(v), -1),
                             (out_ch,) + out_shape[:-1])
        ops = [op_linear(J, bias), op_act(f, g, M.RevealCancel), op_routing(P),
               op_linear(Wd.T, bd)]
    conv_class = {3: L.Conv1D, 4: L.Conv2D, 5: L.Conv3D}[K.ndim]
    layers = chain(L.Input(batch_shape=(None,) + in_shape),
                   conv_class(kernel=K, bias=b, padding=padding, dilation_rate=dilation,
                              data_format=data_format),
                   L.ReLU(nonlinear_mxts_mode=M.RevealCancel),
                   L.Flatten(data_format=data_format), L.Dense(kernel=Wd, bias=bd))
    return label, layers, ops, x.astype(np.float32), ref.astype(np.float32)


def test_conv1d_few_input_channels_matches_numpy_reference(rng, tap_calls):
    out_ch = 16
    cases = []
    for i, (length, width, padding, dilation, data_format) in enumerate(
            FEW_INPUT_CHANNEL_CONFIGS):
        K = rng.normal(size=(width, IN_CH, out_ch))
        K[:, :2] = np.abs(K[:, :2]) + 0.1
        b = rng.normal(size=out_ch)
        ref = rng.normal(size=(3, length, IN_CH))
        x = ref + rng.normal(size=ref.shape)
        x[..., 2] = ref[..., 2]                          # dx == 0 on one channel
        cases.append(_few_input_channel_case(rng, f"few{i}", K, b, x, ref, padding, dilation,
                                             data_format))
    compare_branches(cases, task=2, atol=2e-5, rtol=2e-4)
    # the shift-and-add path ran for every case (two streams each)
    assert len(tap_calls) == 2 * len(FEW_INPUT_CHANNEL_CONFIGS)


# (spatial shape, kernel size, input channels, padding, dilation, data format):
# 2-d and 3-d convolutions whose taps x input channels are at most twice the
# output channels (grey-scale images), transposed by a matrix product and a
# shift-and-add.
FEW_INPUT_CHANNEL_CONFIGS_ND = [
    ((6, 5), (3, 3), 1, "same", (1, 1), "channels_last"),
    ((6, 5), (2, 3), 2, "valid", (1, 1), "channels_last"),
    ((7, 6), (3, 2), 1, "same", (2, 1), "channels_last"),
    ((6, 5), (3, 3), 1, "same", (1, 1), "channels_first"),
    ((3, 4, 4), (2, 2, 2), 2, "valid", (1, 1, 1), "channels_last"),
]


def test_conv2d_conv3d_few_input_channels_match_numpy_reference(rng, tap_calls):
    out_ch = 20
    cases = []
    for i, (spatial, ksize, in_ch, padding, dilation, data_format) in enumerate(
            FEW_INPUT_CHANNEL_CONFIGS_ND):
        K = rng.normal(size=ksize + (in_ch, out_ch))
        b = rng.normal(size=out_ch)
        ref = rng.normal(size=(3,) + spatial + (in_ch,))
        x = ref + rng.normal(size=ref.shape)
        cases.append(_few_input_channel_case(rng, f"fewnd{i}", K, b, x, ref, padding, dilation,
                                             data_format))
    compare_branches(cases, task=1, atol=2e-5, rtol=2e-4)
    # the shift-and-add path ran for every case (two streams each)
    assert len(tap_calls) == 2 * len(FEW_INPUT_CHANNEL_CONFIGS_ND)
