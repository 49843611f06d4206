"""Max / average pooling (1D/2D/3D) and their global variants.

Expected values come from naive numpy pooling (padded cells excluded, first
maximum of a window in row-major order on ties) and from Keras' pooling
layers; multipliers from the numpy reference of ``helpers``.
"""
import keras
import numpy as np
import pytest

import deeplift.layers as L
from deeplift.models import SequentialModel
from deeplift.modes import NonlinearMxtsMode as M
from helpers import (NP_ACTS, chain, compare_branches, linear_matrix, np_maxpool_backward,
                     np_pool, op_act, op_globalmax, op_linear, op_maxpool, op_routing,
                     run_lowlevel)

MAXPOOL = {1: L.MaxPool1D, 2: L.MaxPool2D, 3: L.MaxPool3D}
AVGPOOL = {1: L.AvgPool1D, 2: L.AvgPool2D, 3: L.AvgPool3D}
K_MAXPOOL = {1: keras.layers.MaxPooling1D, 2: keras.layers.MaxPooling2D,
             3: keras.layers.MaxPooling3D}
K_AVGPOOL = {1: keras.layers.AveragePooling1D, 2: keras.layers.AveragePooling2D,
             3: keras.layers.AveragePooling3D}
C = 2

# (spatial shape, pool size, strides, padding)
MAX_CONFIGS = [
    ((6,), 2, None, "valid"), ((7,), 3, 1, "same"), ((7,), 2, 2, "same"),
    ((4, 5), 2, None, "valid"), ((5, 4), (3, 2), (1, 2), "same"),
    # windows that tile the input (strides == pool size) take a separate
    # code path; "same" here pads one cell before and one after
    ((10,), 4, None, "same"), ((11,), 4, None, "valid"), ((6, 10), (4, 3), None, "same"),
]
MAX_CONFIGS_3D = [((4, 4, 2), 2, None, "valid"), ((3, 4, 3), (2, 1, 2), 1, "same"),
                  ((5, 4, 3), (2, 4, 2), None, "same")]
AVG_CONFIGS = [
    ((7,), 2, None, "valid"), ((7,), 3, 2, "same"),
    ((5, 5), 2, 1, "same"), ((5, 4), (3, 2), (2, 1), "valid"),
    ((3, 4, 3), 2, 1, "same"), ((4, 4, 2), (2, 2, 1), None, "valid"),
]


def _to_first(a):
    return np.moveaxis(a, -1, 1)


def _to_last(a):
    return np.moveaxis(a, 1, -1)


def _maxpool_case(rng, label, spatial, pool, strides, padding, ties):
    rank = len(spatial)
    in_shape = tuple(spatial) + (C,)
    if ties:  # small integers: many equal values inside windows
        x = rng.integers(0, 3, size=(4,) + in_shape).astype(np.float32)
    else:
        x = rng.normal(size=(4,) + in_shape).astype(np.float32)
    ref = rng.normal(size=(1,) + in_shape).astype(np.float32)
    out_shape = np_pool(np.zeros((1,) + in_shape), pool, strides, padding).shape[1:]
    d = int(np.prod(out_shape))
    Wd, bd = rng.normal(size=(d, 3)), rng.normal(size=3)
    layers = chain(L.Input(batch_shape=(None,) + in_shape),
                   MAXPOOL[rank](pool_size=pool, strides=strides, padding=padding),
                   L.Flatten(), L.Dense(kernel=Wd, bias=bd))
    ops = [op_maxpool(in_shape, pool, strides, padding), None, op_linear(Wd.T, bd)]
    return (label, layers, ops, x, ref), (Wd, bd)


def _keras_pool(cls, pool, strides, padding, x, **kw):
    return np.asarray(cls(pool, strides=strides, padding=padding, **kw)(x))


