"""The nonlinear rule table (``deeplift.rules.NONLINEAR_RULES``).

* a coverage test: every registered mode (and every enum member) has a case
  in ``MODE_CASES``, so a new rule without a test fails;
* per mode, the multipliers through one nonlinearity equal the formula of
  SEMANTICS.md computed in numpy (``helpers.np_deeplift``), with both
  multiplier streams arriving (BatchNormalization with negative scales and a
  RevealCancel layer downstream);
* summation to delta for Rescale, RevealCancel and DeepLIFT_GenomicsDefault on
  seeded random deep graphs (Keras twins give t(x) - t(x0)), with zero,
  per-example and shared references, and through max pools whose windows
  see a constant reference;
* Gradient == tf.GradientTape on the Keras twin; Rescale with zero reference
  and zero biases on a ReLU net == gradient x input; GuidedBackprop and
  DeconvNet against numpy; GenomicsDefault == explicitly-moded twins, and its
  errors; unknown mode strings.
"""
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift import rules
from deeplift.models import SequentialModel
from deeplift.modes import NonlinearMxtsMode as M
from helpers import (NP_ACTS, RANDOM_GRAPHS, Twin, assert_sums_to_delta, chain,
                     compare_branches, graph_maxpool, linear_matrix, np_conv, op_act,
                     op_linear, op_scale, random_inputs)

# ---------------------------------------------------------------------------
# one nonlinearity, every mode
# ---------------------------------------------------------------------------

ACT_CLASSES = {"relu": L.ReLU, "tanh": L.Tanh, "sigmoid": L.Sigmoid}


def _bn(rng, c):
    gamma = rng.uniform(0.5, 2.0, size=c) * np.where(np.arange(c) % 2 == 0, -1.0, 1.0)
    mean, var, beta = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c), rng.normal(size=c)
    s = gamma / np.sqrt(var + 1e-3)
    return (L.BatchNormalization(gamma=gamma, beta=beta, mean=mean, var=var, epsilon=1e-3),
            op_scale(s, beta - mean * s))


def _single_nonlinearity_cases(rng, mode, kinds):
    """Input(6) -> act(mode) -> BN (negative scales) -> ReLU(RevealCancel) ->
    Dense: the act under test receives m+ != m-."""
    cases = []
    for kind in kinds:
        f, g = NP_ACTS[kind]
        ref = rng.normal(size=(1, 6))
        dx = rng.choice([-1.0, 1.0], size=(4, 6)) * rng.uniform(0.2, 2.0, size=(4, 6))
        dx[:, 0] = 0.0  # exact zero: the f'(x0) fallback
        bn, bn_op = _bn(rng, 6)
        W, b = rng.normal(size=(6, 3)), rng.normal(size=3)
        fr, gr = NP_ACTS["relu"]
        layers = chain(L.Input(batch_shape=(None, 6)), ACT_CLASSES[kind](nonlinear_mxts_mode=mode),
                       bn, L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.Dense(kernel=W, bias=b))
        ops = [op_act(f, g, mode), bn_op, op_act(fr, gr, M.RevealCancel), op_linear(W.T, b)]
        cases.append((kind, layers, ops, ref + dx, ref))
    return cases


# One activation kind per mode keeps compiling cheap; together they cover
# ReLU's kink, saturating and odd functions.
FORMULA_KIND = {M.Gradient: "tanh", M.Rescale: "tanh", M.RevealCancel: "relu",
                M.GuidedBackprop: "relu", M.GuidedBackpropRescale: "sigmoid",
                M.DeconvNet: "tanh", M.PassThrough: "relu"}


def _check_formula(rng, mode):
    cases = _single_nonlinearity_cases(rng, mode, kinds=(FORMULA_KIND[mode],))
    results = compare_branches(cases, task=0, atol=2e-5, rtol=2e-4)
    for kind, (lib, _) in results.items():
        # the two streams really differ where the act under test sends them
        assert np.abs(lib[1]["pos_mxts"] - lib[1]["neg_mxts"]).max() > 1e-3, kind


