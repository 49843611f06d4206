"""Merge layers: a hand-computed cross_max example for ElementwiseMax
(maximum and minimum), the exact Subtract split, and WeightedSum
``a + w b`` (hand-computed two-stream case, summation-to-delta under Rescale
and RevealCancel with non-zero references, Gradient mode against
tf.GradientTape, for positive, negative and zero ``w``)."""
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift.layers.merge import ElementwiseMax, PairSum, Subtract, WeightedSum
from deeplift.models import GraphModel
from deeplift.modes import NonlinearMxtsMode as M


def _two_input_model(merge):
    a_in, b_in = L.Input(batch_shape=(None, 2), name="a"), L.Input(batch_shape=(None, 2), name="b")
    merged = merge([a_in, b_in])
    out = L.Dense(kernel=np.ones((2, 1)), bias=np.zeros(1), name="out")(merged)
    return GraphModel({"a": a_in, "b": b_in, "m": merged, "out": out}, ["a", "b"])


def _scores(model, kind, inputs, refs):
    get = (model.get_target_contribs_func if kind == "contribs"
           else model.get_target_multipliers_func)
    func = get(find_scores_layer_name=["a", "b"], pre_activation_target_layer_name="out")
    return func(task_idx=0, input_data_list=inputs, input_references_list=refs, batch_size=2)


A, B = np.array([[3.0, 1.0]]), np.array([[2.0, 4.0]])
A0, B0 = np.array([[0.0, 5.0]]), np.array([[1.0, 0.0]])


def test_maximum_cross_max_by_hand():
    model = _two_input_model(ElementwiseMax(sign=1.0, nonlinear_mxts_mode=M.Rescale, name="m"))
    c_a, c_b = _scores(model, "contribs", [A, B], [A0, B0])
    # Element 0: max 3 (a), reference max 1 (b0), M = 3: a gets 3 - 1 = 2, b0's side 3 - 3 = 0.
    # Element 1: max 4 (b), reference max 5 (a0), M = 5: b gets 5 - 5 = 0, a gets 4 - 5 = -1.
    np.testing.assert_allclose(c_a, [[2.0, -1.0]], atol=1e-6)
    np.testing.assert_allclose(c_b, [[0.0, 0.0]], atol=1e-6)
    m_a, m_b = _scores(model, "mxts", [A, B], [A0, B0])
    np.testing.assert_allclose(m_a, [[2.0 / 3.0, 0.25]], atol=1e-6)
    np.testing.assert_allclose(m_b, [[0.0, 0.0]], atol=1e-6)


