"""Batching, input normalisation and the original package's utility API.

Inputs, references and tasks are normalised here, once, at the boundary, so
the compiled core only ever sees float32 arrays of known shapes.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from deeplift.genomics import (  # noqa: F401  (the original deeplift.util names)
    get_hypothetical_contribs_func_onehot, get_integrated_gradients_function,
    get_shuffle_seq_ref_function, mean_normalise_softmax_weights,
    mean_normalise_weights_for_sequence_convolution,
)
from deeplift import graph
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.legacy import (  # noqa: F401  (the original's names)
    NEAR_ZERO_THRESHOLD, assert_is_not_type, assert_is_type, enum, is_type,
)
from deeplift.progress import ProgressReporter
from deeplift.scoring import build_graph_function
from deeplift.targets import resolve_targets

__all__ = [
    "compile_func", "run_function_in_batches", "connect_list_of_layers",
    "format_inputs", "format_references", "ProgressReporter",
    "NEAR_ZERO_THRESHOLD", "enum", "is_type", "assert_is_type", "assert_is_not_type",
]


def _example_shape_matches(layer: Input, shape: tuple) -> bool:
    expected = layer.get_batch_shape()[1:]
    return len(shape) == len(expected) and all(
        e is None or e == s for e, s in zip(expected, shape))


def as_batch(array: np.ndarray, layer: Input) -> np.ndarray:
    """``array``, or an empty ``[]`` given for zero examples reshaped to
    ``(0, *example_shape)`` of ``layer`` (when that shape is fully known)."""
    example_shape = layer.get_batch_shape()[1:]
    if array.shape == (0,) and len(example_shape) > 0 and None not in example_shape:
        return array.reshape((0,) + tuple(example_shape))
    return array


def stand_in_for_empty(arrays: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """For zero examples, one all-zero example per array (``(1, ...)``), to
    run in their place so that results get their shapes, then be cut to
    ``[:0]`` on the example axis; None when there are examples. (Compiled
    graphs are not run on empty batches: some TensorFlow kernels mishandle
    them.)"""
    if not arrays or np.shape(arrays[0])[0] != 0:
        return None
    return [np.zeros((1,) + tuple(np.shape(a)[1:]), np.float32) for a in arrays]


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array.reshape(array.shape[0], -1)))[0][0] if array.ndim else 0
        kind = "NaN" if np.isnan(array).any() else "inf"
        raise ValueError(
            f"{what} contains {kind} values (first in example {bad}); DeepLIFT "
            f"needs finite NaN-free and inf-free inputs."
        )


def _as_list_by_input(values, input_layers: Sequence[Input], argument: str) -> list:
    """Accepts a list/tuple (input order), a dict by input name, or a bare
    array when there is one input."""
    names = [layer.name for layer in input_layers]
    if isinstance(values, dict):
        unknown = sorted(set(values) - set(names))
        missing = [n for n in names if n not in values]
        if unknown or missing:
            raise ValueError(
                f"{argument} is keyed by input layer name; expected keys "
                f"{names}, missing {missing}, unknown {unknown}."
            )
        return [values[n] for n in names]
    if isinstance(values, (list, tuple)):
        values = list(values)
    elif len(input_layers) == 1:
        values = [values]
    else:
        raise ValueError(
            f"{argument} must be a list with one array per input layer "
            f"{names} (or a dict keyed by those names); got {type(values).__name__}."
        )
    if len(values) != len(input_layers):
        raise ValueError(
            f"{argument}: the model has {len(input_layers)} input layer(s) "
            f"{names} but {len(values)} input array(s) were received."
        )
    return values


def format_inputs(input_data_list, input_layers: Sequence[Input]) -> list[np.ndarray]:
    """Validates the input arrays: count, float32, shape, finiteness.

    Returns:
        One float32 array ``(N, ...)`` per input layer, all with the same N.
    """
    arrays = []
    for layer, value in zip(input_layers, _as_list_by_input(input_data_list, input_layers,
                                                           "input_data_list")):
        array = as_batch(np.asarray(value, dtype=np.float32), layer)
        if array.ndim == 0 or not _example_shape_matches(layer, array.shape[1:]):
            raise ValueError(
                f"Input {layer.name!r}: expected data of shape "
                f"{layer.get_batch_shape()} (first axis = examples); got shape "
                f"{array.shape}."
            )
        _check_finite(array, f"Input {layer.name!r}")
        arrays.append(array)
    counts = {array.shape[0] for array in arrays}
    if len(counts) > 1:
        raise ValueError(
            f"All inputs must have the same number of examples; got "
            f"{[a.shape[0] for a in arrays]} for {[l.name for l in input_layers]}."
        )
    return arrays


_warned_default_reference = False


def format_references(input_references_list, input_layers: Sequence[Input],
                      inputs: Sequence[np.ndarray]) -> list[tuple[np.ndarray, bool]]:
    """Normalises references: one ``(array, per_example)`` pair per input.

    Each reference may be an array shaped like the data (one reference per
    example), an array broadcastable to one example (shared by every
    example, returned with a leading axis of 1), or a scalar. ``None`` means
    all-zero references (with a one-time warning).
    """
    global _warned_default_reference
    if input_references_list is None:
        if not _warned_default_reference:
            warnings.warn("No input_references_list given: using all-zero references.",
                          stacklevel=3)
            _warned_default_reference = True
        input_references_list = [0.0] * len(input_layers)
    refs = _as_list_by_input(input_references_list, input_layers, "input_references_list")
    formatted = []
    for layer, ref, data in zip(input_layers, refs, inputs):
        ref = np.asarray(ref, dtype=np.float32)
        example_shape = data.shape[1:]
        if ref.shape == data.shape and data.shape[0] != 1:
            formatted.append((ref, True))
        else:
            shared = ref[0] if ref.ndim == data.ndim and ref.shape[0] == 1 else ref
            try:
                shared = np.broadcast_to(shared, example_shape)
            except ValueError:
                raise ValueError(
                    f"Reference for input {layer.name!r} has shape {ref.shape}, "
                    f"which matches neither the data shape {data.shape} nor one "
                    f"example's shape {example_shape} (or anything broadcastable "
                    f"to it)."
                ) from None
            formatted.append((np.ascontiguousarray(shared[None]), False))
        _check_finite(formatted[-1][0], f"Reference for input {layer.name!r}")
    return formatted


def iterate_batches(num_examples: int, batch_size: int):
    """Yields ``slice`` objects covering ``range(num_examples)``."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    for start in range(0, num_examples, batch_size):
        yield slice(start, min(start + batch_size, num_examples))


