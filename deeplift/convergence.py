"""The summation-to-delta check that every scoring call of the input layers runs.

For the Rescale and RevealCancel rules the contributions of all input layers
add up, per example, to the target's difference from reference
``t(x) - t(x0)`` (SEMANTICS.md). A scoring call that returns the input
layers' contributions already has both sides: the contributions, and the
target's difference, which rides along from the same forward pass. When they
disagree by more than ``RELATIVE_TOLERANCE`` the call warns once with a
``ConvergenceWarning`` naming the worst example, the likely layers and the
fix; ``deeplift.diagnostics.check_conservation`` then finds the layer.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from deeplift import graph
from deeplift.layers.base import Input, Layer
from deeplift.modes import MaxPoolDeepLiftMode, NonlinearMxtsMode

#: Relative gap above which a scoring call warns.
RELATIVE_TOLERANCE = 1e-3

#: Rules under which contributions must add up.
CONSERVING_MODES = (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel)


class ConvergenceWarning(UserWarning):
    """Contributions do not add up to the target's difference from reference."""


@dataclass(frozen=True)
class ConvergencePlan:
    """What one compiled scoring function checks.

    Attributes:
        positions: indices (among the scored layers) of the input layers'
            contributions, which together should add up.
        target_name: the target layer's name, for messages.
        suspects: descriptions of the layers whose rules are known not to
            conserve for every reference (gradient-mode max pools).
        fallbacks: descriptions of the layers converted by the opt-in
            fallback (path-averaged gradients), which conserve only up to a
            residual that shrinks with their number of steps.
    """

    positions: tuple[int, ...]
    target_name: str
    suspects: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()


def plan_check(scored_layers: Sequence[Layer], kinds: Sequence[str],
               target: Layer) -> ConvergencePlan | None:
    """The check for a scoring function, or None when it does not apply: some
    input layer upstream of the target is not scored with its contributions,
    or some nonlinearity uses a rule that does not conserve by design
    (Gradient, GuidedBackprop, DeconvNet, PassThrough, ...)."""
    from deeplift.layers.fallback import KerasFallback
    from deeplift.layers.pooling import _GlobalMaxPool, _MaxPool

    order = graph.topological_order([target])
    inputs = [layer for layer in order if isinstance(layer, Input)]
    positions = tuple(i for i, (layer, kind) in enumerate(zip(scored_layers, kinds))
                      if kind == "target_contribs" and layer in inputs)
    if {id(layer) for layer in inputs} != {id(scored_layers[i]) for i in positions}:
        return None
    modes = graph.resolve_modes(order)
    if any(mode not in CONSERVING_MODES for mode in modes.values()):
        return None
    suspects = tuple(
        f"{layer.name!r} ({type(layer).__name__}, maxpool_deeplift_mode=gradient)"
        for layer in order if isinstance(layer, (_MaxPool, _GlobalMaxPool))
        and layer.maxpool_deeplift_mode == MaxPoolDeepLiftMode.gradient)
    fallbacks = tuple(
        f"{layer.name!r} ({type(layer.keras_layer).__name__}, fallback, {layer.steps} steps)"
        for layer in order if isinstance(layer, KerasFallback))
    return ConvergencePlan(positions, target.name, suspects, fallbacks)


def relative_gaps(summed: np.ndarray, target_diff: np.ndarray,
                  magnitude: np.ndarray) -> np.ndarray:
    """``|sum(C) - delta| / max(|delta|, 0.01 * sum|C|, 1e-6)``, element-wise.

    The second term of the scale keeps float32 rounding of large,
    cancelling contributions from counting as a failure when ``delta`` is
    nearly zero.
    """
    scale = np.maximum(np.maximum(np.abs(target_diff), 1e-2 * magnitude), 1e-6)
    return np.abs(summed - target_diff) / scale


def warn_if_not_conserved(plan: ConvergencePlan, contribs: Sequence[np.ndarray],
                          target_diff: np.ndarray, tasks: Sequence[int]) -> None:
    """Warns once when some example's contributions miss ``delta``.

    Args:
        plan: from ``plan_check``.
        contribs: the input layers' contributions, each ``(T, N, ...)``.
        target_diff: ``(T, N)``, the target neuron's ``t(x) - t(x0)`` per task.
        tasks: the task indices, for the message.
    """
    num_tasks, num = target_diff.shape
    if num == 0:
        return
    summed = sum(c.reshape(num_tasks, num, -1).sum(axis=-1, dtype=np.float64) for c in contribs)
    magnitude = sum(np.abs(c.reshape(num_tasks, num, -1)).sum(axis=-1, dtype=np.float64)
                    for c in contribs)
    gaps = relative_gaps(summed, target_diff, magnitude)
    failing = gaps > RELATIVE_TOLERANCE
    if not failing.any():
        return
    task_pos, example = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
    task_text = f", task {tasks[task_pos]}" if num_tasks > 1 else ""
    causes = []
    if plan.suspects:
        causes.append(
            f"the max pool(s) {', '.join(plan.suspects)}, whose rule routes to the input's "
            f"arg-max and does not conserve where the reference's arg-max differs. Fix: "
            f"convert with maxpool_deeplift_mode='cross_max' (or pass it to the max pool "
            f"layers).")
    if plan.fallbacks:
        causes.append(
            f"the fallback layer(s) {', '.join(plan.fallbacks)}, whose path-averaged "
            f"gradients leave a residual that shrinks as the steps grow. Fix: convert with "
            f"a larger fallback_steps=K (or give the layer a rule through "
            f"custom_conversion_funcs).")
    cause = ("Likely layers: " + " Also ".join(causes) if causes
             else "No layer with a rule known not to conserve was found.")
    warnings.warn(
        f"Contributions do not add up to the target's difference from reference for "
        f"{int(failing.any(axis=0).sum())} of {num} examples (relative gap above "
        f"{RELATIVE_TOLERANCE:g}). Worst: example {int(example)}{task_text}: contributions "
        f"sum to {summed[task_pos, example]:.6g} but {plan.target_name}(x) - "
        f"{plan.target_name}(x0) = {target_diff[task_pos, example]:.6g} (relative gap "
        f"{gaps[task_pos, example]:.3g}). {cause} To find the layer that breaks it, run "
        f"deeplift.diagnostics.check_conservation(model, ...) or `deeplift check MODEL`.",
        ConvergenceWarning, stacklevel=3)
