"""The model-level scoring functions (``get_target_contribs_func`` and
friends): batching, task lists, threads, reference forms, dict inputs,
multi-input graphs, scoring intermediate layers, no retracing, prediction
functions, progress reports, and the errors users must be able to read.

One small two-input network (built once per module, with a Keras twin for
independent forward values) serves every test.
"""
import concurrent.futures
import warnings

import numpy as np
import pytest

import deeplift.layers as L
import deeplift.util
from deeplift.models import GraphModel, SequentialModel
from deeplift.modes import NonlinearMxtsMode as M
from helpers import Twin, assert_sums_to_delta

N = 10


class Net:
    """seq (6, 2) -> Conv1D -> ReLU -> Flatten ─┐
       vec (3,) -> Dense -> Tanh ───────────────┴ Concat -> ReLU(RevealCancel)
       -> Dense "out" (3 logits) -> Sigmoid "prob"."""

    def __init__(self):
        rng = np.random.default_rng(7)
        t = self.twin = Twin(rng)
        t.input("seq", (6, 2))
        t.input("vec", (3,))
        t.conv("conv", "seq", 2, 2)
        t.act("conv_act", "conv", "relu", M.Rescale)
        t.flatten("flat", "conv_act")
        t.dense("vd", "vec", 3)
        t.act("vd_act", "vd", "tanh", M.Rescale)
        t.concat("cat", ["flat", "vd_act"])
        t.act("cat_act", "cat", "relu", M.RevealCancel)
        t.dense("out", "cat_act", 3)
        t.act("prob", "out", "sigmoid", M.Rescale)
        self.model = t.graph_model()
        self.contribs = self.model.get_target_contribs_func(["seq", "vec"], "out")
        self.mults = self.model.get_target_multipliers_func(["seq", "vec"], "out")
        self.xs = [rng.normal(size=(N, 6, 2)).astype(np.float32),
                   rng.normal(size=(N, 3)).astype(np.float32)]
        self.refs = [rng.normal(size=(N, 6, 2)), rng.normal(size=(N, 3))]
        self.keras_out = t.keras_model("out")

    def out(self, arrays):
        arrays = [np.broadcast_to(np.asarray(a, np.float32), x.shape) for a, x in zip(arrays, self.xs)]
        return np.asarray(self.keras_out(arrays, training=False))


@pytest.fixture(scope="module")
def net():
    return Net()


def _assert_same(a, b, atol=1e-6):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y, atol)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=atol)


def test_contribs_sum_to_delta_over_both_inputs(net):
    contribs = net.contribs(1, net.xs, input_references_list=net.refs)
    assert [c.shape for c in contribs] == [x.shape for x in net.xs]
    assert_sums_to_delta(contribs, net.out(net.xs), net.out(net.refs), task=1)


def test_batch_size_1_and_7_give_the_same_results(net):
    full = net.contribs(2, net.xs, batch_size=100, input_references_list=net.refs)
    _assert_same(net.contribs(2, net.xs, batch_size=1, input_references_list=net.refs), full)
    _assert_same(net.contribs(2, net.xs, batch_size=7, input_references_list=net.refs), full)
    m_full = net.mults(2, net.xs, input_references_list=net.refs)
    _assert_same(net.mults(2, net.xs, batch_size=1, input_references_list=net.refs), m_full)


def test_list_of_tasks_equals_separate_calls(net):
    together = net.contribs([2, 0, 1], net.xs, batch_size=7, input_references_list=net.refs)
    assert isinstance(together, list) and len(together) == 3
    for task, result in zip([2, 0, 1], together):
        _assert_same(result, net.contribs(task, net.xs, input_references_list=net.refs))
    # numpy integer task indices and a numpy array of tasks are accepted
    _assert_same(net.contribs(np.int64(1), net.xs, input_references_list=net.refs),
                 together[2])
    _assert_same(net.contribs(np.array([0, 1]), net.xs, input_references_list=net.refs),
                 together[1:])


def test_two_threads_on_one_compiled_function_match_sequential_calls(net):
    tasks = [0, 1, 2, 1, 0, 2, 2, 0]
    sequential = [net.contribs(t, net.xs, batch_size=7, input_references_list=net.refs)
                  for t in tasks]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(net.contribs, t, net.xs, batch_size=7,
                               input_references_list=net.refs) for t in tasks]
        concurrent_results = [f.result() for f in futures]
    for a, b in zip(concurrent_results, sequential):
        _assert_same(a, b)


