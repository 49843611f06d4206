"""Routing layers (Flatten, Reshape, ZeroPadding1D/2D, Cropping1D/2D,
Concat, Add, NoOp): forward against numpy and Keras; both multiplier streams
(RevealCancel downstream) against the numpy reference, where such a layer is
a fixed non-negative linear map applied to each part."""
import keras
import numpy as np
import pytest

import deeplift.layers as L
from deeplift.models import GraphModel
from deeplift.modes import NonlinearMxtsMode as M
from helpers import (NP_ACTS, compare_branches, linear_matrix, np_crop, np_pad, op_act,
                     op_linear, op_routing)

N = 3


def _cf(fn):
    """A channels_last numpy map applied to channels_first data."""
    return lambda v: np.moveaxis(fn(np.moveaxis(v, 1, -1)), -1, 1)


# Three chains of routing layers, each followed by ReLU(RevealCancel) ->
# Flatten -> Dense so that both multiplier streams cross every routing layer.
# Each step: (library layer factory taking the previous layer, numpy map,
# Keras equivalent applied to the previous layer's values).
CHAINS = {
    "1d": ((4, 2), [
        (lambda p: L.ZeroPadding1D(padding=1)(p), lambda v: np_pad(v, [(1, 1)]),
         lambda k: keras.layers.ZeroPadding1D(1)(k)),
        (lambda p: L.Cropping1D(cropping=(2, 1))(p), lambda v: np_crop(v, [(2, 1)]),
         lambda k: keras.layers.Cropping1D((2, 1))(k)),
        (lambda p: L.ZeroPadding1D(padding=(1, 2))(p), lambda v: np_pad(v, [(1, 2)]),
         lambda k: keras.layers.ZeroPadding1D((1, 2))(k)),
        (lambda p: L.Concat(axis=1)([p, p]), lambda v: np.concatenate([v, v], axis=1),
         lambda k: keras.layers.Concatenate(axis=1)([k, k])),
        (lambda p: L.Add()([p, p]), lambda v: v + v, lambda k: keras.layers.Add()([k, k])),
        (lambda p: L.NoOp()(p), lambda v: v, lambda k: k),
        (lambda p: L.Reshape((6, 4))(p), lambda v: v.reshape(len(v), 6, 4),
         lambda k: keras.layers.Reshape((6, 4))(k)),
    ]),
    "2d": ((3, 3, 2), [
        (lambda p: L.ZeroPadding2D(padding=((1, 0), (2, 1)))(p),
         lambda v: np_pad(v, [(1, 0), (2, 1)]),
         lambda k: keras.layers.ZeroPadding2D(((1, 0), (2, 1)))(k)),
        (lambda p: L.Cropping2D(cropping=((1, 1), (1, 2)))(p),
         lambda v: np_crop(v, [(1, 1), (1, 2)]),
         lambda k: keras.layers.Cropping2D(((1, 1), (1, 2)))(k)),
        (lambda p: L.ZeroPadding2D(padding=(1, 2))(p), lambda v: np_pad(v, [(1, 1), (2, 2)]),
         lambda k: keras.layers.ZeroPadding2D((1, 2))(k)),
        (lambda p: L.Cropping2D(cropping=1)(p), lambda v: np_crop(v, [(1, 1), (1, 1)]),
         lambda k: keras.layers.Cropping2D(1)(k)),
        (lambda p: L.Concat(axis=-1)([p, p]), lambda v: np.concatenate([v, v], axis=-1),
         lambda k: keras.layers.Concatenate(axis=-1)([k, k])),
    ]),
    "2d_channels_first": ((2, 3, 3), [
        (lambda p: L.ZeroPadding2D(padding=((1, 0), (2, 1)), data_format="channels_first")(p),
         _cf(lambda v: np_pad(v, [(1, 0), (2, 1)])),
         lambda k: keras.layers.ZeroPadding2D(((1, 0), (2, 1)), data_format="channels_first")(k)),
        (lambda p: L.Cropping2D(cropping=((1, 2), (0, 1)), data_format="channels_first")(p),
         _cf(lambda v: np_crop(v, [(1, 2), (0, 1)])),
         lambda k: keras.layers.Cropping2D(((1, 2), (0, 1)), data_format="channels_first")(k)),
        (lambda p: L.Concat(axis=1)([p, p]), lambda v: np.concatenate([v, v], axis=1),
         lambda k: keras.layers.Concatenate(axis=1)([k, k])),
        (lambda p: L.Flatten(data_format="channels_first")(p),
         lambda v: np.moveaxis(v, 1, -1).reshape(len(v), -1),
         lambda k: keras.layers.Flatten(data_format="channels_first")(k)),
    ]),
}