def repeated_rows(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Finds runs of identical consecutive examples, e.g. one sequence
    repeated once per reference it is scored against.

    Args:
        arrays: one array ``(N, ...)`` per input; an example is repeated when
            it equals the one before it in every input.

    Returns:
        ``(first, rows)``: the index of the first example of each run
        ``(M,)`` and, for every example, the number of its run ``(N,)``;
        or None when at most half of the examples repeat the one before, so
        that scoring them once each would not pay for the bookkeeping.
    """
    num = arrays[0].shape[0]
    if num < 2:
        return None
    flats = [array.reshape(num, -1) for array in arrays]
    repeats = np.ones(num - 1, bool)
    for flat in flats:  # a cheap first pass on a few leading features
        head = flat[:, :16]
        repeats &= np.all(head[1:] == head[:-1], axis=1)
    for flat in flats:
        if 2 * int(repeats.sum()) < num:
            return None
        candidates = np.flatnonzero(repeats)
        repeats[candidates] = np.all(flat[candidates + 1] == flat[candidates], axis=1)
    if 2 * int(repeats.sum()) < num:
        return None
    starts_run = np.concatenate([[True], ~repeats])
    return np.flatnonzero(starts_run), (np.cumsum(starts_run) - 1).astype(np.int32)


def run_function_in_batches(func: Callable, input_data_list, learning_phase=None,
                            batch_size: int = 10, progress_update: int | None = 1000,
                            multimodal_output: bool = False):
    """Calls ``func(list_of_batch_arrays)`` on consecutive batches and
    concatenates the results along the first axis.

    Args:
        func: takes a list of arrays (one per input) and returns an array, or
            a list of arrays when ``multimodal_output`` is True.
        input_data_list: list of arrays with the same first dimension.
        learning_phase: ignored (kept for the original signature).
        batch_size: examples per call.
        progress_update: report progress every this many examples (None: silent).
        multimodal_output: ``func`` returns a list of arrays.
    """
    del learning_phase
    input_data_list = [np.asarray(a) for a in input_data_list]
    stand_in = stand_in_for_empty(input_data_list)
    if stand_in is not None:   # zero examples: empty results shaped like func's
        out = func(stand_in)
        pieces = out if multimodal_output else [out]
        empty = [np.asarray(p)[:0] for p in pieces]
        return empty if multimodal_output else empty[0]
    total = len(input_data_list[0])
    progress = ProgressReporter(total, progress_update)
    pieces = []
    for batch in iterate_batches(total, batch_size):
        out = func([a[batch] for a in input_data_list])
        pieces.append(out if multimodal_output else [out])
        progress.update(batch.stop - batch.start)
    progress.close()
    merged = [np.concatenate([np.asarray(p[i]) for p in pieces], axis=0)
              for i in range(len(pieces[0]))]
    return merged if multimodal_output else merged[0]


def connect_list_of_layers(deeplift_layers: Sequence[Layer]) -> None:
    """Chains layers: each one's input is the previous one."""
    for previous, layer in zip(deeplift_layers[:-1], deeplift_layers[1:]):
        layer.set_inputs(previous)


def _one_input_as_list(value, inputs: Sequence[SymbolicVar]) -> list:
    """The argument of a one-input compiled function as a one-element list.

    Accepts, as the original did, a bare array or a list of per-example
    arrays as well as a one-element list: a list of length 1 wraps the array
    when its element has the input's rank (batch axis included), and is one
    example otherwise.
    """
    rank = len(inputs[0].layer.get_batch_shape())
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and np.ndim(value[0]) == rank:
            return list(value)
        return [np.asarray(value, dtype=np.float32)]
    return [value]


def compile_func(inputs: Sequence[SymbolicVar], outputs):
    """Compiles symbolic quantities into a callable, as in the original API.

    Args:
        inputs: activation (and, for anything beyond a forward pass,
            reference) vars of ``Input`` layers, in the order the callable
            will receive arrays (a single var may be passed bare).
        outputs: one ``SymbolicVar`` or a list of them.

    Returns:
        ``f(list_of_arrays)`` returning one array or a list; with one input
        var, ``f`` also takes the array bare (or as a list of per-example
        arrays). Targets are the layers (activation layers included)
        downstream of the outputs on which ``set_scoring_mode`` was called; their ``set_active``/``update_task_index`` state is read at
        call time, so changing it after compiling is honoured.
    """
    single = isinstance(outputs, SymbolicVar)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, SymbolicVar) else list(inputs)
    for var in inputs:
        if not (isinstance(var, SymbolicVar) and isinstance(var.layer, Input)
                and var.kind in ("activation", "reference")):
            raise ValueError(
                f"compile_func inputs must be get_activation_vars() or "
                f"get_reference_vars() of Input layers; got {var!r}."
            )
    input_layers = []
    for var in inputs:
        if all(var.layer is not l for l in input_layers):
            input_layers.append(var.layer)
    has_ref = {id(v.layer) for v in inputs if v.kind == "reference"}
    needs_ref = any(v.kind != "activation" for v in outputs)
    if needs_ref and len(has_ref) < len(input_layers):
        missing = [l.name for l in input_layers if id(l) not in has_ref]
        raise ValueError(
            f"compile_func: the outputs need references, so pass "
            f"get_reference_vars() of input(s) {missing} among the inputs."
        )
    targets = [l for l in graph.descendants([v.layer for v in outputs])
               if l._scoring_mode is not None]
    fn = build_graph_function(input_layers, outputs, targets, allow_activation_targets=True)

    def call(arrays):
        arrays = _one_input_as_list(arrays, inputs) if len(inputs) == 1 else list(arrays)
        if len(arrays) != len(inputs):
            raise ValueError(
                f"The compiled function takes {len(inputs)} input array(s) "
                f"(one per input var); {len(arrays)} were received."
            )
        fed = {}
        for var, array in zip(inputs, arrays):
            array = as_batch(np.asarray(array, dtype=np.float32), var.layer)
            _check_finite(array, f"Input {var.layer.name!r} ({var.kind})")
            fed[(id(var.layer), var.kind)] = array
        stand_in = stand_in_for_empty(list(fed.values()))
        if stand_in is not None:     # zero examples: run one zero example, return [:0]
            fed = dict(zip(fed, stand_in))
        acts, refs = [], []
        for layer in input_layers:
            act = fed.get((id(layer), "activation"))
            ref = fed.get((id(layer), "reference"))
            if act is None:
                act = np.broadcast_to(ref, ref.shape)
            acts.append(act)
            refs.append(ref if ref is not None else np.zeros((1,) + act.shape[1:], np.float32))
        # An inactive target seeds zeros (one broadcast element).
        seeds = [resolve_targets(t, 1, task_idx=t._task_index).seed if t._active
                 else np.zeros((1,) * (1 + len(t.get_shape())), np.float32) for t in targets]
        results = fn(*acts, *refs, *seeds)
        results = [r.numpy()[0] if v.needs_backward else r.numpy()
                   for r, v in zip(results, outputs)]
        if stand_in is not None:
            results = [r[:0] for r in results]
        return results[0] if single else results

    return call
