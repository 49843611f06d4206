"""The layer graph (``deeplift.graph``): topological order, cycles and
unconnected layers, shape inference, the eager ``ForwardPass`` (parts sum to
the difference from reference for every layer kind), multiplier
accumulation over several consumers, layers off the target's path, and the
symbolic handles."""
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift.layers.product import Product
from deeplift import graph
from deeplift.layers.base import SymbolicVar
from deeplift.models import GraphModel
from deeplift.modes import NonlinearMxtsMode as M
from deeplift.util import compile_func


def _diamond():
    inp = L.Input(batch_shape=(None, 3), name="inp")
    left = L.Dense(kernel=np.eye(3), bias=np.zeros(3), name="left")(inp)
    right = L.ReLU(name="right")(inp)
    add = L.Add(name="add")([left, right])
    return inp, left, right, add


def test_topological_order_parents_first_each_layer_once():
    inp, left, right, add = _diamond()
    order = graph.topological_order([add])
    assert len(order) == 4 and len({id(x) for x in order}) == 4
    pos = {layer.name: i for i, layer in enumerate(order)}
    assert pos["inp"] < pos["left"] < pos["add"] and pos["inp"] < pos["right"] < pos["add"]
    assert graph.input_layers_of([add]) == [inp]
    assert {x.name for x in graph.descendants([left])} == {"left", "add"}


def test_cycle_and_unconnected_layer_errors():
    a = L.NoOp(name="a")
    b = L.NoOp(name="b")(a)
    a.set_inputs(b)
    with pytest.raises(ValueError) as err:
        graph.topological_order([b])
    assert "cycle" in str(err.value)
    lonely = L.Dense(kernel=np.ones((2, 1)), name="lonely")
    with pytest.raises(ValueError) as err:
        graph.topological_order([lonely])
    assert "lonely" in str(err.value) and "set_inputs" in str(err.value)


def test_set_inputs_rewires_consumers():
    a, b = L.Input(batch_shape=(None, 2)), L.Input(batch_shape=(None, 2))
    relu = L.ReLU()(a)
    assert relu in a.get_output_layers()
    relu.set_inputs(b)
    assert relu not in a.get_output_layers() and relu in b.get_output_layers()
    with pytest.raises(TypeError):
        a.set_inputs(b)
    with pytest.raises(TypeError):
        L.ReLU().set_inputs("not a layer")


@pytest.mark.parametrize("make, shape", [
    (lambda i: L.Conv1D(kernel=np.ones((3, 2, 4)), padding="same", stride=2)(i), (None, 5, 4)),
    (lambda i: L.Conv1D(kernel=np.ones((3, 2, 4)), dilation_rate=2)(i), (None, 5, 4)),
    (lambda i: L.MaxPool1D(pool_length=3, stride=2)(i), (None, 4, 2)),
    (lambda i: L.AvgPool1D(pool_length=2, padding="same")(i), (None, 5, 2)),
    (lambda i: L.GlobalAvgPool1D()(i), (None, 2)),
    (lambda i: L.Concat(axis=1)([i, i]), (None, 18, 2)),
    (lambda i: L.Flatten()(L.Cropping1D(cropping=(1, 3))(i)), (None, 10)),
    (lambda i: L.ZeroPadding1D(padding=(2, 0))(i), (None, 11, 2)),
])
def test_shape_inference(make, shape):
    assert make(L.Input(batch_shape=(None, 9, 2))).get_shape() == shape


def test_input_validation():
    with pytest.raises(ValueError):
        L.Input(batch_shape=(None,))
    with pytest.raises(TypeError):
        L.Input(batch_shape=5)
    with pytest.raises(ValueError) as err:
        SymbolicVar(L.Input(batch_shape=(None, 2)), "bogus")
    assert "bogus" in str(err.value) and "mxts" in str(err.value)
    inp = L.Input(batch_shape=(None, 2))
    assert inp.get_mxts() == SymbolicVar(inp, "mxts")
    assert hash(inp.get_mxts()) == hash(SymbolicVar(inp, "mxts"))
    assert inp.get_mxts() != inp.get_pos_mxts()