def test_reference_forms_agree(net):
    r_seq = np.linspace(-1, 1, 12).reshape(6, 2)
    r_vec = np.array([0.5, -0.25, 1.0])
    forms = {
        "per_example": [np.broadcast_to(r_seq, (N, 6, 2)), np.broadcast_to(r_vec, (N, 3))],
        "one_example": [r_seq, r_vec],
        "leading_one": [r_seq[None], r_vec[None]],
    }
    results = {k: net.contribs(0, net.xs, batch_size=7, input_references_list=v)
               for k, v in forms.items()}
    _assert_same(results["one_example"], results["per_example"])
    _assert_same(results["leading_one"], results["per_example"])
    # one input's reference per example, the other's shared (the two meet in
    # a Concat, which needs one reference batch size)
    mixed = net.contribs(0, net.xs, batch_size=7,
                         input_references_list=[forms["per_example"][0], r_vec])
    _assert_same(mixed, results["per_example"])
    # scalars broadcast to every entry
    _assert_same(net.contribs(0, net.xs, input_references_list=[0.5, -1.0]),
                 net.contribs(0, net.xs, input_references_list=[np.full((N, 6, 2), 0.5),
                                                                np.full((N, 3), -1.0)]))
    # distinct per-example references == one call per example with its own reference
    per_example = net.contribs(1, net.xs, batch_size=7, input_references_list=net.refs)
    for i in (0, 4, 9):
        single = net.contribs(1, [x[i:i + 1] for x in net.xs],
                              input_references_list=[r[i] for r in net.refs])
        _assert_same(single, [c[i:i + 1] for c in per_example])