def test_maxpool_1d_2d_first_max_on_ties_and_channels_first_twin(rng):
    cases, extra = [], {}
    for i, (spatial, pool, strides, padding) in enumerate(MAX_CONFIGS):
        case, (Wd, bd) = _maxpool_case(rng, f"max{i}", spatial, pool, strides, padding, ties=True)
        cases.append(case)
        if len(spatial) == 2:  # channels_first twin, compared with the twin below
            cf_layers = chain(L.Input(batch_shape=(None, C) + tuple(spatial)),
                              L.MaxPool2D(pool_size=pool, strides=strides, padding=padding,
                                          data_format="channels_first"),
                              L.Flatten(data_format="channels_first"),
                              L.Dense(kernel=Wd, bias=bd))
            cases.append((f"max{i}_cf", cf_layers, None, _to_first(case[3]), _to_first(case[4])))
    results = compare_branches(cases, task=2)
    for label, layers, ops, x, ref in cases:
        lib = results[label][0]
        if ops is None:
            cl = results[label[:-3]][0]
            for i in (0, 1):
                for q in ("act", "mxts", "contribs"):
                    np.testing.assert_allclose(_to_last(lib[i][q]), cl[i][q], atol=1e-6,
                                               err_msg=f"{label} {q} {i}")
            continue
        pool_layer = layers[1]
        rank = len(x.shape) - 2
        np.testing.assert_allclose(
            lib[1]["act"], _keras_pool(K_MAXPOOL[rank], pool_layer.pool_size,
                                       pool_layer.strides, pool_layer.padding.value.lower(), x),
            atol=1e-6, err_msg=f"{label} forward vs Keras")
        # each pooled multiplier lands on exactly one input cell
        np.testing.assert_allclose(lib[0]["mxts"].sum(), lib[1]["mxts"].sum(), rtol=1e-5)


def test_maxpool3d_matches_numpy_with_and_without_ties(rng):
    cases = [_maxpool_case(rng, f"max3d{i}_{ties}", *cfg, ties=ties)[0]
             for i, cfg in enumerate(MAX_CONFIGS_3D) for ties in (False, True)]
    results = compare_branches(cases, task=1)
    for label, layers, ops, x, ref in cases:
        p = layers[1]
        np.testing.assert_allclose(
            results[label][0][1]["act"],
            _keras_pool(K_MAXPOOL[3], p.pool_size, p.strides, p.padding.value.lower(), x),
            atol=1e-6)


def test_maxpool3d_tie_first_max_gets_the_multiplier():
    # One 2x2x2 window of equal values: only the first cell (row-major) gets
    # the multiplier 1, the other seven get 0. (TensorFlow's *eager*
    # MaxPool3DGrad gives it to every tied cell; the compiled one does not.)
    inp = L.Input(batch_shape=(None, 2, 2, 2, 1))
    pool = L.MaxPool3D(pool_size=2)(inp)
    target = L.Dense(kernel=[[1.0]], bias=[0.0])(L.Flatten()(pool))
    res = run_lowlevel([inp, pool, target], np.zeros((1, 2, 2, 2, 1)),
                       np.full((1, 2, 2, 2, 1), -1.0), task=0)
    expected = np.zeros(8)
    expected[0] = 1.0
    np.testing.assert_array_equal(res[0]["mxts"].ravel(), expected)
    # summation to delta (the reference is constant in the window): 0 - (-1)
    assert res[0]["contribs"].sum() == pytest.approx(1.0)


