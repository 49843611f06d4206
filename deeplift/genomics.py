"""The genomics workflow: shuffled references, hypothetical contributions,
integrated gradients and weight mean-normalisation.

The original package exposed these from ``deeplift.util``; they are
re-exported there under the same names.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Callable

import numpy as np

from deeplift.progress import ProgressReporter
from deeplift.targets import is_list_request, select_examples

__all__ = [
    "get_shuffle_seq_ref_function", "get_hypothetical_contribs_func_onehot",
    "get_integrated_gradients_function", "hypothetical_from_multipliers",
    "mean_normalise_weights_for_sequence_convolution",
    "mean_normalise_softmax_weights", "ConvergenceWarning",
    "check_convergence",
]


class ConvergenceWarning(UserWarning):
    """Summed contributions differ from the target's difference from
    reference by more than the tolerance (see ``check_convergence``)."""


def check_convergence(delta: np.ndarray, target_diff_scale: float = 1.0,
                      tolerance: float = 1e-3) -> np.ndarray:
    """Warns when any ``|delta|`` exceeds ``tolerance * max(1, scale)``.

    Args:
        delta: summed contributions minus ``t(x) - t(x0)``, any shape.
        target_diff_scale: typical magnitude of ``t(x) - t(x0)``.
        tolerance: relative tolerance.

    Returns:
        ``delta`` unchanged, so the check can wrap a computation.
    """
    delta = np.asarray(delta)
    limit = tolerance * max(1.0, float(target_diff_scale))
    worst = float(np.max(np.abs(delta))) if delta.size else 0.0
    if worst > limit:
        bad = int(np.sum(np.abs(delta) > limit))
        warnings.warn(
            f"{bad} of {delta.size} scores do not sum to the target's difference "
            f"from reference (largest gap {worst:.3g} > {limit:.3g}). Expected "
            f"for Gradient/GuidedBackprop modes and for max pools whose "
            f"reference varies inside a window; otherwise check the model.",
            ConvergenceWarning, stacklevel=2)
    return delta


def _call_shuffle(shuffle_func: Callable, seq, num_shufs: int, rng: np.random.RandomState):
    """``num_shufs`` shuffles of ``seq``, one ``shuffle_func(seq, rng=rng)``
    call each when ``shuffle_func`` takes ``rng`` (as 0.6.13 called it, so
    ``deeplift.dinuc_shuffle`` with the same seed gives 0.6.13's references),
    else ``shuffle_func(seq)``."""
    try:
        params = inspect.signature(shuffle_func).parameters
    except (TypeError, ValueError):
        params = {}
    if "rng" in params:
        return [shuffle_func(seq, rng=rng) for _ in range(num_shufs)]
    return [shuffle_func(seq) for _ in range(num_shufs)]


def get_shuffle_seq_ref_function(score_computation_function: Callable, shuffle_func: Callable,
                                 one_hot_func: Callable | None = None):
    """Wraps a scoring function so that each sequence is scored against
    several shuffled versions of itself and the scores are averaged.

    Args:
        score_computation_function: ``f(task_idx, input_data_list,
            input_references_list, batch_size, progress_update,
            target_weights=None)`` such as a contributions, multipliers or
            hypothetical-contributions function (``target_weights`` is only
            passed when given).
        shuffle_func: ``shuffle_func(seq, num_shufs=, rng=)`` (e.g.
            ``deeplift.dinuc_shuffle.dinuc_shuffle``) or plain ``f(seq)``.
        one_hot_func: turns a list of sequences (as given, e.g. strings) into
            an array ``(n, L, A)``; None when sequences are already arrays.

    Returns:
        ``g(task_idx, input_data_sequences, num_refs_per_seq, batch_size,
        seed=1, progress_update=None, pregen_refs=None, target_weights=None)``
        returning the mean score ``(N, L, A)`` (a list of those for a list of
        tasks or of weight arrays). The same references serve every task (one
        forward pass per batch), and sequence x reference pairs are scored
        ``batch_size`` at a time, so memory does not grow with the number of
        references. ``pregen_refs``: references to use instead, shape
        ``(N, num_refs_per_seq, L, A)`` or ``(N * num_refs_per_seq, L, A)``.
        ``target_weights`` (instead of ``task_idx``, see
        ``TargetScoringFunction``): per-example weights ``(N, *target_shape)``
        go with their sequence to each of its references; shared weights are
        passed unchanged. ``seed`` may also be a ``numpy.random.RandomState``,
        which then continues its stream (scoring sequences chunk by chunk
        with one generator gives the references of one call).
    """
    target_shape = getattr(score_computation_function, "target_shape", None)

    def compute_scores_with_shuffle_seq_refs(task_idx=None, input_data_sequences=None,
                                             num_refs_per_seq=None, batch_size=None, seed=1,
                                             progress_update=None, pregen_refs=None,
                                             target_weights=None):
        if input_data_sequences is None or batch_size is None:
            raise ValueError("input_data_sequences and batch_size are required.")
        if not isinstance(num_refs_per_seq, (int, np.integer)) or num_refs_per_seq < 1:
            raise ValueError(f"num_refs_per_seq must be a positive int; got {num_refs_per_seq!r}.")
        sequences = list(input_data_sequences)
        num_seqs = len(sequences)
        if num_seqs == 0:    # empty scores shaped by the scoring function
            empty = input_data_sequences if one_hot_func is None else one_hot_func([])
            empty = np.asarray(empty, np.float32)
            return score_computation_function(
                task_idx=task_idx, input_data_list=[empty], input_references_list=[empty],
                batch_size=batch_size, progress_update=None)
        if pregen_refs is not None:
            pregen_refs = np.asarray(pregen_refs, np.float32)
            pregen_refs = pregen_refs.reshape((num_seqs, num_refs_per_seq) + pregen_refs.shape[-2:])
        # as 0.6.13, for identical references; a RandomState continues its stream
        rng = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
        seqs_per_chunk = max(1, int(batch_size) // int(num_refs_per_seq))
        is_list = is_list_request(task_idx, target_weights)
        means = None
        progress = ProgressReporter(num_seqs, progress_update, "sequences")
        for start in range(0, num_seqs, seqs_per_chunk):
            chunk = sequences[start:start + seqs_per_chunk]
            if pregen_refs is None:
                refs = [ref for seq in chunk
                        for ref in _call_shuffle(shuffle_func, seq, num_refs_per_seq, rng)]
            else:
                refs = list(pregen_refs[start:start + len(chunk)].reshape(
                    (-1,) + pregen_refs.shape[-2:]))
            repeated = [seq for seq in chunk for _ in range(num_refs_per_seq)]
            if one_hot_func is not None:
                repeated, refs = one_hot_func(repeated), one_hot_func(refs)
            weights = {}
            if target_weights is not None:
                rows = np.repeat(np.arange(start, start + len(chunk)), num_refs_per_seq)
                weights["target_weights"] = select_examples(target_weights, rows, num_seqs,
                                                            target_shape)
            scores = score_computation_function(
                task_idx=task_idx, input_data_list=[np.asarray(repeated, np.float32)],
                input_references_list=[np.asarray(refs, np.float32)],
                batch_size=batch_size, progress_update=None, **weights)
            per_task = scores if is_list else [scores]
            chunk_means = [np.asarray(s).reshape((len(chunk), num_refs_per_seq) + np.shape(s)[1:])
                           .mean(axis=1) for s in per_task]
            if means is None:
                means = [[m] for m in chunk_means]
            else:
                for acc, m in zip(means, chunk_means):
                    acc.append(m)
            progress.update(len(chunk))
        progress.close()
        results = [np.concatenate(m, axis=0) for m in means]
        return results if is_list else results[0]

    compute_scores_with_shuffle_seq_refs.target_shape = target_shape
    return compute_scores_with_shuffle_seq_refs


def get_hypothetical_contribs_func_onehot(multipliers_function: Callable):
    """Hypothetical contributions of every letter at every position.

    For one-hot input ``(n, L, A)`` with multipliers ``m`` and reference
    ``r``, the hypothetical contribution of letter ``a`` at position ``i`` is
    ``sum_c (onehot_a[c] - r[i, c]) * m[i, c] = m[i, a] - sum_c r[i, c] m[i, c]``:
    what position ``i`` would contribute if it held ``a``. Multiplying by the
    actual one-hot input gives the actual contributions projected on the
    present letter (exactly the contributions for a zero reference).

    Args:
        multipliers_function: from ``get_target_multipliers_func`` with the
            one-hot input layer as the scored layer.

    Returns:
        ``f(task_idx, input_data_list, input_references_list, batch_size,
        progress_update=None, target_weights=None)`` returning ``(n, L, A)``
        (a list per target for a list of tasks or of weight arrays).
    """

    def hypothetical_contribs(task_idx=None, input_data_list=None, input_references_list=None,
                              batch_size=100, progress_update=None, target_weights=None):
        weights = {} if target_weights is None else {"target_weights": target_weights}
        multipliers = multipliers_function(
            task_idx=task_idx, input_data_list=input_data_list,
            input_references_list=input_references_list, batch_size=batch_size,
            progress_update=progress_update, **weights)
        refs = (input_references_list[0] if isinstance(input_references_list, (list, tuple))
                else input_references_list)
        is_list = is_list_request(task_idx, target_weights)
        per_task = multipliers if is_list else [multipliers]
        results = [hypothetical_from_multipliers(m, refs) for m in per_task]
        return results if is_list else results[0]

    hypothetical_contribs.target_shape = getattr(multipliers_function, "target_shape", None)
    return hypothetical_contribs


def hypothetical_from_multipliers(multipliers: np.ndarray, references) -> np.ndarray:
    """``m[i, a] - sum_c r[i, c] m[i, c]`` (see
    ``get_hypothetical_contribs_func_onehot``) for multipliers ``(n, L, A)``
    and references broadcastable to them."""
    refs = np.broadcast_to(np.asarray(references, np.float32), np.shape(multipliers))
    return multipliers - np.sum(refs * multipliers, axis=-1, keepdims=True)


def get_integrated_gradients_function(gradient_computation_function: Callable,
                                      num_intervals: int):
    """Integrated gradients by a midpoint Riemann sum.

    Args:
        gradient_computation_function: multipliers function of a model
            converted with ``NonlinearMxtsMode.Gradient`` (its multipliers are
            the gradients).
        num_intervals: number of steps between the reference and the input.

    Returns:
        ``f(task_idx, input_data_list, input_references_list, batch_size,
        progress_update=None, target_weights=None)`` returning, per input,
        the mean gradient at ``x0 + (k + 1/2) / num_intervals * (x - x0)``
        for ``k < num_intervals``, times ``x - x0``. Per-example
        ``target_weights`` go with their example to each of its points.
    """
    if not isinstance(num_intervals, (int, np.integer)) or num_intervals < 1:
        raise ValueError(f"num_intervals must be a positive int; got {num_intervals!r}.")
    fractions = (np.arange(num_intervals, dtype=np.float32) + 0.5) / num_intervals
    target_shape = getattr(gradient_computation_function, "target_shape", None)

    def integrated_gradients(task_idx=None, input_data_list=None, input_references_list=None,
                             batch_size=100, progress_update=None, target_weights=None):
        single = not isinstance(input_data_list, (list, tuple))
        data = [np.asarray(d, np.float32) for d in ([input_data_list] if single else input_data_list)]
        refs = input_references_list
        refs = [refs] if single or not isinstance(refs, (list, tuple)) else refs
        refs = [np.broadcast_to(np.asarray(r, np.float32), d.shape) for r, d in zip(refs, data)]
        num = data[0].shape[0]
        # Interpolation points ordered example-major: (n * num_intervals, ...).
        points = [(r[:, None] + fractions.reshape((1, -1) + (1,) * (d.ndim - 1)) * (d - r)[:, None])
                  .reshape((-1,) + d.shape[1:]) for d, r in zip(data, refs)]
        weights = {}
        if target_weights is not None:
            weights["target_weights"] = select_examples(
                target_weights, np.repeat(np.arange(num), num_intervals), num, target_shape)
        grads = gradient_computation_function(
            task_idx=task_idx, input_data_list=points, input_references_list=[0.0] * len(points),
            batch_size=batch_size, progress_update=progress_update, **weights)
        is_list = is_list_request(task_idx, target_weights)
        per_task = grads if is_list else [grads]
        results = []
        for g in per_task:
            g_list = g if isinstance(g, list) else [g]
            out = [np.asarray(gi).reshape((num, num_intervals) + d.shape[1:]).mean(axis=1) * (d - r)
                   for gi, d, r in zip(g_list, data, refs)]
            results.append(out if isinstance(g, list) else out[0])
        return results if is_list else results[0]

    integrated_gradients.target_shape = target_shape
    return integrated_gradients


def mean_normalise_weights_for_sequence_convolution(weights: np.ndarray, bias: np.ndarray,
                                                    axis_of_normalisation: int = -2,
                                                    dim_ordering=None):
    """Centres a first-layer convolution on one-hot DNA across the alphabet.

    Because every position of a one-hot sequence holds exactly one letter,
    subtracting the per-position mean over letters from the kernel and adding
    the removed amount to the bias leaves the outputs unchanged, while
    contributions no longer credit "being a base at all".

    Args:
        weights: kernel, Keras layout ``(width, A, filters)`` by default.
        bias: ``(filters,)``.
        axis_of_normalisation: the alphabet axis of ``weights``.
        dim_ordering: ignored (kept for the original signature).

    Returns:
        ``(new_weights, new_bias)``.
    """
    del dim_ordering
    weights = np.asarray(weights, np.float32)
    mean = weights.mean(axis=axis_of_normalisation, keepdims=True)
    new_weights = weights - mean
    filter_axis = weights.ndim - 1
    other_axes = tuple(a for a in range(weights.ndim) if a != filter_axis)
    new_bias = np.asarray(bias, np.float32) + mean.sum(axis=other_axes)
    return new_weights, new_bias


def mean_normalise_softmax_weights(weights: np.ndarray, biases: np.ndarray):
    """Subtracts the mean over classes from the logit layer's weights and
    biases (paper, section 3.6): softmax is unchanged, and a feature that
    pushes every logit up equally then contributes to no class.

    Args:
        weights: Dense kernel ``(in_features, classes)``.
        biases: ``(classes,)``.

    Returns:
        ``(new_weights, new_biases)``.
    """
    weights = np.asarray(weights, np.float32)
    biases = np.asarray(biases, np.float32)
    return (weights - weights.mean(axis=1, keepdims=True), biases - biases.mean())