def _check_genomics_default(rng, mode):
    """GenomicsDefault resolves to RevealCancel after Dense (through NoOp)
    and to Rescale after a convolution (through BatchNormalization)."""
    assert mode == M.DeepLIFT_GenomicsDefault
    fr, gr = NP_ACTS["relu"]
    ft, gt = NP_ACTS["tanh"]
    # Dense path: every hidden unit has mixed-sign parts (see test_dense.py).
    W1 = rng.normal(size=(3, 4))
    W1[0], W1[1] = np.abs(W1[0]) + 0.1, -np.abs(W1[1]) - 0.1
    b1, W2, b2 = rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)
    ref = rng.normal(size=(3, 3))
    x = ref + np.abs(rng.normal(size=(3, 3))) + 0.1
    dense_case = ("dense", chain(L.Input(batch_shape=(None, 3)), L.Dense(kernel=W1, bias=b1),
                                 L.NoOp(), L.ReLU(nonlinear_mxts_mode=mode),
                                 L.Dense(kernel=W2, bias=b2)),
                  [op_linear(W1.T, b1), None, op_act(fr, gr, M.RevealCancel), op_linear(W2.T, b2)],
                  x, ref)
    # Conv path: Conv1D -> BN -> Tanh(GD) = Rescale
    K, cb = rng.normal(size=(2, 2, 2)), rng.normal(size=2)
    J, _ = linear_matrix(lambda v: np_conv(v, K), (4, 2))
    bn, bn_op = _bn(rng, 2)
    bn_op = op_scale(np.tile(bn_op["s"], 3), np.tile(bn_op["shift"], 3))
    W3, b3 = rng.normal(size=(6, 2)), rng.normal(size=2)
    ref = rng.normal(size=(1, 4, 2))
    conv_case = ("conv", chain(L.Input(batch_shape=(None, 4, 2)), L.Conv1D(kernel=K, bias=cb), bn,
                               L.Tanh(nonlinear_mxts_mode=mode), L.Flatten(),
                               L.Dense(kernel=W3, bias=b3)),
                 [op_linear(J, np.tile(cb, 3)), bn_op, op_act(ft, gt, M.Rescale), None,
                  op_linear(W3.T, b3)],
                 ref + rng.normal(size=(3, 4, 2)), ref)
    compare_branches([dense_case, conv_case], task=1)


MODE_CASES = {
    M.Gradient: _check_formula,
    M.Rescale: _check_formula,
    M.RevealCancel: _check_formula,
    M.GuidedBackprop: _check_formula,
    M.GuidedBackpropRescale: _check_formula,
    M.DeconvNet: _check_formula,
    M.PassThrough: _check_formula,
    M.DeepLIFT_GenomicsDefault: _check_genomics_default,
}


def test_every_registered_rule_and_mode_has_a_test_case():
    missing = [m.value for m in rules.NONLINEAR_RULES if m not in MODE_CASES]
    assert not missing, f"rules without a test case in MODE_CASES: {missing}"
    missing = [m.value for m in M if m not in MODE_CASES]
    assert not missing, f"NonlinearMxtsMode members without a test case: {missing}"


@pytest.mark.parametrize("mode", sorted(MODE_CASES, key=lambda m: m.value), ids=lambda m: m.value)
def test_rule_multipliers_match_numpy_formula(rng, mode):
    MODE_CASES[mode](rng, mode)


def test_register_rule_replaces_one_entry_and_is_used(rng):
    """A new rule lands in one place: replacing PassThrough's multipliers
    with "twice the multiplier" changes the scores accordingly."""
    original = rules.NONLINEAR_RULES[M.PassThrough]
    try:
        rules.register_rule(M.PassThrough, lambda layer, fp, pos, neg: (2 * pos, 2 * neg))
        layers = chain(L.Input(batch_shape=(None, 2)), L.ReLU(nonlinear_mxts_mode="PassThrough"),
                       L.Dense(kernel=[[1.0], [3.0]], bias=[0.0]))
        func = SequentialModel(layers).get_target_multipliers_func(0, -1)
        np.testing.assert_allclose(func(0, [np.ones((1, 2))], input_references_list=[0.0]),
                                   [[2.0, 6.0]])
    finally:
        rules.NONLINEAR_RULES[M.PassThrough] = original


# ---------------------------------------------------------------------------
# summation to delta on random deep graphs
# ---------------------------------------------------------------------------

