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


def _unit_norm_model():
    """x -> Dense 'pre' -> UnitNormalization 'unit' (no converter rule) -> Dense 'head'."""
    import keras
    from sequence_cases import randomise

    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, name="pre")(x)
    h = keras.layers.UnitNormalization(name="unit")(h)
    return randomise(keras.Model(x, keras.layers.Dense(1, name="head")(h)), seed=5)


def _midpoint_residual(model, x, ref, steps):
    """The fallback's own residual, in float64 from the Keras weights: with
    ``h = pre(x)``, ``u(h) = h / |h|`` (Jacobian ``(I - u u^T) / |h|``) and
    the head's weights ``w`` as the output multipliers, the midpoint average
    of ``w^T J`` along ``h0 -> h`` dotted with ``h - h0``, minus ``w . (u(h) - u(h0))``."""
    kernel, bias = (w.astype(np.float64) for w in model.get_layer("pre").get_weights())
    w = model.get_layer("head").get_weights()[0][:, 0].astype(np.float64)
    h, h0 = x @ kernel + bias, ref @ kernel + bias
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    kept = 0.0
    for k in range(steps):
        p = h0 + (k + 0.5) / steps * (h - h0)
        u, norm = unit(p), np.linalg.norm(p, axis=-1, keepdims=True)
        grad = (w - (u @ w)[:, None] * u) / norm          # J^T w, J symmetric
        kept = kept + (grad * (h - h0)).sum(-1) / steps
    return kept - (unit(h) - unit(h0)) @ w


def test_fallback_layer_residual_is_reported_and_named_in_the_warning():
    """A Keras built-in without a rule, converted with fallback_steps=K: the
    report gives it its rule and own residual, which matches a float64
    midpoint-rule computation and the contribution mismatch across it from
    the scoring API, and shrinks as K grows; the scoring warning names it."""
    from deeplift.conversion import layer_converters
    from deeplift.conversion.kerasapi_conversion import convert_keras_model

    assert "UnitNormalization" not in layer_converters.CONVERTERS
    model = _unit_norm_model()
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(5, 4)) * 2).astype(np.float32)
    # references partly aligned with the inputs keep the path away from 0,
    # where u(h) is singular, so the midpoint rule converges like 1/K^2
    ref = (0.5 * x + 0.5 * rng.normal(size=(5, 4))).astype(np.float32)
    worst = []
    for steps in (1, 4, 16):
        dl_model = convert_keras_model(model, verbose=False, fallback_steps=steps)
        report = check_conservation(dl_model, [x], input_references_list=[ref], verbose=False)
        rows = {row.name: row for row in report.rows}
        unit = rows["unit_0"]
        assert unit.rule == f"fallback, {steps} steps" and unit.kind == "KerasFallback"
        assert all(row.residual is None for name, row in rows.items() if name != "unit_0")
        expected = _midpoint_residual(model, x.astype(np.float64), ref.astype(np.float64), steps)
        np.testing.assert_allclose(unit.residual, expected, rtol=1e-3, atol=1e-5)
        # the same number as the mismatch of summed contributions across the layer
        contribs = [dl_model.get_target_contribs_func(
            find_scores_layer_name=name, pre_activation_target_layer_name="head_0")(
            0, [x], input_references_list=[ref], progress_update=None) for name in
            ("pre_0", "unit_0")]
        below, above = (c.reshape(5, -1).astype(np.float64).sum(1) for c in contribs)
        np.testing.assert_allclose(unit.residual, below - above, rtol=1e-3, atol=1e-5)
        worst.append(abs(unit.worst_residual))
        assert f"'unit_0' (fallback, {steps} steps) up to" in str(report)
        if steps == 1:
            # conservation breaks at the fallback: it is the named culprit
            assert (report.failing_cut, report.holding_cut, report.culprits) == (
                "pre_0", "unit_0", ["unit_0"])
            _, messages = _collect(lambda: dl_model.get_target_contribs_func(
                find_scores_layer_name="x_0", pre_activation_target_layer_name="head_0")(
                0, [x], input_references_list=[ref], progress_update=None))
            assert len(messages) == 1
            assert "'unit_0' (UnitNormalization, fallback, 1 steps)" in messages[0]
            assert "fallback_steps" in messages[0]
    assert worst[0] > 1e-2 and worst[1] < worst[0] / 4 and worst[2] < worst[0] / 50, worst