def test_missing_references_mean_zeros_with_a_warning(net, monkeypatch):
    monkeypatch.setattr(deeplift.util, "_warned_default_reference", False)
    with pytest.warns(UserWarning, match="zero"):
        default = net.contribs(0, net.xs)
    _assert_same(default, net.contribs(0, net.xs, input_references_list=[0.0, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.contribs(0, net.xs)  # said once only


def test_dict_inputs_and_references_keyed_by_input_name(net):
    by_list = net.contribs(1, net.xs, input_references_list=net.refs)
    by_dict = net.contribs(1, {"vec": net.xs[1], "seq": net.xs[0]},
                           input_references_list={"seq": net.refs[0], "vec": net.refs[1]})
    _assert_same(by_dict, by_list)
    with pytest.raises(ValueError) as err:
        net.contribs(1, {"seq": net.xs[0]})
    assert "vec" in str(err.value) and "seq" in str(err.value)


def test_scoring_intermediate_and_several_layers(net):
    # {conv, vec} and {cat} are cuts of the graph: their contributions sum to delta
    func = net.model.get_target_contribs_func(["conv", "vec"], "out")
    conv_c, vec_c = func(2, net.xs, input_references_list=net.refs)
    assert conv_c.shape == (N, 5, 2) and vec_c.shape == (N, 3)
    delta_out, ref_out = net.out(net.xs), net.out(net.refs)
    assert_sums_to_delta([conv_c, vec_c], delta_out, ref_out, task=2)
    cat_c = net.model.get_target_contribs_func("cat", "out")(2, net.xs,
                                                             input_references_list=net.refs)
    assert cat_c.shape == (N, 13)
    assert_sums_to_delta(cat_c, delta_out, ref_out, task=2)
    # several layers at once == one layer at a time; a list of tasks nests
    both = func([0, 2], net.xs, input_references_list=net.refs)
    _assert_same(both[1], [conv_c, vec_c])
    vec_only = net.model.get_target_contribs_func("vec", "out")(0, net.xs,
                                                                input_references_list=net.refs)
    _assert_same(both[0][1], vec_only)


def test_compiled_function_is_traced_once_across_tasks_and_batch_sizes(net):
    # (Each new batch *shape* still costs TensorFlow a graph optimisation on
    # its first call, so the shapes are kept to 10, 7, 3 and 1 here.)
    func = net.mults
    for task, batch_size in ((0, 1), (2, 7), ([0, 1, 2], 7), (1, 100), ([2, 2], 1)):
        func(task, net.xs, batch_size=batch_size, input_references_list=[0.0, 0.0])
        func(task, [x[:3] for x in net.xs], batch_size=batch_size,
             input_references_list=[r[:3] for r in net.refs])
    # weighted targets (shared, per example, several) use the same trace
    rng = np.random.default_rng(0)
    for weights in (rng.normal(size=3), rng.normal(size=(N, 3)),
                    [rng.normal(size=3), rng.normal(size=(N, 3))]):
        func(target_weights=weights, input_data_list=net.xs, batch_size=7,
             input_references_list=[0.0, 0.0])
    assert func._fn.experimental_get_tracing_count() == 1
    net.contribs([0, 1], net.xs, batch_size=7, input_references_list=[0.0, 0.0])
    assert net.contribs._fn.experimental_get_tracing_count() == 1


def test_prediction_function_matches_keras(net):
    predict = net.model.get_prediction_function(input_layer_names=["seq", "vec"],
                                                output_layer_name="prob")
    got = predict(net.xs, batch_size=3)
    expected = np.asarray(net.twin.keras_model("prob")(net.xs, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict(net.xs, 100), got, rtol=1e-6, atol=1e-7)


def test_sequential_model_prediction_and_scores_several_layers():
    W1, W2 = np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([[1.0], [-2.0]])
    model = SequentialModel([L.Input(batch_shape=(None, 2)), L.Dense(kernel=W1, bias=[0.5, -0.5]),
                             L.ReLU(), L.Dense(kernel=W2, bias=[0.0]), L.Sigmoid()])
    x = np.array([[1.0, 1.0], [-1.0, 2.0]])
    h = np.maximum(x @ W1 + [0.5, -0.5], 0)
    predict = model.get_prediction_function(input_layer_idx=0, output_layer_idx=-1)
    np.testing.assert_allclose(predict([x], 1), 1 / (1 + np.exp(-(h @ W2))), rtol=1e-6)
    func = model.get_target_contribs_func(find_scores_layer_idx=[0, 2], target_layer_idx=-2)
    c0, c2 = func(0, [x], input_references_list=[0.0])
    h0 = np.maximum(np.array([0.5, -0.5]), 0)
    delta = (h - h0) @ W2[:, 0]
    np.testing.assert_allclose(c0.sum(1), delta, rtol=1e-6)
    np.testing.assert_allclose(c2, (h - h0) * W2[:, 0], rtol=1e-6)


def test_variable_length_input_and_nd_target_flat_task_index():
    # x (N, L, 2) with L unknown -> Conv1D(ones, 2 taps, 3 filters) -> ReLU ->
    # GlobalAvgPool1D -> Dense(ones): with x = 1 every conv output is 4, the
    # output 12, whatever L; contributions sum to 12 (zero reference).
    inp = L.Input(batch_shape=(None, None, 2), name="x")
    conv = L.Conv1D(kernel=np.ones((2, 2, 3)), bias=np.zeros(3), name="c")(inp)
    relu = L.ReLU(name="r")(conv)
    gap = L.GlobalAvgPool1D(name="g")(relu)
    out = L.Dense(kernel=np.ones((3, 1)), bias=[0.0], name="d")(gap)
    model = GraphModel({"x": inp, "c": conv, "r": relu, "g": gap, "d": out}, ["x"])
    func = model.get_target_contribs_func("x", "d")
    for length in (5, 8):
        contribs = func(0, [np.ones((2, length, 2))], input_references_list=[0.0])
        assert contribs.shape == (2, length, 2)
        np.testing.assert_allclose(contribs.sum(axis=(1, 2)), [12.0, 12.0], rtol=1e-6)
    with pytest.raises(ValueError) as err:  # neurons of an unknown-length layer
        model.get_target_contribs_func("x", "c")(0, [np.ones((1, 5, 2))],
                                                 input_references_list=[0.0])
    assert "'c'" in str(err.value) and "unknown" in str(err.value)
    # A 2-d target (steps 3, channels 2): the flat task index t is step t // 2,
    # channel t % 2. Conv (1, 2) then a 1x1 conv with weights (1, -1):
    # multipliers for task 3 (step 1, channel 1) = -(0, 1, 2, 0).
    inp = L.Input(batch_shape=(None, 4, 1), name="x")
    conv = L.Conv1D(kernel=np.array([1.0, 2.0]).reshape(2, 1, 1), bias=[0.0], name="c")(inp)
    conv2 = L.Conv1D(kernel=np.array([1.0, -1.0]).reshape(1, 1, 2), bias=[0.0, 0.0],
                     name="c2")(conv)
    mult = GraphModel({"x": inp, "c": conv, "c2": conv2}, ["x"]).get_target_multipliers_func(
        "x", "c2")
    np.testing.assert_allclose(mult(3, [np.ones((1, 4, 1))], input_references_list=[0.0]).ravel(),
                               [0, -1, -2, 0])
    np.testing.assert_allclose(mult(4, [np.ones((1, 4, 1))], input_references_list=[0.0]).ravel(),
                               [0, 0, 1, 2])
    with pytest.raises(ValueError) as err:
        mult(6, [np.ones((1, 4, 1))], input_references_list=[0.0])
    assert "6" in str(err.value) and "0 to 5" in str(err.value)


def test_progress_update_reports_and_none_is_silent(net, capfd):
    net.contribs(0, net.xs, batch_size=1, progress_update=None, input_references_list=[0, 0])
    assert capfd.readouterr().err == ""
    net.contribs(0, net.xs, batch_size=1, progress_update=4, input_references_list=[0, 0])
    assert capfd.readouterr().err != ""


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_wrong_number_of_inputs(net):
    with pytest.raises(ValueError) as err:
        net.contribs(0, [net.xs[0]], input_references_list=[0.0])
    msg = str(err.value)
    assert "input" in msg and "2" in msg and "1" in msg
    with pytest.raises(ValueError) as err:
        net.contribs(0, net.xs, input_references_list=[0.0, 0.0, 0.0])
    msg = str(err.value)
    assert "input" in msg and "2" in msg and "3" in msg


def test_reference_shape_mismatch_names_both_shapes(net):
    with pytest.raises(ValueError) as err:
        net.contribs(0, net.xs, input_references_list=[np.zeros((N, 5, 2)), 0.0])
    msg = str(err.value)
    assert "shape" in msg and "(10, 5, 2)" in msg and "(10, 6, 2)" in msg and "seq" in msg
    with pytest.raises(ValueError) as err:
        net.contribs(0, net.xs, input_references_list=[0.0, np.zeros((4, 3))])
    msg = str(err.value)
    assert "shape" in msg and "(4, 3)" in msg and "(10, 3)" in msg


def test_input_shape_mismatch_names_the_input_and_shapes(net):
    with pytest.raises(ValueError) as err:
        net.contribs(0, [net.xs[0][:, :5], net.xs[1]], input_references_list=[0.0, 0.0])
    msg = str(err.value)
    assert "seq" in msg and "shape" in msg and "(10, 5, 2)" in msg
    with pytest.raises(ValueError) as err:
        net.contribs(0, [net.xs[0], net.xs[1][:4]], input_references_list=[0.0, 0.0])
    assert "10" in str(err.value) and "4" in str(err.value)


@pytest.mark.parametrize("task", [3, -1, [0, 7]])
def test_task_index_out_of_range(net, task):
    with pytest.raises(ValueError) as err:
        net.contribs(task, net.xs, input_references_list=[0.0, 0.0])
    msg = str(err.value)
    bad = task[-1] if isinstance(task, list) else task
    assert "task" in msg and str(bad) in msg and "0" in msg and "2" in msg


@pytest.mark.parametrize("task", [1.0, "0", None, True])
def test_task_index_must_be_an_int(net, task):
    with pytest.raises(ValueError) as err:
        net.contribs(task, net.xs, input_references_list=[0.0, 0.0])
    assert "task" in str(err.value)


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_inputs_and_references_are_rejected(net, bad, word):
    vec = net.xs[1].copy()
    vec[3, 1] = bad
    with pytest.raises(ValueError) as err:
        net.contribs(0, [net.xs[0], vec], input_references_list=[0.0, 0.0])
    msg = str(err.value)
    assert word in msg and "vec" in msg
    with pytest.raises(ValueError) as err:
        net.contribs(0, net.xs, input_references_list=[bad, 0.0])
    msg = str(err.value)
    assert word in msg and "seq" in msg and "eference" in msg


def test_target_on_an_activation_layer_says_to_pick_the_layer_before(net):
    with pytest.raises(ValueError) as err:
        net.model.get_target_contribs_func(["seq", "vec"], "prob")
    msg = str(err.value)
    assert "prob" in msg and "before" in msg and "out" in msg


def test_unknown_layer_names_and_indices(net):
    with pytest.raises(ValueError) as err:
        net.model.get_target_contribs_func("nope", "out")
    assert "nope" in str(err.value) and "seq" in str(err.value)
    model = SequentialModel([L.Input(batch_shape=(None, 2)), L.Dense(kernel=np.ones((2, 1)))])
    with pytest.raises(ValueError) as err:
        model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=5)
    assert "5" in str(err.value)


def test_batch_size_must_be_positive(net):
    with pytest.raises(ValueError) as err:
        net.contribs(0, net.xs, batch_size=0, input_references_list=[0.0, 0.0])
    assert "batch_size" in str(err.value)


def test_many_scoring_functions_print_no_retracing_warning(caplog):
    """Each compiled function traces once; TensorFlow's frequent-retracing
    detector counts traces per Python code object, so without
    ``kernels.quiet_tracing`` six models would trigger its warning."""
    import logging

    import deeplift.layers as L
    from deeplift.models import SequentialModel

    x = np.ones((2, 6, 4), np.float32)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for width in range(1, 7):
            model = SequentialModel([
                L.Input(batch_shape=(None, 6, 4)),
                L.Conv1D(kernel=np.full((width, 4, 8), 0.1), bias=np.zeros(8), padding="same"),
                L.ReLU(), L.Flatten(), L.Dense(kernel=np.full((48, 2), 0.1), bias=[0.0, 0.0])])
            func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
            func(task_idx=0, input_data_list=[x], input_references_list=[0.0], batch_size=2)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


# --- examples repeated once per reference share one forward pass -------------

def test_repeated_rows_finds_runs_in_every_input():
    a = np.array([[1, 2], [1, 2], [1, 2], [3, 4], [3, 4], [5, 6]], np.float32)
    first, rows = deeplift.util.repeated_rows([a])
    np.testing.assert_array_equal(first, [0, 3, 5])
    np.testing.assert_array_equal(rows, [0, 0, 0, 1, 1, 2])
    # a run must repeat in every input: with b, a's first run splits in two
    # and b's run of four splits at a's boundary
    a = np.array([[1, 2]] * 4 + [[3, 4]] * 2, np.float32)
    b = np.array([0, 0, 1, 1, 1, 1], np.float32)
    first, rows = deeplift.util.repeated_rows([a, b])
    np.testing.assert_array_equal(first, [0, 2, 4])
    np.testing.assert_array_equal(rows, [0, 0, 1, 1, 2, 2])
    # fewer than half the examples repeat: not worth sharing
    assert deeplift.util.repeated_rows([np.arange(6.0).reshape(6, 1)]) is None
    assert deeplift.util.repeated_rows([a, np.arange(6.0)]) is None
    assert deeplift.util.repeated_rows([a[:1]]) is None


def test_repeated_examples_use_the_shared_forward_pass_and_match_single_examples():
    """Both inputs repeat in runs of 3, 1, 4 and 2 rows, each row with its own
    reference: the shared-rows function must run, and every result must
    equal scoring the rows one at a time (batch size 1 cannot share) and
    sum to the Keras difference from reference."""
    net = Net()  # a fresh model, so that the shared-rows function starts unbuilt
    rng = np.random.default_rng(3)
    runs = [3, 1, 4, 2]
    xs = [np.repeat(x[:len(runs)], runs, axis=0) for x in net.xs]
    refs = [rng.normal(size=x.shape).astype(np.float32) for x in xs]
    assert net.contribs._shared_rows_fn is None
    shared = net.contribs([0, 2], xs, batch_size=10, input_references_list=refs,
                          return_convergence_delta=True)
    assert net.contribs._shared_rows_fn is not None
    single = net.contribs([0, 2], xs, batch_size=1, input_references_list=refs,
                          return_convergence_delta=True)
    _assert_same(shared[0], single[0])
    np.testing.assert_allclose(shared[1], single[1], atol=1e-5)
    for task, contribs in zip([0, 2], shared[0]):
        assert_sums_to_delta(contribs, net.out(xs), net.out(refs), task=task)
    _assert_same(net.mults(1, xs, batch_size=10, input_references_list=refs),
                 net.mults(1, xs, batch_size=1, input_references_list=refs))
    # a shared reference (broadcast) works on the shared path too
    _assert_same(net.contribs(1, xs, batch_size=10, input_references_list=[0.5, -0.5]),
                 net.contribs(1, xs, batch_size=1, input_references_list=[0.5, -0.5]))


@pytest.mark.parametrize("mode", [M.DeepLIFT_GenomicsDefault, M.RevealCancel,
                                  M.Rescale, M.Gradient, M.GuidedBackprop])
def test_one_sequence_against_many_references_matches_single_pairs(mode):
    """The genomics pattern (conv, max pool, dense): each sequence repeated
    once per reference, scored in one batch, equals each pair scored alone."""
    rng = np.random.default_rng(5)
    model = SequentialModel([
        L.Input(batch_shape=(None, 12, 4)),
        L.Conv1D(kernel=rng.normal(size=(5, 4, 6)), bias=rng.normal(size=6), padding="same"),
        L.ReLU(nonlinear_mxts_mode=mode), L.MaxPool1D(pool_length=3, stride=3),
        L.Flatten(), L.Dense(kernel=rng.normal(size=(24, 5)), bias=rng.normal(size=5)),
        L.ReLU(nonlinear_mxts_mode=mode), L.Dense(kernel=rng.normal(size=(5, 3)),
                                                  bias=rng.normal(size=3))])
    func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    seqs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(3, 12))]
    data = np.repeat(seqs, 4, axis=0)
    refs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(12, 12))]
    together = func([0, 1, 2], [data], batch_size=12, input_references_list=[refs])
    assert func._shared_rows_fn is not None
    alone = func([0, 1, 2], [data], batch_size=1, input_references_list=[refs])
    _assert_same(together, alone, atol=1e-5)