def test_pool_strides_larger_than_pool_size():
    # x = 0..6, pool 2, stride 3, valid: windows (0, 1) and (3, 4):
    # max (1, 4), mean (0.5, 3.5); target = second output.
    x = np.arange(7.0).reshape(1, 7, 1)
    for cls, expected_act, expected_mxts in (
            (L.MaxPool1D, [1, 4], [0, 0, 0, 0, 1, 0, 0]),
            (L.AvgPool1D, [0.5, 3.5], [0, 0, 0, 0.5, 0.5, 0, 0])):
        inp = L.Input(batch_shape=(None, 7, 1))
        pool = cls(pool_length=2, stride=3)(inp)
        target = L.Dense(kernel=[[0.0], [1.0]], bias=[0.0])(L.Flatten()(pool))
        res = run_lowlevel([inp, pool, target], x, np.zeros((1, 7, 1)), task=0)
        np.testing.assert_allclose(res[1]["act"].ravel(), expected_act)
        np.testing.assert_allclose(res[0]["mxts"].ravel(), expected_mxts)


def test_maxpool_hand_values_ties_and_overlap():
    # x = (0, 0, 5, 5, 1), pool 2 stride 2 valid -> windows (0,0) (5,5):
    # the first cell of each window gets the multiplier (2 and 3 below).
    inp = L.Input(batch_shape=(None, 5, 1))
    pool = L.MaxPool1D(pool_length=2, stride=2)(inp)
    target = L.Dense(kernel=[[2.0], [3.0]], bias=[0.0])(L.Flatten()(pool))
    res = run_lowlevel([inp, pool, target], np.array([0, 0, 5, 5, 1.0]).reshape(1, 5, 1),
                       np.zeros((1, 5, 1)), task=0)
    np.testing.assert_array_equal(res[0]["mxts"].ravel(), [2, 0, 3, 0, 0])
    # overlapping windows (pool 3, stride 1, same): x = (1, 4, 2, 4, 0):
    # windows (pad,1,4) (1,4,2) (4,2,4) (2,4,0) (4,0,pad) -> argmax positions
    # 1, 1, 1 (first of the tie), 3, 3; multipliers w = (1, 2, 3, 4, 5) accumulate.
    inp = L.Input(batch_shape=(None, 5, 1))
    pool = L.MaxPool1D(pool_length=3, stride=1, padding="same")(inp)
    target = L.Dense(kernel=np.arange(1.0, 6.0).reshape(5, 1), bias=[0.0])(L.Flatten()(pool))
    res = run_lowlevel([inp, pool, target], np.array([1, 4, 2, 4, 0.0]).reshape(1, 5, 1),
                       np.zeros((1, 5, 1)), task=0)
    np.testing.assert_array_equal(res[1]["act"].ravel(), [4, 4, 4, 4, 4])
    np.testing.assert_array_equal(res[0]["mxts"].ravel(), [0, 1 + 2 + 3, 0, 4 + 5, 0])


def _avg_matrix(in_shape, pool, strides, padding):
    return linear_matrix(lambda v: np_pool(v, pool, strides, padding, "avg"), in_shape)[0]


def test_avgpool_1d_2d_3d_matches_numpy_and_keras_same_padding_excludes_pad(rng):
    f, g = NP_ACTS["relu"]
    cases = []
    for i, (spatial, pool, strides, padding) in enumerate(AVG_CONFIGS):
        rank = len(spatial)
        in_shape = tuple(spatial) + (C,)
        J = _avg_matrix(in_shape, pool, strides, padding)
        Wd, bd = rng.normal(size=(J.shape[0], 3)), rng.normal(size=3)
        x = rng.normal(size=(3,) + in_shape).astype(np.float32)
        ref = rng.normal(size=(3,) + in_shape).astype(np.float32)
        layers = chain(L.Input(batch_shape=(None,) + in_shape),
                       AVGPOOL[rank](pool_size=pool, strides=strides, padding=padding),
                       L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.Flatten(),
                       L.Dense(kernel=Wd, bias=bd))
        ops = [op_routing(J), op_act(f, g, M.RevealCancel), None, op_linear(Wd.T, bd)]
        cases.append((f"avg{i}", layers, ops, x, ref))
    results = compare_branches(cases, task=0)
    for label, layers, ops, x, ref in cases:
        p = layers[1]
        rank = len(x.shape) - 2
        lib = results[label][0]
        np.testing.assert_allclose(
            lib[1]["act"], _keras_pool(K_AVGPOOL[rank], p.pool_size, p.strides,
                                       p.padding.value.lower(), x),
            atol=1e-6, err_msg=f"{label} forward vs Keras")
        delta = lib[-1]["act"][:, 0] - lib[-1]["ref"][:, 0]
        np.testing.assert_allclose(lib[0]["contribs"].reshape(3, -1).sum(1), delta, atol=1e-4)


