"""The convergence warning of scoring calls (deeplift/convergence.py) and the
per-layer conservation report (deeplift/diagnostics.py).

A gradient-mode max pool whose reference's arg-max differs from the input's
is the planted culprit; Keras twins give the target's difference
independently of DeepLIFT.
"""
import warnings

import numpy as np

import deeplift.layers as L
from deeplift.convergence import ConvergenceWarning, relative_gaps
from deeplift.diagnostics import ALL_INPUTS, check_conservation
from deeplift.models import GraphModel, SequentialModel
from deeplift.modes import NonlinearMxtsMode as M


def _pool_model(pool_mode, rng):
    """conv -> relu -> MaxPool1D('mp') -> conv -> relu -> Flatten -> Dense."""
    return SequentialModel([
        L.Input(batch_shape=(None, 8, 4), name="seq"),
        L.Conv1D(kernel=rng.normal(size=(3, 4, 3)), bias=rng.normal(size=3), padding="same",
                 name="c1"),
        L.ReLU(nonlinear_mxts_mode=M.Rescale, name="r1"),
        L.MaxPool1D(pool_length=2, maxpool_deeplift_mode=pool_mode, name="mp"),
        L.Conv1D(kernel=rng.normal(size=(2, 3, 2)), bias=rng.normal(size=2), name="c2"),
        L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="r2"),
        L.Flatten(name="fl"),
        L.Dense(kernel=rng.normal(size=(6, 2)), bias=[0.1, -0.1], name="out")])


def _collect(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught if w.category is ConvergenceWarning]


def test_scoring_warns_once_naming_the_worst_example_the_pool_and_the_fix():
    rng = np.random.default_rng(0)
    model = _pool_model("gradient", rng)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(6, 8))]
    ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(6, 8))]
    func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    (contribs, delta), messages = _collect(lambda: func(
        [0, 1], [x], batch_size=2, input_references_list=[ref], return_convergence_delta=True))
    assert len(messages) == 1   # once per call, though three batches and two tasks fail
    diffs = np.stack([c.reshape(6, -1).sum(1) for c in contribs]) - delta  # t(x) - t(x0)
    gaps = relative_gaps(delta + diffs, diffs, np.stack([np.abs(c).reshape(6, -1).sum(1)
                                                          for c in contribs]))
    task, example = np.unravel_index(np.argmax(gaps), gaps.shape)
    msg = messages[0]
    assert f"Worst: example {example}, task {task}:" in msg
    assert "'mp' (MaxPool1D, maxpool_deeplift_mode=gradient)" in msg
    assert "maxpool_deeplift_mode='cross_max'" in msg and "deeplift check" in msg
    # cross_max: no warning; multipliers, or scoring a non-input layer: no check
    _, quiet = _collect(lambda: _pool_model("cross_max", np.random.default_rng(0))
                        .get_target_contribs_func(0, -1)(0, [x], input_references_list=[ref]))
    assert quiet == []
    for get in (lambda: model.get_target_multipliers_func(0, -1),
                lambda: model.get_target_contribs_func(1, -1)):
        _, quiet = _collect(lambda: get()(0, [x], input_references_list=[ref]))
        assert quiet == []


def test_no_warning_for_rules_that_do_not_conserve_by_design():
    rng = np.random.default_rng(1)
    model = SequentialModel([L.Input(batch_shape=(None, 3)),
                             L.Dense(kernel=rng.normal(size=(3, 3)), bias=rng.normal(size=3)),
                             L.Sigmoid(nonlinear_mxts_mode=M.Gradient),
                             L.Dense(kernel=rng.normal(size=(3, 1)), bias=[0.0])])
    _, messages = _collect(lambda: model.get_target_contribs_func(0, -1)(
        0, [rng.normal(size=(4, 3))], input_references_list=[0.0]))
    assert messages == []


def test_report_finds_the_planted_culprit_and_names_each_rule(capsys):
    rng = np.random.default_rng(2)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(4, 8))]
    ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(4, 8))]
    report = check_conservation(_pool_model("gradient", np.random.default_rng(3)), [x],
                                target_layer=-1, input_references_list=[ref])
    assert not report.holds
    assert (report.failing_cut, report.holding_cut, report.culprits) == ("r1", "mp", ["mp"])
    rows = {row.name: row for row in report.rows}
    assert [row.name for row in report.rows] == ["out", "fl", "r2", "c2", "mp", "r1", "c1", "seq"]
    assert all(rows[n].gap <= 1e-5 for n in ("out", "fl", "r2", "c2", "mp"))
    assert all(rows[n].gap > 1e-3 for n in ("r1", "c1", "seq"))
    assert rows["mp"].rule == "max pool: gradient" and rows["r2"].rule == "RevealCancel"
    assert rows["c2"].rule.startswith("linear")
    # every row sums its layer's contributions: the target row is t(x) - t(x0)
    np.testing.assert_allclose(rows["out"].summed, report.target_diff, rtol=1e-6)
    printed = capsys.readouterr().out
    assert "FAILS" in printed and "'mp'" in printed and "max pool: gradient" in printed
    fixed = check_conservation(_pool_model("cross_max", np.random.default_rng(3)), [x],
                               target_layer=-1, input_references_list=[ref], verbose=False)
    assert fixed.holds and fixed.culprits == [] and max(r.gap for r in fixed.rows) < 1e-5


def test_report_on_a_residual_graph_marks_branch_layers_as_not_cuts():
    """x -> dense 'a' -> relu 'ra' -> [dense 'b' -> GlobalMaxPool-free branch]
    + skip -> Add 'add' -> relu -> dense 'out'; a second input joins at 'add'
    through its own dense, so no input alone is a cut."""
    rng = np.random.default_rng(4)
    x = L.Input(batch_shape=(None, 3), name="x")
    v = L.Input(batch_shape=(None, 2), name="v")
    a = L.Dense(kernel=rng.normal(size=(3, 4)), bias=rng.normal(size=4), name="a")(x)
    ra = L.ReLU(nonlinear_mxts_mode=M.RevealCancel, name="ra")(a)
    b = L.Dense(kernel=rng.normal(size=(4, 4)), bias=rng.normal(size=4), name="b")(ra)
    vb = L.Dense(kernel=rng.normal(size=(2, 4)), name="vb")(v)
    add = L.Add(name="add")([ra, b, vb])
    r = L.ReLU(nonlinear_mxts_mode=M.Rescale, name="r")(add)
    out = L.Dense(kernel=rng.normal(size=(4, 1)), name="out")(r)
    model = GraphModel({l.name: l for l in (x, v, a, ra, b, vb, add, r, out)}, ["x", "v"])
    report = check_conservation(model, target_layer="out", verbose=False)
    cuts = {row.name for row in report.rows if row.is_cut}
    assert cuts == {"out", "r", "add", ALL_INPUTS}
    assert report.holds and all(row.gap < 1e-5 for row in report.rows if row.is_cut)
    # contributions of the branch layers alone do not add up (not a cut)
    assert {row.name: row for row in report.rows}["b"].gap > 1e-3