def test_output_layers_of_hand_built_and_converted_models(net):
    import keras

    from deeplift.conversion.kerasapi_conversion import convert_keras_model

    layers = net.model.get_name_to_layer()
    assert net.model.get_output_layers() == {"prob": layers["prob"]}  # the only sink
    inp = keras.Input((3,), name="x")
    hidden = keras.layers.Dense(4, activation="relu", name="h")(inp)
    two = keras.Model(inp, [keras.layers.Dense(2, activation="sigmoid", name="a")(hidden),
                            keras.layers.Dense(1, name="b")(hidden)])
    outputs = convert_keras_model(two).get_output_layers()
    assert {k: v.name for k, v in outputs.items()} == {"a": "a_0", "b": "b_0"}
    seq = convert_keras_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")]))
    assert {k: v.name for k, v in seq.get_output_layers().items()} == {"d": "0"}


def test_zero_examples_give_empty_results_of_the_right_shape(net):
    """Zero examples: every scoring, multiplier and prediction function
    returns arrays shaped like its results on real examples, with 0 rows
    (a list per task for a list of tasks), and an empty convergence delta."""
    empty = [x[:0] for x in net.xs]
    full_contribs = net.contribs(0, net.xs, input_references_list=net.refs)
    for fn in (net.contribs, net.mults):
        got = fn(0, empty, input_references_list=[r[:0] for r in net.refs])
        assert [g.shape for g in got] == [(0,) + f.shape[1:] for f in full_contribs]
        assert all(g.dtype == np.float32 for g in got)
        per_task = fn([0, 2], empty, input_references_list=[0.0, 0.0])
        assert len(per_task) == 2
        assert all([g.shape for g in t] == [(0, 6, 2), (0, 3)] for t in per_task)
    _, delta = net.contribs([1, 2], empty, input_references_list=[0.0, 0.0],
                            return_convergence_delta=True)
    assert delta.shape == (2, 0)
    predict = net.model.get_prediction_function(["seq", "vec"], "prob")
    assert predict(empty).shape == (0, 3)
    assert predict([[], []]).shape == (0, 3)     # empty lists of examples
    assert predict(net.xs).shape == (N, 3)