def test_avgpool_same_padding_hand_values():
    # x = (1, 2, 3), pool 2 stride 2 same -> windows (1, 2) and (3) [pad
    # excluded]: y = (1.5, 3); multipliers for target y[1]: (0, 0, 1).
    inp = L.Input(batch_shape=(None, 3, 1))
    pool = L.AvgPool1D(pool_length=2, stride=2, padding="same")(inp)
    res = run_lowlevel([inp, pool], np.array([1, 2, 3.0]).reshape(1, 3, 1),
                       np.zeros((1, 3, 1)), task=1)
    np.testing.assert_allclose(res[1]["act"].ravel(), [1.5, 3.0])
    np.testing.assert_allclose(res[0]["mxts"].ravel(), [0, 0, 1.0])
    res = run_lowlevel([inp, pool], np.array([1, 2, 3.0]).reshape(1, 3, 1),
                       np.zeros((1, 3, 1)), task=0)
    np.testing.assert_allclose(res[0]["mxts"].ravel(), [0.5, 0.5, 0])


def test_global_pools_match_numpy_reference(rng):
    f, g = NP_ACTS["relu"]
    cases = []
    for rank, spatial in ((1, (5,)), (2, (3, 4))):
        in_shape = spatial + (3,)
        # GlobalMaxPool with ties (small integers): every maximum gets the multiplier
        x = rng.integers(0, 3, size=(4,) + in_shape).astype(np.float32)
        ref = rng.normal(size=(1,) + in_shape).astype(np.float32)
        W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
        gmp = {1: L.GlobalMaxPool1D, 2: L.GlobalMaxPool2D}[rank]
        cases.append((f"gmp{rank}", chain(L.Input(batch_shape=(None,) + in_shape), gmp(),
                                          L.Dense(kernel=W, bias=b)),
                      [op_globalmax(in_shape), op_linear(W.T, b)], x, ref))
        # GlobalAvgPool with RevealCancel after it (both streams routed)
        gap = {1: L.GlobalAvgPool1D, 2: L.GlobalAvgPool2D}[rank]
        J = linear_matrix(lambda v: v.reshape(len(v), -1, 3).mean(axis=1), in_shape)[0]
        x = rng.normal(size=(4,) + in_shape).astype(np.float32)
        ref = rng.normal(size=(4,) + in_shape).astype(np.float32)
        cases.append((f"gap{rank}", chain(L.Input(batch_shape=(None,) + in_shape), gap(),
                                          L.ReLU(nonlinear_mxts_mode=M.RevealCancel),
                                          L.Dense(kernel=W, bias=b)),
                      [op_routing(J), op_act(f, g, M.RevealCancel), op_linear(W.T, b)], x, ref))
        # channels_first GlobalAvgPool2D / GlobalMaxPool: numpy on the cf layout
        cf_shape = (3,) + spatial
        Jcf = linear_matrix(lambda v: v.reshape(len(v), 3, -1).mean(axis=2), cf_shape)[0]
        gap_cf = gap(data_format="channels_first")
        cases.append((f"gap{rank}_cf", chain(L.Input(batch_shape=(None,) + cf_shape), gap_cf,
                                             L.Dense(kernel=W, bias=b)),
                      [op_routing(Jcf), op_linear(W.T, b)], _to_first(x), _to_first(ref)))
    results = compare_branches(cases, task=1)
    for label, layers, ops, x, ref in cases:
        if label.startswith("gmp"):
            rank = x.ndim - 2
            k = {1: keras.layers.GlobalMaxPooling1D, 2: keras.layers.GlobalMaxPooling2D}[rank]()
            np.testing.assert_allclose(results[label][0][1]["act"], np.asarray(k(x)), atol=1e-6)
        if label.startswith("gap") and not label.endswith("cf"):
            rank = x.ndim - 2
            k = {1: keras.layers.GlobalAveragePooling1D,
                 2: keras.layers.GlobalAveragePooling2D}[rank]()
            np.testing.assert_allclose(results[label][0][1]["act"], np.asarray(k(x)), atol=1e-6)


