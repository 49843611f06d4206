"""Product of two variable tensors (element-wise with broadcasting, and
einsum): a hand-computed Shapley split, summation-to-delta under every
rule that should conserve, and Gradient mode against tf.GradientTape."""
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift.layers.product import Product
from deeplift.models import GraphModel
from deeplift.modes import NonlinearMxtsMode as M

CONSERVING = (M.Rescale, M.RevealCancel)


def _contribs(model, scored, target, inputs, refs, task=0, kind="contribs"):
    get = (model.get_target_contribs_func if kind == "contribs"
           else model.get_target_multipliers_func)
    func = get(find_scores_layer_name=scored, pre_activation_target_layer_name=target)
    return func(task_idx=task, input_data_list=inputs, input_references_list=refs,
                batch_size=4)


def test_elementwise_hand_computed_shapley_split():
    a_in, b_in = L.Input(batch_shape=(None, 2), name="a"), L.Input(batch_shape=(None, 2), name="b")
    prod = Product(name="prod")([a_in, b_in])
    out = L.Dense(kernel=np.ones((2, 1)), bias=np.zeros(1), name="out")(prod)
    model = GraphModel({"a": a_in, "b": b_in, "prod": prod, "out": out}, ["a", "b"])
    a, b = np.array([[2.0, 3.0]]), np.array([[4.0, -1.0]])
    a0, b0 = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    c_a, c_b = _contribs(model, ["a", "b"], "out", [a, b], [a0, b0])
    # C_a = (a - a0)(b + b0)/2, C_b = (b - b0)(a + a0)/2, by hand:
    np.testing.assert_allclose(c_a, [[1 * 2.0, 3 * 0.0]], atol=1e-6)
    np.testing.assert_allclose(c_b, [[4 * 1.5, -2 * 1.5]], atol=1e-6)
    assert np.isclose(c_a.sum() + c_b.sum(), (a * b).sum() - (a0 * b0).sum())
    m_a, m_b = _contribs(model, ["a", "b"], "out", [a, b], [a0, b0], kind="mxts")
    np.testing.assert_allclose(m_a, (b + b0) / 2, atol=1e-6)
    np.testing.assert_allclose(m_b, (a + a0) / 2, atol=1e-6)


def _product(equation, mode, name):
    return Product(equation, nonlinear_mxts_mode=mode, name=name)


def _gated_conv_graph(rng, mode):
    """Sequence -> Dense -> (ReLU) features; GlobalAvgPool -> Dense ->
    Sigmoid gate (N, 1, C) broadcast over positions; Product -> act ->
    Flatten -> Dense target (2 units)."""
    x = L.Input(batch_shape=(None, 5, 3), name="x")
    feat = L.Dense(kernel=rng.normal(size=(3, 4)), bias=rng.normal(size=4), name="feat")(x)
    act = L.ReLU(nonlinear_mxts_mode=mode, name="act")(feat)
    pooled = L.GlobalAvgPool1D(name="gap")(act)
    gate_pre = L.Dense(kernel=rng.normal(size=(4, 4)), bias=rng.normal(size=4), name="gp")(pooled)
    gate = L.Sigmoid(nonlinear_mxts_mode=mode, name="gate")(gate_pre)
    gate3 = L.Reshape((1, 4), name="g3")(gate)
    prod = _product(None, mode, "prod")([act, gate3])
    post = L.Tanh(nonlinear_mxts_mode=mode, name="post")(prod)
    flat = L.Flatten(name="fl")(post)
    out = L.Dense(kernel=rng.normal(size=(20, 2)), bias=rng.normal(size=2), name="out")(flat)
    layers = {l.name: l for l in (x, feat, act, pooled, gate_pre, gate, gate3, prod, post,
                                  flat, out)}
    return GraphModel(layers, ["x"]), (5, 3)


