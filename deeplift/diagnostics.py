"""Where does summation-to-delta break? A per-layer conservation report.

In DeepLIFT the contributions of the neurons of any cut of the graph (a set
of layers every path from the inputs to the target crosses) add up to the
target's difference from reference, ``sum(m+ dx+ + m- dx-) = t(x) - t(x0)``,
whenever every rule on the way conserves. ``check_conservation`` scores a
few inputs against references at every layer at once, and for each layer
that is a cut on its own reports how far that holds, with the rule the
layer uses. Walking down from the target, the first cut where it stops
holding lies just below the culprit: the layers between it and the last
cut that holds are the ones whose multiplier rule breaks conservation.

Layers converted by the opt-in fallback (``fallback_steps=K``) conserve only
approximately; their rows also carry the layer's own residual (what its
inputs receive minus what it passes on), so the cost of the fallback shows
even where the layer is not a cut.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from deeplift import graph, kernels, util
from deeplift.convergence import RELATIVE_TOLERANCE, relative_gaps
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.layers.linear import LinearLayer, RoutingLayer
from deeplift.layers.fallback import KerasFallback
from deeplift.models import Model, SequentialModel
from deeplift.modes import NonlinearMxtsMode
from deeplift.scoring import build_graph_function
from deeplift.targets import is_list_request, resolve_targets

__all__ = ["LayerConservation", "ConservationReport", "check_conservation", "describe_rule"]

ALL_INPUTS = "<all inputs>"


@dataclass
class LayerConservation:
    """One row of the report.

    Attributes:
        name, kind: the layer's name and class (``ALL_INPUTS`` for the joint
            row of a model with several inputs).
        rule: the multiplier rule the layer uses.
        is_cut: whether every path from the inputs to the target crosses it.
        summed: ``(N,)`` summed contributions of the layer's neurons.
        gap: the worst relative gap to the target's difference over the
            examples (see ``convergence.relative_gaps``).
        residual: ``(N,)`` for a fallback layer, its own conservation error
            per example: the summed contributions it hands its inputs minus
            its own (``KerasFallback.residual``); None for other layers.
    """

    name: str
    kind: str
    rule: str
    is_cut: bool
    summed: np.ndarray
    gap: float
    residual: np.ndarray | None = None

    @property
    def worst_residual(self) -> float | None:
        """The per-example residual of largest magnitude (signed), or None."""
        if self.residual is None or len(self.residual) == 0:
            return None
        return float(self.residual[int(np.argmax(np.abs(self.residual)))])


@dataclass
class ConservationReport:
    """Rows from the target (top) down to the inputs, and the verdict.

    Attributes:
        target_name, task: what was scored (task: an int or an index tuple).
        target_diff: ``(N,)`` the target's ``t(x) - t(x0)`` per example.
        rows: one per layer upstream of the target, top first.
        failing_cut: the first cut from the top where conservation fails
            (None when it holds everywhere).
        holding_cut: the cut just above it where it still holds.
        culprits: the layers between the two, whose rules break it.
        tolerance: the relative gap above which a cut fails.
    """

    target_name: str
    task: int | tuple
    target_diff: np.ndarray
    rows: list[LayerConservation]
    failing_cut: str | None = None
    holding_cut: str | None = None
    culprits: list[str] = field(default_factory=list)
    tolerance: float = RELATIVE_TOLERANCE

    @property
    def holds(self) -> bool:
        return self.failing_cut is None

    def __str__(self) -> str:
        lines = [f"Conservation at each layer: target {self.target_name!r}, task {self.task}, "
                 f"{len(self.target_diff)} examples (target difference of example 0: "
                 f"{self.target_diff[0]:.6g}); a cut holds when its worst relative gap is "
                 f"<= {self.tolerance:g}.",
                 f"{'layer':<28} {'class':<20} {'rule':<40} {'sum(C) ex.0':>12} "
                 f"{'worst gap':>10} {'own residual':>12}  status"]
        for row in self.rows:
            status = ("not a cut" if not row.is_cut
                      else "ok" if row.gap <= self.tolerance else "FAILS")
            own = "" if row.residual is None else f"{row.worst_residual:.3g}"
            lines.append(f"{row.name:<28} {row.kind:<20} {row.rule:<40} "
                         f"{row.summed[0]:>12.6g} {row.gap:>10.3g} {own:>12}  {status}")
        if self.holds:
            lines.append("Conservation holds at every cut.")
        else:
            lines.append(f"Conservation holds at {self.holding_cut!r} and fails at "
                         f"{self.failing_cut!r} below it: the multiplier rule of "
                         f"{', '.join(repr(c) for c in self.culprits)} breaks it.")
        fallbacks = [row for row in self.rows if row.residual is not None]
        if fallbacks:
            lines.append(
                "Fallback layers (path-averaged gradients) lose their own residual: "
                + "; ".join(f"{row.name!r} ({row.rule}) up to {row.worst_residual:.3g}"
                            for row in fallbacks)
                + ". It shrinks as fallback_steps grows (convert with a larger "
                  "fallback_steps=K).")
        return "\n".join(lines)


def describe_rule(layer: Layer, modes: dict[int, NonlinearMxtsMode]) -> str:
    """The multiplier rule ``layer`` uses, in words."""
    from deeplift.layers.activations import Activation
    from deeplift.layers.normalization import BatchNormalization

    if isinstance(layer, Input):
        return "input"
    if isinstance(layer, KerasFallback):
        return f"fallback, {layer.steps} steps"
    if isinstance(layer, Activation):
        requested = getattr(layer, "requested_nonlinear_mxts_mode", layer.nonlinear_mxts_mode)
        mode = modes.get(id(layer), requested)
        if requested != mode:
            return f"{mode.value} (from {requested.value})"
        return mode.value
    pool_mode = getattr(layer, "maxpool_deeplift_mode", None)
    if pool_mode is not None:
        return f"max pool: {pool_mode.value}"
    if isinstance(layer, LinearLayer):
        return "linear (sign of input difference)"
    if isinstance(layer, BatchNormalization):
        return "per-channel linear"
    if isinstance(layer, RoutingLayer):
        return "routing (linear)"
    return f"{type(layer).__name__} rule"


def _reaches_target(order: list[Layer], target: Layer, removed: Layer | None) -> bool:
    """Whether some input reaches ``target`` without passing ``removed``."""
    members = {id(layer) for layer in order}
    stack = [layer for layer in order if isinstance(layer, Input) and layer is not removed]
    seen = set()
    while stack:
        layer = stack.pop()
        if layer is target:
            return True
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        stack.extend(c for c in layer.get_output_layers()
                     if id(c) in members and c is not removed)
    return False


def _random_like(layer: Input, rng: np.random.Generator, num: int) -> np.ndarray:
    """One-hot rows for ``(N, L, 4)`` inputs (DNA), standard normal otherwise."""
    shape = tuple(d if d is not None else 1 for d in layer.get_batch_shape()[1:])
    if len(shape) == 2 and shape[-1] == 4:
        return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(num, shape[0]))]
    return rng.normal(size=(num,) + shape).astype(np.float32)


def _fallback_residuals(inputs: list[Input], order: list[Layer], modes: dict,
                        xs: list[np.ndarray], refs: list[np.ndarray],
                        mxts: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[int, np.ndarray]:
    """``KerasFallback.residual`` of every fallback layer in ``order``, ``(N,)``
    each, from its output multipliers ``mxts[id(layer)] = (m+, m-)``
    (``(1, N, ...)``, the one scored task) on the same inputs and references."""
    fallbacks = [layer for layer in order if isinstance(layer, KerasFallback)]
    if not fallbacks:
        return {}

    same = [bool(np.array_equal(*mxts[id(layer)])) for layer in fallbacks]

    def run(xs, refs, streams):
        fp = graph.ForwardPass(dict(zip(inputs, zip(xs, refs))), modes)
        return [layer.residual(fp, pos, pos if shared else neg)
                for layer, (pos, neg), shared in zip(fallbacks, streams, same)]

    fn = kernels.quiet_tracing(tf.function(run, autograph=False))
    values = fn([tf.constant(x) for x in xs], [tf.constant(r) for r in refs],
                [tuple(tf.constant(m) for m in mxts[id(layer)]) for layer in fallbacks])
    return {id(layer): v.numpy()[0].astype(np.float64) for layer, v in zip(fallbacks, values)}


def _default_target(model: Model) -> Layer:
    from deeplift.layers.activations import Activation

    if isinstance(model, SequentialModel):
        last = model.get_layers()[-1]
    else:
        last = list(model.get_name_to_layer().values())[-1]
    return last.inputs if isinstance(last, Activation) else last


def check_conservation(model: Model, input_data_list=None, target_layer=None, task_idx: int = 0,
                       input_references_list=None, num_examples: int = 4, seed: int = 0,
                       tolerance: float = RELATIVE_TOLERANCE,
                       verbose: bool = True) -> ConservationReport:
    """Scores a few inputs against references at every layer and reports, per
    layer, how far summation-to-delta holds there.

    Args:
        model: a ``SequentialModel`` or ``GraphModel``.
        input_data_list: inputs as for a scoring function (a list with one
            array per input layer, or a dict). None: ``num_examples`` random
            inputs (one-hot for ``(L, 4)`` inputs, standard normal otherwise).
        target_layer: index (Sequential) or name (Graph) of the target; None:
            the last layer, or the layer before it when it is an activation.
        task_idx: the target neuron (flat index, or an index tuple).
        input_references_list: as for a scoring function; None: another
            random draw like the default inputs (so arg-maxes differ).
        num_examples, seed: size and seed of the random draws.
        tolerance: relative gap above which a cut fails.
        verbose: print the report.

    Returns:
        A ``ConservationReport``; ``str(report)`` is the printed table.
    """
    inputs = model._input_layers()
    target = (_default_target(model) if target_layer is None
              else model._lookup(target_layer, "target_layer"))
    graph.check_can_be_target(target)
    if is_list_request(task_idx):
        raise ValueError(f"check_conservation takes one task index (an int or a tuple); "
                         f"got {task_idx!r}.")
    rng = np.random.default_rng(seed)
    if input_data_list is None:
        input_data_list = [_random_like(layer, rng, num_examples) for layer in inputs]
    xs = util.format_inputs(input_data_list, inputs)
    if input_references_list is None:
        input_references_list = [_random_like(layer, rng, len(xs[0])) for layer in inputs]
    refs = [np.broadcast_to(ref, x.shape).astype(np.float32) for (ref, _), x in
            zip(util.format_references(input_references_list, inputs, xs), xs)]
    order = graph.topological_order([target])
    modes = graph.resolve_modes(order)
    outputs = [SymbolicVar(layer, "target_contribs") for layer in order]
    outputs.append(SymbolicVar(target, "diff_from_reference"))
    fallbacks = [layer for layer in order if isinstance(layer, KerasFallback)]
    outputs += [SymbolicVar(layer, kind) for layer in fallbacks
                for kind in ("pos_mxts", "neg_mxts")]
    fn = build_graph_function(inputs, outputs, [target])
    num = len(xs[0])
    targets = resolve_targets(target, num, task_idx=task_idx)
    values = [v.numpy() for v in fn(*xs, *refs, targets.seed)]
    streams = values[len(order) + 1:]
    residuals = _fallback_residuals(inputs, order, modes, xs, refs, {
        id(layer): (streams[2 * i], streams[2 * i + 1]) for i, layer in enumerate(fallbacks)})
    values = values[:len(order) + 1]
    target_diff = targets.target_differences(values[-1])[0].astype(np.float64)

    def row(name, kind, rule, is_cut, contribs):
        flat = [c.reshape(num, -1).astype(np.float64) for c in contribs]
        summed = sum(c.sum(axis=1) for c in flat)
        magnitude = sum(np.abs(c).sum(axis=1) for c in flat)
        gap = float(relative_gaps(summed, target_diff, magnitude).max())
        return LayerConservation(name, kind, rule, is_cut, summed, gap)

    contribs = {id(layer): value[0] for layer, value in zip(order, values)}
    rows, cut_layers = [], []
    for layer in reversed(order):
        is_cut = layer is target or not _reaches_target(order, target, layer)
        rows.append(row(layer.name, type(layer).__name__, describe_rule(layer, modes), is_cut,
                        [contribs[id(layer)]]))
        rows[-1].residual = residuals.get(id(layer))
        cut_layers.append(layer if is_cut else None)
    input_layers = [layer for layer in order if isinstance(layer, Input)]
    if len(input_layers) > 1:
        rows.append(row(ALL_INPUTS, "Input", "input", True,
                        [contribs[id(layer)] for layer in input_layers]))
        cut_layers.append(input_layers)
    report = ConservationReport(target.name, task_idx, target_diff, rows, tolerance=tolerance)
    holding: list[Layer] = [target]
    for data, cut in zip(rows, cut_layers):
        if cut is None:
            continue
        cut = cut if isinstance(cut, list) else [cut]
        if data.gap <= tolerance:
            holding = cut
            continue
        report.failing_cut, report.holding_cut = data.name, holding[0].name
        above = {id(layer) for layer in graph.topological_order(holding)}
        below = {id(layer) for layer in cut}
        strictly_above_cut = {id(layer) for layer in graph.descendants(cut)} - below
        report.culprits = [layer.name for layer in order
                           if id(layer) in above and id(layer) in strictly_above_cut]
        break
    if verbose:
        print(report)
    return report
