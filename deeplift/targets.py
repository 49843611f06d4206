"""Targets: what the backward pass explains, normalised once into a seed.

A scoring function explains a scalar *target* per example. It is one neuron
of the target layer (``task_idx``: a flat index into the layer, or an index
tuple such as ``(position, track)`` for an N-d layer) or a weighted sum of
its neurons, ``t = sum_j w_j t_j`` (``target_weights``: an array of the
target layer's per-example shape, shared by every example, or one such
array per example ``(N, *target_shape)``). The weights are constants: their
multipliers are not propagated into, so contributions sum to
``sum_j w_j (t_j(x) - t_j(x0))``.

Every form becomes one float32 *seed* ``(T, B, *target_shape)``: ``T``
targets answered from one backward pass, ``B`` 1 (shared) or ``N`` (per
example). The compiled core multiplies nothing and special-cases nothing: the
seed is the target layer's ``m+ = m-``. A one-hot seed is exactly the old
``task_idx``.

``profile_weights`` and ``mse_weights`` only compute weights for
``target_weights``: the detached-softmax weighting of profile heads
(BPNet/ChromBPNet) and the weights that explain a mean squared error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "Targets", "resolve_targets", "is_list_request", "select_examples",
    "task_weights", "flat_task_index", "profile_weights", "mse_weights",
]


def _layer_shape(layer) -> tuple:
    """The target layer's per-example shape (``None`` for unknown sizes)."""
    return tuple(layer.get_shape()[1:])


def _describe_shape(shape: Sequence) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def flat_task_index(task, shape: Sequence, layer_name: str) -> int:
    """The flat (row-major) index of neuron ``task`` of a target layer.

    Args:
        task: an int (already flat) or a tuple of ints, one per axis of
            ``shape``.
        shape: the target layer's per-example shape.
        layer_name: named in errors.

    Raises:
        ValueError: ``task`` is neither, has the wrong length, is out of
            range, or the layer has dimensions of unknown size.
    """
    if any(d is None for d in shape):
        raise ValueError(
            f"Target layer {layer_name!r} has a shape with unknown dimensions "
            f"{_describe_shape(shape)}; its neurons cannot be indexed. Use "
            f"target_weights= with an array of the data's target shape instead.")
    size = int(np.prod(shape))
    if isinstance(task, tuple):
        bad = [i for i in task if isinstance(i, (bool, np.bool_))
               or not isinstance(i, (int, np.integer))]
        if bad or len(task) != len(shape):
            raise ValueError(
                f"task index tuple {task!r} must hold one int per axis of target layer "
                f"{layer_name!r}, whose neurons have shape {_describe_shape(shape)} "
                f"({len(shape)} axes); for several tasks pass a list, e.g. "
                f"[{', '.join(str(i) for i in task)}].")
        for axis, (i, dim) in enumerate(zip(task, shape)):
            if not 0 <= i < dim:
                raise ValueError(
                    f"task index {task!r} is out of range for target layer {layer_name!r} "
                    f"of shape {_describe_shape(shape)}: axis {axis} takes 0 to {dim - 1}.")
        return int(np.ravel_multi_index(tuple(int(i) for i in task), tuple(shape)))
    if isinstance(task, (bool, np.bool_)) or not isinstance(task, (int, np.integer)):
        raise ValueError(
            f"task_idx must be an int, a tuple of ints (one per axis of the target layer) "
            f"or a list of those; got {task!r} ({type(task).__name__}).")
    if not 0 <= task < size:
        raise ValueError(
            f"task index {int(task)} is out of range for target layer {layer_name!r}, "
            f"which has {size} neurons: valid task indices are 0 to {size - 1}.")
    return int(task)


def task_weights(task, shape: Sequence, layer_name: str = "target") -> np.ndarray:
    """The one-hot weights ``(*shape)`` equivalent to ``task_idx=task``."""
    weights = np.zeros(int(np.prod(shape)), np.float32)
    weights[flat_task_index(task, shape, layer_name)] = 1.0
    return weights.reshape(tuple(shape))


def is_list_request(task_idx=None, target_weights=None) -> bool:
    """Whether a call asks for several targets (and gets a list back): a list
    (or 1-d array) of task indices, or a list/tuple of weight arrays."""
    if target_weights is not None:
        return isinstance(target_weights, (list, tuple))
    return isinstance(task_idx, (list, np.ndarray))