def _attention_graph(rng, mode):
    """Queries and keys from one sequence, scores = einsum('bqd,bkd->bqk'),
    act, then values weighted by einsum('bqk,bkd->bqd'), Flatten, Dense."""
    x = L.Input(batch_shape=(None, 4, 3), name="x")
    q = L.Dense(kernel=rng.normal(size=(3, 2)), name="q")(x)
    k = L.Dense(kernel=rng.normal(size=(3, 2)), name="k")(x)
    v = L.Dense(kernel=rng.normal(size=(3, 2)), name="v")(x)
    scores = _product("bqd,bkd->bqk", mode, "scores")([q, k])
    weights = L.Sigmoid(nonlinear_mxts_mode=mode, name="w")(scores)
    mixed = _product("bqk,bkd->bqd", mode, "mixed")([weights, v])
    flat = L.Flatten(name="fl")(mixed)
    out = L.Dense(kernel=rng.normal(size=(8, 2)), bias=rng.normal(size=2), name="out")(flat)
    layers = {l.name: l for l in (x, q, k, v, scores, weights, mixed, flat, out)}
    return GraphModel(layers, ["x"]), (4, 3)


GRAPHS = {"gated": _gated_conv_graph, "attention": _attention_graph}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("mode", CONSERVING, ids=lambda m: m.value)
def test_sums_to_delta_with_nonzero_references(graph, mode):
    rng = np.random.default_rng(7)
    model, shape = GRAPHS[graph](rng, mode)
    x = rng.normal(size=(6,) + shape).astype(np.float32)
    ref = rng.normal(size=(6,) + shape).astype(np.float32)
    predict = model.get_prediction_function(["x"], "out")
    delta = predict([x], batch_size=6) - predict([ref], batch_size=6)
    for task in range(2):
        contribs = _contribs(model, "x", "out", [x], [ref], task=task)
        total = contribs.reshape(len(x), -1).astype(np.float64).sum(axis=1)
        np.testing.assert_allclose(total, delta[:, task], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_gradient_mode_equals_gradient_tape(graph):
    rng = np.random.default_rng(3)
    model, shape = GRAPHS[graph](rng, M.Gradient)
    x = rng.normal(size=(3,) + shape).astype(np.float32)
    mxts = _contribs(model, "x", "out", [x], [np.zeros_like(x)], task=1, kind="mxts")
    predict = model.get_prediction_function(["x"], "out")
    # An independent forward pass: the model's own layers applied eagerly
    # under a tape (forward() is plain TensorFlow).
    layers = model.get_name_to_layer()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        values = {"x": xt}
        for name, layer in layers.items():
            if name != "x":
                values[name] = layer.forward([values[p.name] for p in layer.input_layers()])
        target = values["out"][:, 1]
    np.testing.assert_allclose(values["out"].numpy(), predict([x], batch_size=3), rtol=1e-5)
    np.testing.assert_allclose(mxts, tape.gradient(target, xt).numpy(), rtol=1e-4, atol=1e-6)


def test_batch_size_invariance_two_streams():
    rng = np.random.default_rng(11)
    model, shape = _gated_conv_graph(rng, M.RevealCancel)
    x = rng.normal(size=(5,) + shape).astype(np.float32)
    func = model.get_target_contribs_func(find_scores_layer_name="x",
                                          pre_activation_target_layer_name="out")
    whole = func(task_idx=0, input_data_list=[x], batch_size=5, input_references_list=[0.0])
    ones = func(task_idx=0, input_data_list=[x], batch_size=1, input_references_list=[0.0])
    np.testing.assert_allclose(whole, ones, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("equation, why", [
    ("bqd,bkd", "explicit"),
    ("bqd,bkd,bk->bq", "operand"),
    ("bqq,bkd->bqk", "distinct"),
    ("bqd,bkd->bk", "one operand only"),
    ("...d,...d->...", "ellipsis"),
])
def test_bad_equation_is_refused_with_the_layer_name(equation, why):
    with pytest.raises(ValueError, match=f"'named'.*{why}"):
        Product(equation, name="named")


def test_needs_exactly_two_inputs():
    inputs = [L.Input(batch_shape=(None, 2)) for _ in range(3)]
    with pytest.raises(TypeError, match="exactly two"):
        Product(name="p")(inputs)