# (graph, mode, seed): every mode on at least one graph; together the graphs
# hold Conv1D/2D/3D (dilated, strided, same/valid), BatchNormalization with
# negative scales, Add (residual), Concat, AvgPool, GlobalAvgPool, padding,
# cropping, NoOp, two inputs, and random activations (ReLU, PReLU scalar and
# array, ELU, Sigmoid, Tanh, Softplus). RevealCancel graphs are the slowest
# to compile, hence the selection.
SUM_TO_DELTA = [
    ("1d_residual", M.RevealCancel, 12),
    ("1d_residual", M.DeepLIFT_GenomicsDefault, 13),
    ("2d_concat", M.DeepLIFT_GenomicsDefault, 22),
    ("3d", M.Rescale, 31),
    ("two_inputs", M.RevealCancel, 41),
]
# Per-example references are a second input shape (a second graph
# optimisation in TensorFlow), so only some graphs get them; every graph gets
# a zero and a shared non-zero reference.
PER_EXAMPLE_REFERENCES = {("1d_residual", M.RevealCancel), ("2d_concat", M.DeepLIFT_GenomicsDefault),
                          ("two_inputs", M.RevealCancel)}


def _check_sums_to_delta(twin, info, refs_by_kind, xs, model=None):
    model = model or twin.graph_model()
    func = model.get_target_contribs_func(info["inputs"], info["target"])
    keras_model = twin.keras_model(info["target"])
    n = len(xs[0])
    out_x = np.asarray(keras_model([x.astype(np.float32) for x in xs], training=False))
    tasks = list(range(info["num_tasks"]))
    for kind, refs in refs_by_kind.items():
        full_refs = [np.broadcast_to(np.asarray(r, np.float32), x.shape) for r, x in zip(refs, xs)]
        out_ref = np.asarray(keras_model(full_refs, training=False))
        # one batch: each new input shape costs TensorFlow a graph optimisation
        per_task = func(tasks, xs, input_references_list=refs)
        assert len(per_task) == len(tasks)
        for task, contribs in zip(tasks, per_task):
            assert [c.shape for c in contribs] == [x.shape for x in xs]
            try:
                assert_sums_to_delta(contribs, out_x, out_ref, task)
            except AssertionError as err:
                raise AssertionError(f"reference {kind}, task {task}: {err}") from None
    assert n == len(out_x)


@pytest.mark.parametrize("graph, mode, seed", SUM_TO_DELTA,
                         ids=[f"{g}-{m.value}" for g, m, _ in SUM_TO_DELTA])
def test_sums_to_delta_on_random_graphs(graph, mode, seed):
    rng = np.random.default_rng(seed)
    twin, info = RANDOM_GRAPHS[graph](rng, mode)
    xs = random_inputs(rng, twin, info["inputs"], 6)
    refs = {
        "zero": [0.0 for _ in xs],
        "shared": [rng.normal(size=(1,) + x.shape[1:]) for x in xs],
    }
    if (graph, mode) in PER_EXAMPLE_REFERENCES:
        refs["per_example"] = [rng.normal(size=x.shape) for x in xs]
    _check_sums_to_delta(twin, info, refs, xs)


@pytest.mark.parametrize("rank, mode", [(1, M.RevealCancel), (2, M.Rescale), (3, M.Rescale)])
def test_sums_to_delta_through_max_pools_with_window_constant_reference(rank, mode):
    rng = np.random.default_rng(100 + rank)
    twin, info = graph_maxpool(rng, mode, rank)
    xs = random_inputs(rng, twin, info["inputs"], 5)
    shape = xs[0].shape
    # constant along the spatial axes -> constant in every pool window
    channel_ref = rng.normal(size=shape[-1])
    refs = {"zero": [0.0], "per_channel": [np.broadcast_to(channel_ref, shape[1:])]}
    _check_sums_to_delta(twin, info, refs, xs)


# ---------------------------------------------------------------------------
# gradient-type rules against independent computations
# ---------------------------------------------------------------------------

def _gradient_twin(rng, mode, zero_bias=False, kinds=("elu", "softmax", "hard_sigmoid", "tanh")):
    t = Twin(rng)
    t.input("x", (8, 3))
    t.conv("c1", "x", 4, 3, padding="same", bias=not zero_bias)
    if not zero_bias:
        t.bn("bn", "c1")
        t.act("a1", "bn", kinds[0], mode)
    else:
        t.act("a1", "c1", kinds[0], mode)
    t.pool("mp", "a1", "max", 2)
    t.conv("c2", "mp", 3, 2, bias=not zero_bias)
    t.act("a2", "c2", kinds[3], mode)
    t.pool("ap", "a2", "avg", 2, strides=1, padding="same")
    t.flatten("fl", "ap")
    t.dense("d1", "fl", 5, bias=not zero_bias)
    t.act("a3", "d1", kinds[1], mode)
    t.dense("d2", "a3", 4, bias=not zero_bias)
    t.act("a4", "d2", kinds[2], mode)
    t.dense("out", "a4", 3, bias=not zero_bias)
    return t