def test_routing_layers_match_numpy_reference_and_keras(rng):
    f, g = NP_ACTS["relu"]
    cases = []
    for label, (shape, steps) in CHAINS.items():
        inp = L.Input(batch_shape=(None,) + shape)
        layers, ops, cur_shape = [inp], [], shape
        for make, fn, _ in steps:
            J, _ = linear_matrix(fn, cur_shape)
            assert np.all(J >= 0)
            ops.append(op_routing(J))
            layers.append(make(layers[-1]))
            cur_shape = fn(np.zeros((1,) + cur_shape)).shape[1:]
        layers.append(L.ReLU(nonlinear_mxts_mode=M.RevealCancel)(layers[-1]))
        ops.append(op_act(f, g, M.RevealCancel))
        if len(cur_shape) > 1:
            layers.append(L.Flatten()(layers[-1]))
            ops.append(None)
        d = int(np.prod(cur_shape))
        Wd, bd = rng.normal(size=(d, 3)), rng.normal(size=3)
        layers.append(L.Dense(kernel=Wd, bias=bd)(layers[-1]))
        ops.append(op_linear(Wd.T, bd))
        x = rng.normal(size=(N,) + shape)
        ref = rng.normal(size=(1,) + shape)
        cases.append((label, layers, ops, x, ref))
    results = compare_branches(cases, task=2)
    for label, layers, ops, x, ref in cases:
        lib = results[label][0]
        steps = CHAINS[label][1]
        for i, (_, _, keras_step) in enumerate(steps):
            np.testing.assert_allclose(
                lib[i + 1]["act"], np.asarray(keras_step(lib[i]["act"])), atol=1e-6,
                err_msg=f"{label}: forward of step {i} vs Keras")
            # both streams cross every routing layer
            assert np.abs(lib[i + 1]["pos_mxts"] - lib[i + 1]["neg_mxts"]).max() > 1e-3
        delta = lib[-1]["act"][:, 2] - lib[-1]["ref"][:, 2]
        for i in range(len(steps) + 1):
            np.testing.assert_allclose(lib[i]["contribs"].reshape(N, -1).sum(1), delta,
                                       rtol=1e-4, atol=1e-5, err_msg=f"{label} layer {i}")


def test_reshape_with_minus_one():
    # (2, 6) -> (3, -1) = (3, 4); Flatten -> Dense(w = 0..11): multipliers = w
    # in the original (row-major) order, since reshape keeps it.
    inp = L.Input(batch_shape=(None, 2, 6))
    reshaped = L.Reshape((3, -1))(inp)
    assert reshaped.get_shape() == (None, 3, 4)
    out = L.Dense(kernel=np.arange(12.0).reshape(12, 1), bias=[0.0])(L.Flatten()(reshaped))
    model = GraphModel({"in": inp, "r": reshaped, "out": out}, ["in"])
    mult = model.get_target_multipliers_func("in", "out")(0, [np.ones((1, 2, 6))],
                                                        input_references_list=[0.0])
    np.testing.assert_allclose(mult, np.arange(12.0).reshape(1, 2, 6))


def test_concat_and_add_of_different_inputs_by_hand():
    # a (2 features), b (3 features) -> Concat -> Dense(w = 1..5): multipliers
    # are the matching slices of w, contributions w * dx.
    # c = Add(a, a2) -> Dense(v = (2, -1)): both addends get v.
    a, b, a2 = (L.Input(batch_shape=(None, 2), name="a"), L.Input(batch_shape=(None, 3), name="b"),
                L.Input(batch_shape=(None, 2), name="a2"))
    cat = L.Concat(axis=-1, name="cat")([a, b])
    out = L.Dense(kernel=np.arange(1.0, 6.0).reshape(5, 1), bias=[0.0], name="out")(cat)
    added = L.Add(name="added")([a, a2])
    out2 = L.Dense(kernel=[[2.0], [-1.0]], bias=[0.0], name="out2")(added)
    model = GraphModel({"a": a, "b": b, "a2": a2, "cat": cat, "out": out, "added": added,
                        "out2": out2}, ["a", "b", "a2"])
    data = [np.array([[1.0, 2.0]]), np.array([[3.0, 4.0, 5.0]]), np.array([[-1.0, 0.5]])]
    mult = model.get_target_multipliers_func(["a", "b"], "out")(0, data[:2] + [np.zeros((1, 2))],
                                                               input_references_list=[0, 0, 0])
    np.testing.assert_allclose(mult[0], [[1, 2]])
    np.testing.assert_allclose(mult[1], [[3, 4, 5]])
    contribs = model.get_target_contribs_func(["a", "a2"], "out2")(
        0, data, input_references_list=[0, 0, 0])
    np.testing.assert_allclose(contribs[0], [[2.0, -2.0]])
    np.testing.assert_allclose(contribs[1], [[-2.0, -0.5]])


@pytest.mark.parametrize("make, words", [
    (lambda: L.Concat(axis=0), ["axis 0", "batch"]),
    (lambda: L.ZeroPadding2D(padding=((1, 2, 3), (0, 0))), ["padding"]),
    (lambda: L.Cropping1D(cropping=-1), ["cropping", "-1"]),
    (lambda: L.Flatten(data_format="NCHW"), ["NCHW"]),
])
def test_routing_argument_validation(make, words):
    with pytest.raises(ValueError) as err:
        make()
    for word in words:
        assert word in str(err.value)


def test_list_layers_require_a_list_and_single_layers_a_layer():
    inp = L.Input(batch_shape=(None, 2))
    with pytest.raises(TypeError) as err:
        L.Concat(axis=-1).set_inputs(inp)
    assert "list" in str(err.value)
    with pytest.raises(TypeError):
        L.Flatten().set_inputs([inp])