def test_zero_examples_through_the_sequential_model_and_compile_func():
    inp = L.Input(batch_shape=(None, 5, 4))
    layers = [inp, L.Conv1D(kernel=np.ones((2, 4, 2)), bias=np.zeros(2)),
              L.ReLU(nonlinear_mxts_mode=M.RevealCancel), L.MaxPool1D(pool_size=2),
              L.Flatten(), L.Dense(kernel=np.ones((4, 3)), bias=np.zeros(3))]
    model = SequentialModel(layers)
    x = np.zeros((0, 5, 4), np.float32)
    assert model.get_target_contribs_func(0, -1)(0, [x], input_references_list=[0.0]).shape == (0, 5, 4)
    assert model.get_target_multipliers_func([0, 4], -1)(1, [x], input_references_list=[0.0])[1].shape == (0, 4)
    assert model.get_prediction_function()([x]).shape == (0, 3)
    layers[-1].set_scoring_mode("OneAndZeros")
    layers[-1].set_active()
    fn = deeplift.util.compile_func([inp.get_activation_vars(), inp.get_reference_vars()],
                                    [inp.get_mxts(), layers[-1].get_activation_vars()])
    mxts, out = fn([x, x])
    assert mxts.shape == (0, 5, 4) and out.shape == (0, 3)
    batched = deeplift.util.run_function_in_batches(
        lambda arrays: fn(arrays)[1], [x, x], batch_size=4, progress_update=None)
    assert batched.shape == (0, 3)