def _every_kind_graph():
    """One graph holding most layer kinds, for the eager ForwardPass checks."""
    rng = np.random.default_rng(3)
    inp = L.Input(batch_shape=(None, 6, 2))
    conv = L.Conv1D(kernel=rng.normal(size=(2, 2, 3)), bias=rng.normal(size=3), padding="same")(inp)
    bn = L.BatchNormalization(gamma=[-1.0, 2.0, 0.5], beta=[0.1, 0, 0], mean=[0, 0.5, 0],
                              var=[1, 1, 2])(conv)
    acts = [cls(nonlinear_mxts_mode=mode)(bn) for cls, mode in (
        (L.ReLU, M.Rescale), (L.Sigmoid, M.RevealCancel), (L.Tanh, M.Gradient),
        (L.ELU, M.GuidedBackprop), (L.Softplus, M.DeconvNet), (L.PReLU, M.RevealCancel),
        (L.HardSigmoid, M.PassThrough))]
    mp = L.MaxPool1D(pool_length=2)(acts[0])
    ap = L.AvgPool1D(pool_length=2)(acts[1])
    cat = L.Concat(axis=-1)([mp, ap])
    pad = L.ZeroPadding1D(padding=1)(cat)
    crop = L.Cropping1D(cropping=(0, 1))(pad)
    add = L.Add()(acts[2:5])
    gmp = L.GlobalMaxPool1D()(add)
    gap = L.GlobalAvgPool1D()(acts[5])
    flat = L.Flatten()(crop)
    noop = L.NoOp()(acts[6])
    dense = L.Dense(kernel=rng.normal(size=(24, 2)), bias=rng.normal(size=2))(flat)
    return inp, [conv, bn, *acts, mp, ap, cat, pad, crop, add, gmp, gap, flat, noop, dense]


def test_forward_pass_parts_sum_to_difference_for_every_layer_kind():
    inp, layers = _every_kind_graph()
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(3, 6, 2)), tf.float32)
    ref = tf.constant(rng.normal(size=(1, 6, 2)), tf.float32)
    fp = graph.ForwardPass({inp: (x, ref)}, graph.resolve_modes(graph.topological_order(layers)))
    for layer in [inp] + layers:
        pos, neg = fp.parts(layer)
        diff = fp.diff(layer).numpy()
        np.testing.assert_allclose(pos.numpy() + neg.numpy(), diff, rtol=1e-5, atol=1e-5,
                                   err_msg=type(layer).__name__)
        np.testing.assert_allclose(fp.act(layer).numpy() - fp.ref(layer).numpy(), diff, atol=1e-6)
    # input parts are the sign split
    pos, neg = fp.parts(inp)
    dx = (x - ref).numpy()
    np.testing.assert_array_equal(pos.numpy(), np.maximum(dx, 0))
    np.testing.assert_array_equal(neg.numpy(), np.minimum(dx, 0))


def test_multipliers_accumulate_over_consumers_by_hand():
    # inp feeds Dense A (a = (1, 2)), Dense B (b = (3, -1)) and, twice, an Add
    # with itself -> target = A + B + 2 * sum(inp)... via Concat + Dense(ones).
    inp = L.Input(batch_shape=(None, 2), name="inp")
    da = L.Dense(kernel=[[1.0], [2.0]], bias=[0.0], name="da")(inp)
    db = L.Dense(kernel=[[3.0], [-1.0]], bias=[0.0], name="db")(inp)
    twice = L.Add(name="twice")([inp, inp])
    cat = L.Concat(axis=-1, name="cat")([da, db, twice])
    out = L.Dense(kernel=np.ones((4, 1)), bias=[0.0], name="out")(cat)
    model = GraphModel({l.name: l for l in (inp, da, db, twice, cat, out)}, ["inp"])
    mult = model.get_target_multipliers_func("inp", "out")(0, [np.array([[1.0, -2.0]])],
                                                         input_references_list=[0.0])
    # 1 + 3 + 2 = 6 and 2 - 1 + 2 = 3
    np.testing.assert_allclose(mult, [[6.0, 3.0]])


def test_layers_off_the_target_path_get_zero_multipliers():
    inp = L.Input(batch_shape=(None, 2))
    used = L.Dense(kernel=[[1.0], [1.0]], bias=[0.0])(inp)
    unused = L.Dense(kernel=[[5.0], [5.0]], bias=[0.0])(inp)
    used.set_scoring_mode("OneAndZeros")
    fn = compile_func([inp.get_activation_vars(), inp.get_reference_vars()],
                      [unused.get_mxts(), inp.get_mxts()])
    used.set_active()
    used.update_task_index(0)
    m_unused, m_inp = fn([np.ones((2, 2)), np.zeros((1, 2))])
    np.testing.assert_array_equal(m_unused, np.zeros((2, 1)))
    np.testing.assert_allclose(m_inp, np.ones((2, 2)))


def test_missing_input_is_named():
    a, b = L.Input(batch_shape=(None, 2), name="a"), L.Input(batch_shape=(None, 2), name="b")
    add = L.Add()([a, b])
    with pytest.raises(ValueError) as err:
        compile_func([a.get_activation_vars()], add.get_activation_vars())
    assert "'b'" in str(err.value)


def test_check_can_be_target_and_resolve_modes():
    inp, left, right, add = _diamond()
    with pytest.raises(ValueError) as err:
        graph.check_can_be_target(right)
    assert "right" in str(err.value) and "inp" in str(err.value)
    graph.check_can_be_target(add)
    gd = L.ReLU(nonlinear_mxts_mode=M.DeepLIFT_GenomicsDefault)(left)
    modes = graph.resolve_modes(graph.topological_order([gd]))
    assert modes == {id(gd): M.RevealCancel}