def _per_example(weights: np.ndarray, num_examples: int, shape: Sequence | None,
                 layer_name: str) -> bool:
    """Whether ``weights`` hold one array per example (``(N, *shape)``) rather
    than one shared array (``shape``). With ``shape`` unknown, an array whose
    first axis is not ``N`` (or a 1-d array: targets have >= 1 axis) is
    shared, and anything else is ambiguous."""
    if shape is None:
        if weights.ndim <= 1 or weights.shape[0] != num_examples:
            return False
        raise ValueError(
            f"Cannot tell whether target_weights of shape {weights.shape} are one array per "
            f"example ({num_examples} examples) or one shared array: the scoring function "
            f"does not say its target shape. Give it a `target_shape` attribute (the target "
            f"layer's per-example shape), as the library's scoring functions have.")
    shape = tuple(shape)
    matches = len(weights.shape) in (len(shape), len(shape) + 1) and all(
        d is None or d == w for d, w in zip(shape[::-1], weights.shape[::-1]))
    if not matches:
        raise ValueError(
            f"target_weights for target layer {layer_name!r} must have the layer's "
            f"per-example shape {_describe_shape(shape)} (shared by every example) or "
            f"(N, *that) = {_describe_shape((num_examples,) + shape)} (one per example); "
            f"got shape {weights.shape}.")
    if weights.ndim == len(shape):
        return False
    if weights.shape[0] != num_examples:
        raise ValueError(
            f"target_weights of shape {weights.shape} hold weights for {weights.shape[0]} "
            f"examples but {num_examples} examples were given.")
    return True


def select_examples(target_weights, rows: np.ndarray, num_examples: int,
                    target_shape: Sequence | None = None):
    """Picks per-example weights for the examples ``rows`` (e.g. each
    sequence repeated once per reference); shared weights pass unchanged.

    Args:
        target_weights: None, an array, or a list/tuple of arrays.
        rows: int ``(M,)`` indices into the ``num_examples`` examples.
        num_examples: the number of examples the weights were given for.
        target_shape: the target layer's per-example shape, or None when the
            caller does not know it (see ``_per_example``).

    Returns:
        The same structure, per-example arrays replaced by ``array[rows]``.
    """
    if target_weights is None:
        return None
    many = isinstance(target_weights, (list, tuple))
    picked = []
    for weights in (target_weights if many else [target_weights]):
        weights = np.asarray(weights, np.float32)
        per_example = _per_example(weights, num_examples, target_shape, "target")
        picked.append(weights[rows] if per_example else weights)
    return picked if many else picked[0]


@dataclass(frozen=True)
class Targets:
    """The normalised targets of one scoring call.

    Attributes:
        seed: float32 ``(T, B, *target_shape)``: the target layer's
            multipliers, ``B`` 1 (shared by every example) or ``N``.
        is_list: the caller asked for a list of targets (results are a list).
    """

    seed: np.ndarray
    is_list: bool

    @property
    def num_targets(self) -> int:
        return self.seed.shape[0]

    @property
    def per_example(self) -> bool:
        return self.seed.shape[1] != 1

    def batch(self, rows: slice) -> np.ndarray:
        """The seed for examples ``rows``."""
        return self.seed[:, rows] if self.per_example else self.seed

    def target_differences(self, diff: np.ndarray) -> np.ndarray:
        """``sum_j w_j (t_j(x) - t_j(x0))`` ``(T, N)`` from the target
        layer's difference from reference ``diff`` ``(N, *target_shape)``."""
        num, size = diff.shape[0], int(np.prod(diff.shape[1:]))
        weights = np.broadcast_to(self.seed, (self.num_targets, num) + diff.shape[1:])
        return np.einsum("tnj,nj->tn", weights.reshape(self.num_targets, num, size),
                         diff.reshape(num, size).astype(np.float32))


