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


# label -> (in shape, library layer factory taking the input layer,
#           numpy map of one batch, Keras layer factory or None)
ROUTING = {
    "flatten": ((2, 3, 2), lambda i: L.Flatten()(i), lambda v: v.reshape(len(v), -1),
                lambda: keras.layers.Flatten()),
    "flatten_cf": ((2, 3, 2), lambda i: L.Flatten(data_format="channels_first")(i),
                   lambda v: np.moveaxis(v, 1, -1).reshape(len(v), -1),
                   lambda: keras.layers.Flatten(data_format="channels_first")),
    "reshape": ((2, 6), lambda i: L.Reshape((3, 4))(i), lambda v: v.reshape(len(v), 3, 4),
                lambda: keras.layers.Reshape((3, 4))),
    "zeropad1d": ((4, 2), lambda i: L.ZeroPadding1D(padding=(1, 2))(i),
                  lambda v: np_pad(v, [(1, 2)]), lambda: keras.layers.ZeroPadding1D((1, 2))),
    "zeropad1d_int": ((4, 2), lambda i: L.ZeroPadding1D(padding=1)(i),
                      lambda v: np_pad(v, [(1, 1)]), lambda: keras.layers.ZeroPadding1D(1)),
    "zeropad2d": ((3, 3, 2), lambda i: L.ZeroPadding2D(padding=((1, 0), (2, 1)))(i),
                  lambda v: np_pad(v, [(1, 0), (2, 1)]),
                  lambda: keras.layers.ZeroPadding2D(((1, 0), (2, 1)))),
    "zeropad2d_sym": ((3, 3, 2), lambda i: L.ZeroPadding2D(padding=(1, 2))(i),
                      lambda v: np_pad(v, [(1, 1), (2, 2)]),
                      lambda: keras.layers.ZeroPadding2D((1, 2))),
    "zeropad2d_cf": ((2, 3, 3), lambda i: L.ZeroPadding2D(padding=((1, 0), (2, 1)),
                                                           data_format="channels_first")(i),
                     _cf(lambda v: np_pad(v, [(1, 0), (2, 1)])),
                     lambda: keras.layers.ZeroPadding2D(((1, 0), (2, 1)),
                                                        data_format="channels_first")),
    "crop1d": ((6, 2), lambda i: L.Cropping1D(cropping=(2, 1))(i),
               lambda v: np_crop(v, [(2, 1)]), lambda: keras.layers.Cropping1D((2, 1))),
    "crop2d": ((5, 4, 2), lambda i: L.Cropping2D(cropping=((1, 2), (0, 1)))(i),
               lambda v: np_crop(v, [(1, 2), (0, 1)]),
               lambda: keras.layers.Cropping2D(((1, 2), (0, 1)))),
    "crop2d_cf": ((2, 5, 4), lambda i: L.Cropping2D(cropping=((1, 2), (0, 1)),
                                                     data_format="channels_first")(i),
                  _cf(lambda v: np_crop(v, [(1, 2), (0, 1)])),
                  lambda: keras.layers.Cropping2D(((1, 2), (0, 1)), data_format="channels_first")),
    "concat_steps": ((3, 2), lambda i: L.Concat(axis=1)([i, i]),
                     lambda v: np.concatenate([v, v], axis=1), None),
    "concat_last": ((3, 2), lambda i: L.Concat(axis=-1)([i, i]),
                    lambda v: np.concatenate([v, v], axis=-1), None),
    "add": ((3, 2), lambda i: L.Add()([i, i]), lambda v: v + v, None),
    "noop": ((3, 2), lambda i: L.NoOp()(i), lambda v: v, None),
}


def test_routing_layers_match_numpy_reference_and_keras(rng):
    f, g = NP_ACTS["relu"]
    cases = []
    for label, (shape, make, fn, _) in sorted(ROUTING.items()):
        J, _ = linear_matrix(fn, shape)
        assert np.all(J >= 0)
        Wd, bd = rng.normal(size=(J.shape[0], 3)), rng.normal(size=3)
        inp = L.Input(batch_shape=(None,) + shape)
        routed = make(inp)
        act = L.ReLU(nonlinear_mxts_mode=M.RevealCancel)(routed)
        layers = [inp, routed, act]
        ops = [op_routing(J), op_act(f, g, M.RevealCancel)]
        if len(fn(np.zeros((1,) + shape)).shape) > 2:
            layers.append(L.Flatten()(act))
            ops.append(None)
        layers.append(L.Dense(kernel=Wd, bias=bd)(layers[-1]))
        ops.append(op_linear(Wd.T, bd))
        x = rng.normal(size=(N,) + shape)
        ref = rng.normal(size=(1,) + shape)
        cases.append((label, layers, ops, x, ref))
    results = compare_branches(cases, task=2)
    for label, layers, ops, x, ref in cases:
        lib = results[label][0]
        keras_factory = ROUTING[label][3]
        if keras_factory is not None:
            np.testing.assert_allclose(lib[1]["act"], np.asarray(keras_factory()(x.astype(np.float32))),
                                       atol=1e-6, err_msg=f"{label} forward vs Keras")
        assert np.abs(lib[1]["pos_mxts"] - lib[1]["neg_mxts"]).max() > 1e-3, label
        delta = lib[-1]["act"][:, 2] - lib[-1]["ref"][:, 2]
        for i in (0, 1):
            np.testing.assert_allclose(lib[i]["contribs"].reshape(N, -1).sum(1), delta,
                                       rtol=1e-4, atol=1e-5, err_msg=label)


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