def test_global_maxpool_all_maxima_get_the_multiplier_by_hand():
    # x (steps=3, channels=2) = [[1, 3], [3, 0], [2, 3]]: channel 0 max 3 at
    # step 1; channel 1 max 3 at steps 0 and 2 -> both get the full multiplier.
    # Target w = (2, 5): multipliers [[0, 5], [2, 0], [0, 5]].
    inp = L.Input(batch_shape=(None, 3, 2))
    gmp = L.GlobalMaxPool1D()(inp)
    target = L.Dense(kernel=[[2.0], [5.0]], bias=[0.0])(gmp)
    res = run_lowlevel([inp, gmp, target], np.array([[[1, 3], [3, 0], [2, 3.0]]]),
                       np.zeros((1, 3, 2)), task=0)
    np.testing.assert_array_equal(res[1]["act"], [[3, 3]])
    np.testing.assert_array_equal(res[0]["mxts"], [[[0, 5], [2, 0], [0, 5]]])


@pytest.mark.parametrize("kind, through_noop", [
    ("max", False), ("max", True), ("global", False), ("max3d", False)])
def test_reveal_cancel_right_after_max_pool_is_an_error(kind, through_noop):
    if kind == "max3d":
        layers = [L.Input(batch_shape=(None, 2, 2, 2, 1)), L.MaxPool3D(pool_size=2, name="the_pool")]
    elif kind == "max":
        layers = [L.Input(batch_shape=(None, 4, 2)), L.MaxPool1D(pool_length=2, name="the_pool")]
    else:
        layers = [L.Input(batch_shape=(None, 4, 2)), L.GlobalMaxPool1D(name="the_pool")]
    if through_noop:
        layers.append(L.NoOp())
    layers.append(L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="rc_relu"))
    if kind != "global":
        layers.append(L.Flatten())
    width = {"max": 4, "global": 2, "max3d": 1}[kind]
    layers.append(L.Dense(kernel=np.ones((width, 1))))
    model = SequentialModel(layers)
    with pytest.raises(ValueError) as err:
        model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    msg = str(err.value)
    assert "max" in msg.lower() and "the_pool" in msg and "rc_relu" in msg


def test_reveal_cancel_behind_a_flatten_needs_cross_max():
    # MaxPool -> Flatten -> RevealCancel: the Flatten carries the pool's
    # parts to RevealCancel, so gradient mode is refused; under cross_max the
    # same network sums to delta with a reference whose arg-maxes differ.
    def model(pool_mode):
        return SequentialModel([
            L.Input(batch_shape=(None, 4, 1)),
            L.MaxPool1D(pool_length=2, maxpool_deeplift_mode=pool_mode, name="mp"),
            L.Flatten(), L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="rc"),
            L.Dense(kernel=[[1.0], [-2.0]], bias=[0.0])])

    with pytest.raises(ValueError, match="'rc'.*'mp'.*cross_max"):
        model("gradient").get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    func = model("cross_max").get_target_contribs_func(find_scores_layer_idx=0,
                                                        target_layer_idx=-1)
    x = np.array([[1.0, 3.0, -2.0, -1.0]]).reshape(1, 4, 1)
    ref = np.array([2.0, 0.0, -3.0, 1.0]).reshape(1, 4, 1)
    # x: pooled (3, -1) -> relu (3, 0) -> t = 3; ref: pooled (2, 1) -> t = 2 - 2 = 0
    np.testing.assert_allclose(func(0, [x], input_references_list=[ref]).sum(), 3.0, rtol=1e-6)