def test_minimum_cross_max_by_hand():
    model = _two_input_model(ElementwiseMax(sign=-1.0, nonlinear_mxts_mode=M.Rescale, name="m"))
    c_a, c_b = _scores(model, "contribs", [A, B], [A0, B0])
    # min = -max(-a, -b). Element 0: input min 2 (b), reference min 0 (a0),
    # M' = min(2, 0) = 0: b (input's arg-min) gets M' - 0 = 0, a (reference's)
    # gets 2 - M' = 2. Element 1: input min 1 (a), reference min 0 (b0), M' = 0:
    # a gets 0, b gets 1 - 0 = 1.
    np.testing.assert_allclose(c_a, [[2.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(c_b, [[0.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(c_a.sum() + c_b.sum(),
                               np.minimum(A, B).sum() - np.minimum(A0, B0).sum())


def test_maximum_gradient_mode_routes_to_the_argmax():
    model = _two_input_model(ElementwiseMax(sign=1.0, nonlinear_mxts_mode=M.Gradient, name="m"))
    m_a, m_b = _scores(model, "mxts", [A, B], [A0, B0])
    np.testing.assert_allclose(m_a, [[1.0, 0.0]])
    np.testing.assert_allclose(m_b, [[0.0, 1.0]])


def test_subtract_by_hand():
    model = _two_input_model(Subtract(name="m"))
    c_a, c_b = _scores(model, "contribs", [A, B], [A0, B0])
    np.testing.assert_allclose(c_a, A - A0, atol=1e-6)
    np.testing.assert_allclose(c_b, -(B - B0), atol=1e-6)


def test_subtract_and_pair_sum_are_weighted_sums_of_minus_and_plus_one():
    assert Subtract(name="s").b_weight == -1.0
    assert PairSum(name="p").b_weight == 1.0


@pytest.mark.parametrize("b_weight", ["wide", float("nan"), None])
def test_weighted_sum_refuses_a_bad_weight_naming_the_layer(b_weight):
    with pytest.raises(ValueError, match="'scale'.*b_weight"):
        WeightedSum(b_weight, name="scale")


@pytest.mark.parametrize("w, a, b, c_a, c_b", [
    # One element, a0 = b0 = 0 (so y0 = 0), then a RevealCancel ReLU.
    # w = -2, a = 3, b = 2: dy+ = 3 (from a), dy- = -4 (from w b), y = -1.
    # RevealCancel: Dy+ = (relu(3) - 0)/2 + (relu(-1) - relu(-4))/2 = 1.5,
    # Dy- = (relu(-4) - 0)/2 + (relu(-1) - relu(3))/2 = -1.5, so m+ = 0.5,
    # m- = 0.375. a (weight 1, da > 0) takes m+: C_a = 1.5; b (weight -2,
    # db > 0) takes (-2 (m+ + m-) + 2 (m+ - m-))/2 = -2 m- = -0.75: C_b = -1.5.
    (-2.0, 3.0, 2.0, 1.5, -1.5),
    # w = 0.5, a = 3, b = -4: dy+ = 3, dy- = -2, y = 1. Dy+ = 1.5 + (1 - 0)/2
    # = 2, Dy- = 0 + (relu(1) - relu(3))/2 = -1: m+ = 2/3, m- = 0.5.
    # C_a = 3 m+ = 2; b (db < 0) takes 0.5 m- = 0.25: C_b = -1.
    (0.5, 3.0, -4.0, 2.0, -1.0),
    # w = 0: b is cut off; y = a = 3 > 0 passes through the ReLU whole.
    (0.0, 3.0, -4.0, 3.0, 0.0),
])
def test_weighted_sum_two_streams_by_hand(w, a, b, c_a, c_b):
    a_in = L.Input(batch_shape=(None, 1), name="a")
    b_in = L.Input(batch_shape=(None, 1), name="b")
    merged = WeightedSum(w, name="m")([a_in, b_in])
    act = L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="act")(merged)
    out = L.Dense(kernel=np.ones((1, 1)), bias=np.zeros(1), name="out")(act)
    model = GraphModel({"a": a_in, "b": b_in, "m": merged, "act": act, "out": out}, ["a", "b"])
    got_a, got_b = _scores(model, "contribs", [np.array([[a]]), np.array([[b]])],
                           [np.zeros((1, 1)), np.zeros((1, 1))])
    np.testing.assert_allclose(got_a, [[c_a]], atol=1e-6)
    np.testing.assert_allclose(got_b, [[c_b]], atol=1e-6)


def _residual_graph(rng, w, mode):
    """x (N, 5, 3) -> Dense+act branch ``a`` (N, 5, 4); a gate-like branch
    ``b`` (N, 1, 4) (GlobalAvgPool1D -> Dense -> act -> Reshape, broadcast
    over the 5 positions); ``a + w b`` -> Tanh -> Flatten -> Dense (2)."""
    x = L.Input(batch_shape=(None, 5, 3), name="x")
    pre_a = L.Dense(kernel=rng.normal(size=(3, 4)), bias=rng.normal(size=4), name="pre_a")(x)
    a = L.ReLU(nonlinear_mxts_mode=mode, name="a")(pre_a)
    pooled = L.GlobalAvgPool1D(name="gap")(x)
    pre_b = L.Dense(kernel=rng.normal(size=(3, 4)), bias=rng.normal(size=4), name="pre_b")(pooled)
    b = L.Tanh(nonlinear_mxts_mode=mode, name="b")(pre_b)
    b3 = L.Reshape((1, 4), name="b3")(b)
    merged = WeightedSum(w, name="m")([a, b3])
    post = L.Tanh(nonlinear_mxts_mode=mode, name="post")(merged)
    flat = L.Flatten(name="flat")(post)
    out = L.Dense(kernel=rng.normal(size=(20, 2)), bias=rng.normal(size=2), name="out")(flat)
    layers = (x, pre_a, a, pooled, pre_b, b, b3, merged, post, flat, out)
    return GraphModel({layer.name: layer for layer in layers}, ["x"])


WEIGHTS = (0.17, -0.6, 0.0, 2.5)


@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("mode", (M.Rescale, M.RevealCancel), ids=lambda m: m.value)
def test_weighted_sum_sums_to_delta_with_nonzero_references(w, mode):
    rng = np.random.default_rng(5)
    model = _residual_graph(rng, w, mode)
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    ref = rng.normal(size=(1, 5, 3)).astype(np.float32)
    predict = model.get_prediction_function(["x"], "out")
    delta = predict([x], batch_size=4) - predict([np.repeat(ref, 4, axis=0)], batch_size=4)
    func = model.get_target_contribs_func(find_scores_layer_name="x",
                                          pre_activation_target_layer_name="out")
    for task in range(2):
        contribs = func(task_idx=task, input_data_list=[x], input_references_list=[ref],
                        batch_size=4)
        total = contribs.reshape(len(x), -1).astype(np.float64).sum(axis=1)
        np.testing.assert_allclose(total, delta[:, task], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("w", WEIGHTS)
def test_weighted_sum_gradient_mode_equals_gradient_tape(w):
    rng = np.random.default_rng(6)
    model = _residual_graph(rng, w, M.Gradient)
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    func = model.get_target_multipliers_func(find_scores_layer_name="x",
                                             pre_activation_target_layer_name="out")
    mxts = func(task_idx=1, input_data_list=[x], input_references_list=[np.zeros_like(x)],
                batch_size=3)
    # Independent: the same function written in plain TensorFlow from the
    # layers' parameters, differentiated by the tape.
    layers = model.get_name_to_layer()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        a = tf.nn.relu(tf.tensordot(xt, layers["pre_a"].kernel, 1) + layers["pre_a"].bias)
        pooled = tf.reduce_mean(xt, axis=1)
        b = tf.tanh(tf.matmul(pooled, layers["pre_b"].kernel) + layers["pre_b"].bias)
        post = tf.tanh(a + w * b[:, None, :])
        out = tf.matmul(tf.reshape(post, (3, 20)), layers["out"].kernel) + layers["out"].bias
        target = out[:, 1]
    predict = model.get_prediction_function(["x"], "out")
    np.testing.assert_allclose(predict([x], batch_size=3), out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mxts, tape.gradient(target, xt).numpy(), rtol=1e-4, atol=1e-6)