def _tape_gradient(twin, x, task):
    model = twin.keras_model("out")
    xt = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = model(xt, training=False)[:, task]
    return tape.gradient(out, xt).numpy()


def test_gradient_mode_equals_gradient_tape_on_keras_twin(rng):
    """Every nonlinearity in Gradient mode (incl. an intermediate softmax,
    hard sigmoid, ELU after BatchNormalization, max and average pools):
    multipliers == d out[task] / d x by tf.GradientTape on the Keras model."""
    twin = _gradient_twin(rng, M.Gradient)
    x = rng.normal(size=(5, 8, 3)).astype(np.float32)
    func = twin.graph_model().get_target_multipliers_func("x", "out")
    got = func([0, 2], [x], input_references_list=[rng.normal(size=(5, 8, 3))])
    for task, mult in zip([0, 2], got):
        np.testing.assert_allclose(mult, _tape_gradient(twin, x, task), rtol=1e-4, atol=1e-6)


def test_rescale_zero_reference_zero_bias_relu_net_is_gradient_times_input(rng):
    twin = _gradient_twin(rng, M.Rescale, zero_bias=True, kinds=("relu",) * 4)
    x = rng.normal(size=(5, 8, 3)).astype(np.float32)
    model = twin.graph_model()
    contribs = model.get_target_contribs_func("x", "out")(1, [x], input_references_list=[0.0])
    mults = model.get_target_multipliers_func("x", "out")(1, [x], input_references_list=[0.0])
    grad = _tape_gradient(twin, x, 1)
    np.testing.assert_allclose(mults, grad, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(contribs, grad * x, rtol=1e-4, atol=1e-6)


def test_guided_backprop_and_deconvnet_match_numpy_on_relu_net(rng):
    """Input(5) -> Dense -> ReLU -> Dense -> ReLU -> Dense; numpy:
    GuidedBackprop m_in = 1[x > 0] * 1[m > 0] * m, DeconvNet m_in = relu(m)."""
    f, g = NP_ACTS["relu"]
    W1, b1 = rng.normal(size=(5, 6)), rng.normal(size=6)
    W2, b2 = rng.normal(size=(6, 4)), rng.normal(size=4)
    W3, b3 = rng.normal(size=(4, 2)), rng.normal(size=2)
    x, ref = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    cases = []
    for mode in (M.GuidedBackprop, M.DeconvNet):
        layers = chain(L.Input(batch_shape=(None, 5)), L.Dense(kernel=W1, bias=b1),
                       L.ReLU(nonlinear_mxts_mode=mode), L.Dense(kernel=W2, bias=b2),
                       L.ReLU(nonlinear_mxts_mode=mode), L.Dense(kernel=W3, bias=b3))
        ops = [op_linear(W1.T, b1), op_act(f, g, mode), op_linear(W2.T, b2), op_act(f, g, mode),
               op_linear(W3.T, b3)]
        cases.append((mode.value, layers, ops, x, ref))
    results = compare_branches(cases, task=1, quantities=("act", "mxts"))
    # independent restatement for the input multipliers, by plain numpy
    h1 = x @ W1 + b1
    h2 = np.maximum(h1, 0) @ W2 + b2
    m2 = W3[:, 1]
    gb_m1 = ((h2 > 0) * (m2 > 0) * m2) @ W2.T
    gb_m0 = ((h1 > 0) * (gb_m1 > 0) * gb_m1) @ W1.T
    np.testing.assert_allclose(results["GuidedBackprop"][0][0]["mxts"], gb_m0, rtol=1e-4, atol=1e-6)
    dc_m1 = np.maximum(m2, 0) @ W2.T
    dc_m0 = np.maximum(dc_m1, 0) @ W1.T
    np.testing.assert_allclose(results["DeconvNet"][0][0]["mxts"],
                               np.broadcast_to(dc_m0, x.shape), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------
# DeepLIFT_GenomicsDefault
# ---------------------------------------------------------------------------

def _genomics_net(modes, seed=5):
    """Conv1D -> BN -> ReLU(modes[0]) -> Flatten -> Dense -> NoOp ->
    ELU(modes[1]) -> Dense -> BN -> Sigmoid(modes[2]) -> Dense."""
    rng = np.random.default_rng(seed)
    t = Twin(rng)
    t.input("seq", (8, 4))
    t.conv("c1", "seq", 3, 3)
    t.bn("bn1", "c1")
    t.act("r1", "bn1", "relu", modes[0])
    t.flatten("fl", "r1")
    t.dense("d1", "fl", 4)
    t.noop("drop", "d1")
    t.act("r3", "drop", "elu", modes[1])
    t.dense("d2", "r3", 3)
    t.bn("bn2", "d2")
    t.act("s", "bn2", "sigmoid", modes[2])
    t.dense("out", "s", 2)
    return t


def test_genomics_default_equals_explicit_rescale_conv_reveal_cancel_dense():
    gd = _genomics_net([M.DeepLIFT_GenomicsDefault] * 3)
    explicit = _genomics_net([M.Rescale, M.RevealCancel, M.RevealCancel])
    wrong = _genomics_net([M.Rescale] * 3)
    rng = np.random.default_rng(0)
    x = (rng.random(size=(4, 8, 4)) < 0.3).astype(np.float32)
    ref = np.full((1, 8, 4), 0.25)
    out = {}
    for name, twin in (("gd", gd), ("explicit", explicit), ("wrong", wrong)):
        func = twin.graph_model().get_target_contribs_func("seq", "out")
        out[name] = func(1, [x], input_references_list=[ref])
    np.testing.assert_allclose(out["gd"], out["explicit"], rtol=1e-6, atol=1e-7)
    # the resolution matters: Rescale everywhere gives visibly different scores
    assert np.abs(out["gd"] - out["wrong"]).max() > 1e-2 * np.abs(out["gd"]).max()
    assert rules.effective_mode(gd.dl["r1"]) == M.Rescale
    assert rules.effective_mode(gd.dl["r3"]) == M.RevealCancel
    assert rules.effective_mode(gd.dl["s"]) == M.RevealCancel


@pytest.mark.parametrize("build, layer_name, preceding", [
    (lambda: [L.Input(batch_shape=(None, 3), name="inp"),
              L.ReLU(nonlinear_mxts_mode="DeepLIFT_GenomicsDefault", name="gd_relu"),
              L.Dense(kernel=np.ones((3, 1)))], "gd_relu", "is an Input"),
    (lambda: [L.Input(batch_shape=(None, 4, 2)), L.Conv1D(kernel=np.ones((2, 2, 1))),
              L.Flatten(name="flat"),
              L.Sigmoid(nonlinear_mxts_mode="DeepLIFT_GenomicsDefault", name="gd_sig"),
              L.Dense(kernel=np.ones((3, 1)))], "gd_sig", "is a Flatten"),
    (lambda: [L.Input(batch_shape=(None, 4, 2)), L.Conv1D(kernel=np.ones((1, 2, 2))),
              L.MaxPool1D(pool_length=2),
              L.ReLU(nonlinear_mxts_mode="DeepLIFT_GenomicsDefault", name="gd_after_pool"),
              L.Flatten(), L.Dense(kernel=np.ones((4, 1)))], "gd_after_pool", "is a MaxPool1D"),
])
def test_genomics_default_unresolvable_is_an_error(build, layer_name, preceding):
    model = SequentialModel(build())
    with pytest.raises(ValueError) as err:
        model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    msg = str(err.value)
    assert layer_name in msg and preceding in msg and "GenomicsDefault" in msg


# ---------------------------------------------------------------------------
# unknown modes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: L.ReLU(nonlinear_mxts_mode="Rescal"),
    lambda: L.Sigmoid(nonlinear_mxts_mode="Rescal"),
    lambda: rules.get_rule("Rescal"),
])
def test_unknown_mode_string_names_it_and_the_valid_ones(make):
    with pytest.raises(ValueError) as err:
        make()
    msg = str(err.value)
    assert "Rescal" in msg
    for valid in ("Rescale", "RevealCancel", "Gradient", "GuidedBackprop", "DeconvNet"):
        assert valid in msg


def test_get_rule_for_genomics_default_explains_resolution():
    with pytest.raises(ValueError) as err:
        rules.get_rule(M.DeepLIFT_GenomicsDefault)
    msg = str(err.value)
    assert "DeepLIFT_GenomicsDefault" in msg and "Rescale" in msg


def test_mode_strings_are_accepted_like_members():
    assert L.ReLU(nonlinear_mxts_mode="RevealCancel").nonlinear_mxts_mode is M.RevealCancel
    assert rules.get_rule("Rescale") is rules.NONLINEAR_RULES[M.Rescale]