@pytest.mark.parametrize("length, padding", [(12, "valid"), (11, "valid"), (10, "same")])
def test_maxpool1d_tiling_windows_several_tasks_at_once(rng, length, padding):
    """Windows that tile the sequence (stride == pool size, the genomics
    layout), several tasks in one call: each task's multipliers land on the
    first maximum of each window (numpy, by position), with the Dense weight
    of that window's output for that task, as when scored alone."""
    from deeplift.models import SequentialModel

    pool, channels = 4, 3
    x = rng.integers(0, 3, size=(5, length, channels)).astype(np.float32)  # many ties
    windows = length // pool if padding == "valid" else -(-length // pool)
    before = 0 if padding == "valid" else (windows * pool - length) // 2
    W = rng.normal(size=(windows * channels, 3)).astype(np.float32)
    model = SequentialModel([L.Input(batch_shape=(None, length, channels)),
                             L.MaxPool1D(pool_length=pool, padding=padding),
                             L.Flatten(), L.Dense(kernel=W, bias=np.zeros(3))])
    func = model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-1)
    together = func(task_idx=[0, 1, 2], input_data_list=[x], input_references_list=[0.0],
                    batch_size=5)
    for task in range(3):
        expected = np.zeros_like(x)
        for n in range(len(x)):
            for w in range(windows):
                start, stop = max(w * pool - before, 0), min(w * pool - before + pool, length)
                for c in range(channels):
                    first = start + int(np.argmax(x[n, start:stop, c]))  # first maximum
                    expected[n, first, c] = W[w * channels + c, task]
        np.testing.assert_allclose(together[task], expected, atol=1e-6)
        alone = func(task_idx=task, input_data_list=[x], input_references_list=[0.0],
                     batch_size=5)
        np.testing.assert_allclose(alone, expected, atol=1e-6)


@pytest.mark.parametrize("spatial, pool, padding", [
    ((6, 4), (2, 2), "valid"), ((7, 5), (3, 2), "valid"), ((6, 4), (3, 2), "same"),
    ((4, 5, 4), (2, 2, 2), "valid")])
def test_maxpool_2d_3d_tiling_windows_several_tasks_at_once(rng, spatial, pool, padding):
    """Tiling 2-d and 3-d windows (uncovered tails included), many ties,
    three tasks in one call: numpy's first-maximum routing of each task's
    Dense weights, shared rows (each example twice in a row) included."""
    from deeplift.models import SequentialModel

    channels = 2
    x = rng.integers(0, 3, size=(3,) + spatial + (channels,)).astype(np.float32)
    x = np.repeat(x, 2, axis=0)  # consecutive repeats take the shared-rows path
    pooled_shape = np_pool(x, pool, padding=padding).shape[1:]
    W = rng.normal(size=(int(np.prod(pooled_shape)), 3)).astype(np.float32)
    pool_class = L.MaxPool2D if len(spatial) == 2 else L.MaxPool3D
    model = SequentialModel([L.Input(batch_shape=(None,) + spatial + (channels,)),
                             pool_class(pool_size=pool, padding=padding),
                             L.Flatten(), L.Dense(kernel=W, bias=np.zeros(3))])
    func = model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-1)
    together = func(task_idx=[0, 1, 2], input_data_list=[x], input_references_list=[0.0],
                    batch_size=6)
    for task in range(3):
        m_pooled = np.broadcast_to(W[:, task].reshape(pooled_shape), (len(x),) + pooled_shape)
        expected = np_maxpool_backward(x, m_pooled, pool, padding=padding)
        np.testing.assert_allclose(together[task], expected, atol=1e-6)
