"""The conserving ``cross_max`` max-pool rule (deeplift/layers/cross_max.py).

Expected values: a hand-computed example; a naive numpy loop over windows
(``np_cross_max`` below, written from SEMANTICS.md, not from the kernel);
sum-to-delta against Keras' forward pass on random graphs whose references'
arg-maxes differ from the inputs'.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift import graph
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.models import SequentialModel
from deeplift.modes import MaxPoolDeepLiftMode
from deeplift.modes import NonlinearMxtsMode as M
from helpers import Twin, _modes, _pool_windows, _tuple, assert_sums_to_delta

MAXPOOL = {1: L.MaxPool1D, 2: L.MaxPool2D, 3: L.MaxPool3D}


def np_cross_max(x, x0, m, pool, strides, padding, global_pool=False):
    """Multipliers on the pool's input (float64 loops over every window).

    Returns ``(multipliers, (pos_part_ratio_weights))``: the multipliers and,
    per window, the (element index, r = credit / dx) pair that defines the
    output's parts.
    """
    x = np.asarray(x, np.float64)
    x0 = np.broadcast_to(np.asarray(x0, np.float64), x.shape)
    rank = x.ndim - 2
    if global_pool:
        outs, windows = (1,) * rank, [((0,) * rank, [0] * rank, list(x.shape[1:-1]))]
    else:
        pool = _tuple(pool, rank)
        strides = pool if strides is None else _tuple(strides, rank)
        outs, windows = _pool_windows(x.shape[1:-1], pool, strides, padding)
    num = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[-1]):
            for o, lo, hi in windows:
                cells = tuple(slice(a, b) for a, b in zip(lo, hi))
                cx, cr = x[n][cells + (c,)], x0[n][cells + (c,)]
                big = max(cx.max(), cr.max())
                # np.argmax returns the first maximum in row-major order
                at_x = tuple(a + i for a, i in zip(lo, np.unravel_index(np.argmax(cx), cx.shape)))
                at_r = tuple(a + i for a, i in zip(lo, np.unravel_index(np.argmax(cr), cr.shape)))
                num[(n,) + at_x + (c,)] += (big - cr.max()) * m[(n,) + tuple(o) + (c,)]
                num[(n,) + at_r + (c,)] += (cx.max() - big) * m[(n,) + tuple(o) + (c,)]
    dx = x - x0
    small = np.abs(dx) < 1e-7
    return np.where(small, 0.0, num / np.where(small, 1.0, dx))


def test_hand_computed_overlapping_windows_with_a_tie_and_a_larger_reference_max():
    # windows of 3, stride 2: w0 = cells 0-2, w1 = cells 2-4 (cell 2 shared)
    x = np.array([1.0, 3.0, 3.0, 0.0, 1.0]).reshape(1, 5, 1)
    ref = np.array([0.0, 1.0, 0.0, 5.0, 0.0]).reshape(1, 5, 1)
    # w0: x max 3 tied at cells 1 and 2 -> the first (cell 1) is credited
    #     3 - max(ref w0) = 3 - 1 = 2; the reference part gets 3 - 3 = 0.
    # w1: ref max 5 (cell 3) exceeds x max 3: cell 3 is credited 3 - 5 = -2.
    # Output multipliers (Dense weights) m = (2, -1); dx = (1, 2, 3, -5, 1).
    expected_mxts = np.array([0.0, 2 * 2 / 2, 0.0, -2 * -1 / -5, 0.0]).reshape(1, 5, 1)
    # t(x) = 2*3 - 1*3 = 3, t(ref) = 2*1 - 1*5 = -3: difference 6 = 2*2 + (-0.4)(-5)
    for pool_mode, want_sum in (("cross_max", 6.0), ("gradient", 2 * 2 + -1 * 3)):
        model = SequentialModel([
            L.Input(batch_shape=(None, 5, 1)),
            L.MaxPool1D(pool_length=3, stride=2, maxpool_deeplift_mode=pool_mode),
            L.Flatten(), L.Dense(kernel=[[2.0], [-1.0]], bias=[0.5])])
        contribs = model.get_target_contribs_func(0, -1)(0, [x], input_references_list=[ref])
        np.testing.assert_allclose(contribs.sum(), want_sum, rtol=1e-6)
        if pool_mode == "cross_max":
            mxts = model.get_target_multipliers_func(0, -1)(0, [x], input_references_list=[ref])
            np.testing.assert_allclose(mxts, expected_mxts, rtol=1e-6, atol=1e-7)


# (spatial shape, pool size, strides, padding): overlapping, strided, same
# padding, windows that tile the input (the kernel's reshape path) and tails
CONFIGS = [
    ((7,), 3, 1, "same"), ((7,), 2, 2, "same"), ((11,), 4, None, "valid"), ((9,), 3, 2, "valid"),
    ((5, 4), (3, 2), (1, 2), "same"), ((6, 10), (4, 3), None, "same"), ((4, 5), 2, None, "valid"),
    ((3, 4, 3), (2, 1, 2), 1, "same"), ((4, 5, 4), 2, None, "valid"),
]


@pytest.mark.parametrize("spatial, pool, strides, padding", CONFIGS)
def test_multipliers_match_numpy_with_ties_several_tasks_and_shared_rows(
        rng, spatial, pool, strides, padding):
    rank, channels = len(spatial), 2
    x = rng.integers(0, 3, size=(3,) + spatial + (channels,)).astype(np.float32)  # ties
    x = np.repeat(x, 2, axis=0)  # consecutive repeats take the shared-rows path
    ref = rng.integers(0, 3, size=(1,) + spatial + (channels,)).astype(np.float32)
    inp = L.Input(batch_shape=(None,) + spatial + (channels,))
    mp = MAXPOOL[rank](pool_size=pool, strides=strides, padding=padding,
                       maxpool_deeplift_mode="cross_max")(inp)
    flat = L.Flatten()(mp)
    out_shape = mp.get_shape()[1:]
    W = rng.normal(size=(int(np.prod(out_shape)), 2))
    model = SequentialModel([inp, mp, flat, L.Dense(kernel=W, bias=np.zeros(2))])
    got = model.get_target_multipliers_func(0, -1)([0, 1], [x], input_references_list=[ref])
    for task in range(2):
        m = np.broadcast_to(W[:, task].reshape(out_shape), (len(x),) + out_shape)
        np.testing.assert_allclose(got[task], np_cross_max(x, ref, m, pool, strides, padding),
                                   atol=1e-6)


@pytest.mark.parametrize("cls, shape, keepdims", [
    (L.GlobalMaxPool1D, (6, 3), False), (L.GlobalMaxPool2D, (3, 4, 2), True)])
def test_global_max_pools_match_numpy(rng, cls, shape, keepdims):
    x = rng.integers(0, 3, size=(4,) + shape).astype(np.float32)
    ref = rng.normal(size=(4,) + shape).astype(np.float32)  # per-example references
    inp = L.Input(batch_shape=(None,) + shape)
    gmp = cls(keepdims=keepdims, maxpool_deeplift_mode="cross_max")(inp)
    W = rng.normal(size=(shape[-1], 1))
    layers = [inp, gmp] + ([L.Flatten()] if keepdims else []) + [L.Dense(kernel=W, bias=[0.0])]
    model = SequentialModel(layers)
    got = model.get_target_multipliers_func(0, -1)(0, [x], input_references_list=[ref])
    m = np.broadcast_to(W[:, 0], (len(x),) + (1,) * (len(shape) - 1) + (shape[-1],))
    np.testing.assert_allclose(got, np_cross_max(x, ref, m, None, None, None, global_pool=True),
                               atol=1e-6)


def test_channels_first_equals_channels_last(rng):
    x = rng.normal(size=(3, 5, 6, 2)).astype(np.float32)
    ref = rng.normal(size=(1, 5, 6, 2)).astype(np.float32)
    W = rng.normal(size=(2 * 5 * 3, 1))

    def mxts(data_format, xs, r, W):
        shape = xs.shape[1:]
        inp = L.Input(batch_shape=(None,) + shape)
        mp = L.MaxPool2D(pool_size=(3, 2), strides=(1, 2), padding="same",
                         data_format=data_format, maxpool_deeplift_mode="cross_max")(inp)
        flat = L.Flatten()(mp)
        model = SequentialModel([inp, mp, flat, L.Dense(kernel=W, bias=[0.0])])
        return model.get_target_multipliers_func(0, -1)(0, [xs], input_references_list=[r])

    last = mxts("channels_last", x, ref, W)
    # channels_first Flatten orders (C, rows, cols): permute W's rows to match
    perm = np.arange(5 * 3 * 2).reshape(5, 3, 2).transpose(2, 0, 1).ravel()
    first = mxts("channels_first", np.moveaxis(x, -1, 1), np.moveaxis(ref, -1, 1), W[perm])
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), last, atol=1e-6)


def test_parts_are_the_credited_elements_parts_and_sum_to_the_difference(rng):
    inp = L.Input(batch_shape=(None, 8, 2))
    conv = L.Conv1D(kernel=rng.normal(size=(3, 2, 2)), bias=[0.1, -0.2], padding="same")(inp)
    mp = L.MaxPool1D(pool_length=3, stride=2, padding="same", maxpool_deeplift_mode="cross_max")(conv)
    x = tf.constant(rng.normal(size=(4, 8, 2)), tf.float32)
    ref = tf.constant(rng.normal(size=(1, 8, 2)), tf.float32)
    fp = graph.ForwardPass({inp: (x, ref)})
    pos, neg = (t.numpy() for t in fp.parts(mp))
    np.testing.assert_allclose(pos + neg, fp.diff(mp).numpy(), atol=1e-5)
    # the conv's parts are not its difference's sign split: both are non-zero
    p_in, n_in = (t.numpy().astype(np.float64) for t in fp.parts(conv))
    assert (p_in > 1e-3).any() and (n_in < -1e-3).any() and ((p_in > 1e-3) & (n_in < -1e-3)).any()
    a, a0 = fp.act(conv).numpy().astype(np.float64), np.broadcast_to(fp.ref(conv).numpy(), (4, 8, 2))
    _, windows = _pool_windows((8,), (3,), (2,), "same")
    for n in range(4):
        for c in range(2):
            for (o,), (lo,), (hi,) in windows:
                cx, cr = a[n, lo:hi, c], a0[n, lo:hi, c]
                diff = cx.max() - cr.max()
                e = lo + (np.argmax(cx) if diff > 0 else np.argmax(cr))
                r = diff / (a[n, e, c] - a0[n, e, c])
                assert 0 <= r <= 1 + 1e-6
                np.testing.assert_allclose(pos[n, o, c], r * p_in[n, e, c], atol=1e-5)
                np.testing.assert_allclose(neg[n, o, c], r * n_in[n, e, c], atol=1e-5)


# ---------------------------------------------------------------------------
# sum-to-delta on random graphs (Keras twins), references with other arg-maxes
# ---------------------------------------------------------------------------

def _graph_1d(rng, mode):
    """conv -> act -> overlapping same max pool -> BN -> act (RevealCancel
    sees the pool through BN) -> conv -> act -> Add(with the BN act) ->
    tiling max pool -> GlobalMaxPool1D -> Dense -> act -> Dense."""
    mc, md, mo = _modes(mode)
    t = Twin(rng)
    t.input("x", (12, 3))
    t.conv("c1", "x", 4, 3, padding="same")
    t.act("a1", "c1", "relu", mc)
    t.pool("mp1", "a1", "max", 3, strides=2, padding="same")
    t.bn("bn", "mp1")
    t.act("a2", "bn", "tanh", mo)
    t.conv("c2", "a2", 4, 3, padding="same")
    t.act("a3", "c2", "relu", mc)
    t.add("res", ["a2", "a3"])
    t.pool("mp2", "res", "max", 2)
    t.global_pool("gmp", "mp2", "max")
    t.dense("d", "gmp", 4)
    t.act("da", "d", "sigmoid", md)
    t.dense("out", "da", 2)
    return t


def _graph_2d(rng, mode):
    """conv -> act -> strided overlapping same max pool, concatenated with an
    average pool of the same act -> act -> tiling max pool -> Flatten ->
    Dense -> act -> Dense; a GlobalMaxPool2D branch joins the Dense input."""
    mc, md, mo = _modes(mode)
    t = Twin(rng)
    t.input("img", (6, 6, 2))
    t.conv("c1", "img", 3, 3, padding="same")
    t.act("a1", "c1", "relu", mc)
    t.pool("mp1", "a1", "max", (3, 2), strides=(1, 2), padding="same")   # 6x3x3
    t.pool("ap", "a1", "avg", (1, 2))                                     # 6x3x3
    t.concat("cat", ["mp1", "ap"])
    t.act("a2", "cat", "elu", mo)
    t.pool("mp2", "a2", "max", 2)                                         # 3x1x6
    t.flatten("fl", "mp2")
    t.global_pool("gmp", "a1", "max")
    t.concat("both", ["fl", "gmp"])
    t.dense("d", "both", 4)
    t.act("da", "d", "relu", md)
    t.dense("out", "da", 2)
    return t


def _graph_3d(rng, mode):
    """conv3d -> act -> max pool 3d (overlapping, same) -> act -> max pool 3d
    (tiling) -> Flatten -> Dense -> act -> Dense."""
    mc, md, mo = _modes(mode)
    t = Twin(rng)
    t.input("vol", (4, 4, 4, 1))
    t.conv("c1", "vol", 2, 2, padding="same")
    t.act("a1", "c1", "relu", mc)
    t.pool("mp1", "a1", "max", (2, 2, 1), strides=1, padding="same")
    t.act("a2", "mp1", "softplus", mo)
    t.pool("mp2", "a2", "max", 2)
    t.flatten("fl", "mp2")
    t.dense("d", "fl", 3)
    t.act("da", "d", "tanh", md)
    t.dense("out", "da", 2)
    return t


GRAPHS = {"1d": _graph_1d, "2d": _graph_2d, "3d": _graph_3d}
# (graph, mode, per-example references?): each reference shape costs a trace
CASES = [("1d", M.RevealCancel, False), ("1d", M.DeepLIFT_GenomicsDefault, True),
         ("2d", M.RevealCancel, True), ("3d", M.Rescale, False)]


def _set_pool_mode(twin, pool_mode):
    for layer in twin.dl.values():
        if hasattr(layer, "maxpool_deeplift_mode"):
            layer.maxpool_deeplift_mode = MaxPoolDeepLiftMode(pool_mode)


@pytest.mark.parametrize("name, mode, per_example", CASES,
                         ids=[f"{g}-{m.value}" for g, m, _ in CASES])
def test_sums_to_delta_on_random_graphs_with_max_pools(name, mode, per_example):
    rng = np.random.default_rng(7 + len(name) + list(M).index(mode))
    twin = GRAPHS[name](rng, mode)
    _set_pool_mode(twin, "cross_max")
    inp = twin.input_names[0]
    x = rng.normal(size=(5,) + twin.shape(inp)).astype(np.float32)
    keras_model = twin.keras_model("out")
    func = twin.graph_model().get_target_contribs_func([inp], "out")
    ref = rng.normal(size=x.shape if per_example else (1,) + x.shape[1:]).astype(np.float32)
    out_x = np.asarray(keras_model(x, training=False))
    out_ref = np.asarray(keras_model(np.broadcast_to(ref, x.shape), training=False))
    for task, contribs in zip((0, 1), func([0, 1], [x], input_references_list=[ref])):
        assert_sums_to_delta(contribs, out_x, out_ref, task, rtol=1e-5)


def test_the_same_graph_under_gradient_mode_misses_delta():
    """The references above do move the arg-maxes: with gradient routing
    (and Rescale, so the guard allows it) the sums miss delta."""
    rng = np.random.default_rng(99)
    twin = _graph_2d(rng, M.Rescale)
    x = rng.normal(size=(5, 6, 6, 2)).astype(np.float32)
    ref = rng.normal(size=(1, 6, 6, 2)).astype(np.float32)
    keras_model = twin.keras_model("out")
    delta = (np.asarray(keras_model(x))[:, 0]
             - np.asarray(keras_model(np.broadcast_to(ref, x.shape)))[:, 0])
    gaps = {}
    for pool_mode in ("gradient", "cross_max"):
        _set_pool_mode(twin, pool_mode)
        contribs = twin.graph_model().get_target_contribs_func("img", "out")(
            0, [x], input_references_list=[ref])
        gaps[pool_mode] = np.abs(contribs.reshape(5, -1).sum(1) - delta).max()
    assert gaps["gradient"] > 1e-2 * np.abs(delta).max()
    assert gaps["cross_max"] < 1e-5 * max(1.0, np.abs(delta).max())


def test_conversion_passes_cross_max_to_every_max_pool(tmp_path):
    model = keras.Sequential([
        keras.Input((8, 4)), keras.layers.Conv1D(3, 3, activation="relu"),
        keras.layers.MaxPooling1D(2), keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1)])
    path = str(tmp_path / "m.keras")
    model.save(path)
    converted = kc.convert_model_from_saved_files(
        path, nonlinear_mxts_mode=M.Rescale, maxpool_deeplift_mode="cross_max")
    pools = [l for l in converted.get_layers() if hasattr(l, "maxpool_deeplift_mode")]
    assert len(pools) == 2
    assert all(l.maxpool_deeplift_mode == MaxPoolDeepLiftMode.cross_max for l in pools)
    with pytest.raises(ValueError, match="maxpool_deeplift_mode='crossmax'.*cross_max"):
        kc.convert_model_from_saved_files(path, maxpool_deeplift_mode="crossmax")