# ---------------------------------------------------------------------------
# the guard: RevealCancel that sees a gradient-mode max pool's output
# ---------------------------------------------------------------------------

def _pool_then(through: str, pool_mode="gradient", act_mode=M.RevealCancel):
    """Conv -> ReLU -> MaxPool('mp') -> <through> -> ReLU('rc') -> Flatten ->
    Dense('out'); ``through`` is bn, add, concat or dense."""
    rng = np.random.default_rng(0)
    inp = L.Input(batch_shape=(None, 8, 2), name="inp")
    conv = L.Conv1D(kernel=rng.normal(size=(3, 2, 2)), bias=np.zeros(2), padding="same",
                    name="conv")(inp)
    relu = L.ReLU(nonlinear_mxts_mode=M.Rescale, name="relu")(conv)
    mp = L.MaxPool1D(pool_length=2, maxpool_deeplift_mode=pool_mode, name="mp")(relu)
    if through == "bn":
        mid = L.BatchNormalization(gamma=[1.0, -2.0], beta=[0.0, 0.1], mean=[0.1, 0.0],
                                   var=[1.0, 2.0], name="bn")(mp)
    elif through == "add":
        other = L.AvgPool1D(pool_length=2, name="ap")(relu)
        mid = L.Add(name="add")([L.ZeroPadding1D(padding=0, name="zp")(mp), other])
    elif through == "concat":
        other = L.AvgPool1D(pool_length=2, name="ap")(relu)
        mid = L.Concat(axis=-1, name="cat")([other, L.NoOp(name="drop")(mp)])
    else:
        mid = L.Reshape((4, 2), name="rs")(L.Dense(kernel=rng.normal(size=(2, 2)), name="dense")(mp))
    rc = L.ReLU(nonlinear_mxts_mode=act_mode, name="rc")(mid)
    flat = L.Flatten(name="flat")(rc)
    out = L.Dense(kernel=rng.normal(size=(int(np.prod(flat.get_shape()[1:])), 1)), name="out")(flat)
    layers = [inp, conv, relu, mp, mid, rc, flat, out]
    return GraphModel({l.name: l for l in layers}, ["inp"])


@pytest.mark.parametrize("through, path", [("bn", "'bn'"), ("add", "'add' -> 'zp'"),
                                           ("concat", "'cat' -> 'drop'")])
def test_reveal_cancel_through_routing_layers_after_a_gradient_max_pool_is_refused(through, path):
    model = _pool_then(through)
    with pytest.raises(ValueError) as err:
        model.get_target_contribs_func("inp", "out")
    msg = str(err.value)
    assert "'rc'" in msg and "'mp'" in msg and "RevealCancel" in msg
    assert f"through {path}" in msg
    assert "maxpool_deeplift_mode='cross_max'" in msg and "Rescale" in msg
    # the fixes: cross_max pools, or Rescale on the nonlinearity
    _pool_then(through, pool_mode="cross_max").get_target_contribs_func("inp", "out")
    _pool_then(through, act_mode=M.Rescale).get_target_contribs_func("inp", "out")


def test_dense_between_max_pool_and_reveal_cancel_is_allowed_and_genomics_default_named():
    _pool_then("dense").get_target_contribs_func("inp", "out")
    # GenomicsDefault resolving to RevealCancel is reported as such
    inp = L.Input(batch_shape=(None, 4, 1))
    mp = L.MaxPool1D(pool_length=2, name="mp")(inp)
    flat = L.Flatten()(mp)
    dense = L.Dense(kernel=np.ones((2, 2)), name="d")(flat)
    bn = L.BatchNormalization(gamma=[1.0, 1.0], beta=[0.0, 0.0], mean=[0.0, 0.0], var=[1.0, 1.0])(dense)
    act = L.ReLU(nonlinear_mxts_mode=M.DeepLIFT_GenomicsDefault, name="gd")(bn)
    assert graph.gradient_max_pool_feeding(act) is None   # the Dense ends the search
    assert graph.resolve_modes([act])[id(act)] == M.RevealCancel
    rc = L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="rc2")(L.Flatten()(mp))
    pool, path = graph.gradient_max_pool_feeding(rc)
    assert pool is mp and [l.name for l in path] == [rc.inputs.name]


def test_product_between_max_pool_and_reveal_cancel_ends_the_search():
    """A product of two variable tensors splits by the sign of its inputs'
    differences and sends them one multiplier stream, like a Dense layer:
    RevealCancel above it is allowed; an Add in the same place is not."""
    inp = L.Input(batch_shape=(None, 4, 1))
    mp = L.MaxPool1D(pool_length=2, name="mp")(inp)
    gated = Product(name="prod")([mp, mp])
    act = L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="rc")(gated)
    assert graph.gradient_max_pool_feeding(act) is None
    summed = L.Add(name="add")([mp, mp])
    blocked = L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="rc_add")(summed)
    pool, path = graph.gradient_max_pool_feeding(blocked)
    assert pool is mp and [l.name for l in path] == ["add"]