def resolve_targets(target_layer, num_examples: int, task_idx=None,
                    target_weights=None) -> Targets:
    """Normalises ``task_idx`` or ``target_weights`` into one seed.

    Args:
        target_layer: the layer the targets live in.
        num_examples: ``N``, the number of examples scored.
        task_idx: an int (flat neuron index), a tuple of ints (an index per
            axis of the layer's per-example shape), or a list (or 1-d int
            array) of those for several targets in one pass.
        target_weights: instead of ``task_idx``, weights of the layer's
            per-example shape, or ``(N, *shape)`` per example, or a
            list/tuple of such arrays for several targets.

    Raises:
        ValueError: both or neither are given, an index is malformed or out
            of range, or weights have the wrong shape or are not finite.
    """
    name = target_layer.name
    shape = _layer_shape(target_layer)
    if (task_idx is None) == (target_weights is None):
        raise ValueError(
            "Give exactly one of task_idx (a neuron index of the target layer: an int, "
            "a tuple of ints, or a list of those) and target_weights (weights of the "
            f"target layer's shape {_describe_shape(shape)}, or per example (N, *shape)); "
            f"got {'both' if task_idx is not None else 'neither'}.")
    is_list = is_list_request(task_idx, target_weights)
    if task_idx is not None:
        if isinstance(task_idx, np.ndarray) and task_idx.ndim != 1:
            raise ValueError(f"task_idx as an array must be 1-d (flat indices); got shape "
                             f"{task_idx.shape}.")
        tasks = list(task_idx) if is_list else [task_idx]
        if not tasks:
            raise ValueError("task_idx is an empty list; give at least one task index.")
        flat = [flat_task_index(task, shape, name) for task in tasks]
        seed = np.zeros((len(flat), int(np.prod(shape))), np.float32)
        seed[np.arange(len(flat)), flat] = 1.0
        return Targets(seed.reshape((len(flat), 1) + shape), is_list)
    arrays = list(target_weights) if is_list else [target_weights]
    if not arrays:
        raise ValueError("target_weights is an empty list; give at least one weight array.")
    weights, per_example = [], []
    for k, array in enumerate(arrays):
        what = f"target_weights[{k}]" if is_list else "target_weights"
        try:
            array = np.asarray(array, np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a numeric array; got "
                             f"{type(array).__name__}.") from None
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{what} contains NaN or inf values; weights must be finite.")
        try:
            per_example.append(_per_example(array, num_examples, shape, name))
        except ValueError as err:
            raise ValueError(f"{what}: {err}") from None
        weights.append(array)
    rows = num_examples if any(per_example) else 1
    seed = np.stack([np.broadcast_to(w if p else w[None], (rows,) + w.shape[-len(shape):])
                     for w, p in zip(weights, per_example)])
    return Targets(np.ascontiguousarray(seed, np.float32), is_list)


def profile_weights(logits, axis: int = 1) -> np.ndarray:
    """Weights of the profile-head target of BPNet/ChromBPNet.

    The target is the mean-normalised logits weighted by their (detached)
    softmax, ``sum_i p_i (l_i - mean(l))`` with ``p = softmax(l)`` over the
    profile axis; since ``sum_i p_i = 1`` it equals ``sum_i w_i l_i`` with
    ``w = p - 1/L``. Pass the result as ``target_weights`` with the logits
    layer as target; compute it from each example's own prediction.

    Args:
        logits: ``(N, L, ...)`` profile logits (e.g. ``(N, L, tracks)``).
        axis: the profile (position) axis, softmax is taken over it; each
            slice along the other axes (e.g. each track) is its own
            distribution.

    Returns:
        float32 weights of the logits' shape; they sum to 0 along ``axis``.
    """
    logits = np.asarray(logits, np.float64)
    if logits.ndim < 2:
        raise ValueError(f"profile_weights expects logits (N, L, ...) with a leading "
                         f"example axis; got shape {logits.shape}.")
    if not -logits.ndim < axis < logits.ndim or axis % logits.ndim == 0:
        raise ValueError(f"profile_weights: axis={axis} must name a non-example axis of "
                         f"logits of shape {logits.shape} (1 to {logits.ndim - 1}).")
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    probs = shifted / shifted.sum(axis=axis, keepdims=True)
    return (probs - 1.0 / logits.shape[axis]).astype(np.float32)


def mse_weights(pred, pred_ref, y) -> np.ndarray:
    """Weights that explain a mean squared error.

    ``MSE(p, y) - MSE(p0, y) = mean_d((p - p0)(p + p0 - 2y))``, so with
    ``w = (p + p0 - 2y) / D`` (``D`` the size of the last axis, the axis the
    MSE averages over) the weighted target ``sum w (p - p0)`` is exactly the
    change in loss between reference and input. Use the predictions layer
    (linear output) as target, ``pred``/``pred_ref`` its values on the inputs
    and on their references; contributions then sum per example to
    ``MSE(pred, y) - MSE(pred_ref, y)`` (summed over any axes between the
    example axis and the last). The weights depend on the reference, so use
    one per (example, reference) pair.

    Args:
        pred: ``(N, ..., D)`` predictions for the inputs.
        pred_ref: predictions for the references, broadcastable to ``pred``.
        y: targets (labels), broadcastable to ``pred``.

    Returns:
        float32 ``(N, ..., D)`` per-example weights.
    """
    pred = np.asarray(pred, np.float64)
    if pred.ndim < 2:
        raise ValueError(f"mse_weights expects predictions (N, ..., D) with a leading "
                         f"example axis; got shape {pred.shape}.")
    try:
        pred_ref, y = (np.broadcast_to(np.asarray(a, np.float64), pred.shape)
                       for a in (pred_ref, y))
    except ValueError:
        raise ValueError(
            f"mse_weights: pred_ref of shape {np.shape(pred_ref)} and y of shape "
            f"{np.shape(y)} must broadcast to pred's shape {pred.shape}.") from None
    return ((pred + pred_ref - 2.0 * y) / pred.shape[-1]).astype(np.float32)
