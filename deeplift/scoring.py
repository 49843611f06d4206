"""The one builder of compiled scoring functions.

``build_graph_function`` traces a single ``tf.function`` that runs the
forward pass (inputs and references), and the backward pass only when a
multiplier or contribution is asked for. Target task indices and "active"
flags are tensor arguments, so one trace serves every task, batch size and
thread; nothing is read from or written to shared state while it runs.

Argument layout of the compiled function:
  ``(*inputs, *references, tasks, active)`` where ``inputs[i]`` is
  ``(N, ...)``, ``references[i]`` is ``(N, ...)`` or ``(1, ...)``, ``tasks``
  is int32 ``(num_targets, T)`` (flat neuron indices of each target layer)
  and ``active`` is float32 ``(num_targets,)``. Built with
  ``shared_rows=True`` it is ``(*inputs, *references, rows, tasks, active)``:
  ``inputs[i]`` holds ``M`` distinct examples, ``rows`` (int32 ``(N,)``)
  picks one of them for each of the ``N`` references, and the inputs'
  forward pass runs on the ``M`` examples only.
Outputs: forward quantities ``(N, ...)``; multipliers and contributions
``(T, N, ...)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from deeplift import graph, kernels
from deeplift.layers.base import Input, Layer, SymbolicVar


def _seed(target: Layer, fp: graph.ForwardPass, tasks: tf.Tensor, active: tf.Tensor):
    """One-hot multipliers ``(T, N, *target_shape)`` on the flat task index."""
    act = fp.act(target)
    flat_size = int(np.prod(act.shape[1:]))
    one_hot = tf.one_hot(tasks, flat_size, dtype=act.dtype) * active
    one_hot = tf.reshape(one_hot, tf.concat([[-1, 1], tf.shape(act)[1:]], 0))
    seed = tf.broadcast_to(one_hot, tf.concat([tf.shape(one_hot)[:1], tf.shape(act)], 0))
    return seed, seed


def _evaluate(var: SymbolicVar, fp: graph.ForwardPass, mxts: dict, num_tasks) -> tf.Tensor:
    layer = var.layer
    if var.kind == "activation":
        return fp.act(layer)
    if var.kind == "reference":
        return tf.broadcast_to(fp.ref(layer), tf.shape(fp.act(layer)))
    if var.kind == "diff_from_reference":
        return fp.diff(layer)
    if id(layer) in mxts:
        pos, neg = mxts[id(layer)]
    else:
        zeros = tf.zeros(tf.concat([[num_tasks], tf.shape(fp.act(layer))], 0))
        pos = neg = zeros
    if var.kind == "pos_mxts":
        return pos
    if var.kind == "neg_mxts":
        return neg
    if var.kind == "mxts":
        return pos if pos is neg else (pos + neg) * 0.5
    # target_contribs: m+ dx+ + m- dx-, which is m dx on the single stream
    # when the layer's parts sum to its difference from reference.
    if pos is neg and layer.parts_sum_to_difference:
        return pos * fp.diff(layer)
    pos_part, neg_part = fp.parts(layer)
    return pos * pos_part + neg * neg_part


def build_graph_function(input_layers: Sequence[Input], outputs: Sequence[SymbolicVar],
                         targets: Sequence[Layer] = (), shared_rows: bool = False):
    """Compiles the quantities ``outputs`` as one ``tf.function``.

    Args:
        input_layers: the ``Input`` layers, in argument order; every input
            upstream of ``outputs`` and ``targets`` must be among them.
        outputs: symbolic quantities to return.
        targets: candidate target layers that seed the backward pass.
        shared_rows: take distinct inputs plus a row index (see the module
            docstring) instead of one input row per example.

    Returns:
        A ``tf.function`` with the argument layout of the module docstring,
        returning a list with one tensor per output.

    Raises:
        ValueError: a target is an activation layer, an input is missing,
            DeepLIFT_GenomicsDefault cannot be resolved, or RevealCancel
            sees a gradient-mode max pool through routing layers.
    """
    input_layers = list(input_layers)
    outputs = list(outputs)
    targets = list(targets)
    for target in targets:
        graph.check_can_be_target(target)
    needs_backward = any(var.needs_backward for var in outputs)
    roots = [var.layer for var in outputs] + (targets if needs_backward else [])
    order = graph.topological_order(roots)
    fed = {id(layer) for layer in input_layers}
    missing = [l.name for l in order if isinstance(l, Input) and id(l) not in fed]
    if missing:
        raise ValueError(
            f"The requested quantities depend on input layer(s) {missing}, "
            f"which are not among the function's inputs "
            f"{[l.name for l in input_layers]}."
        )
    modes = graph.resolve_modes(order)
    wanted = [var.layer for var in outputs if var.needs_backward]
    num_inputs = len(input_layers)

    def run(*args):
        acts, refs = args[:num_inputs], args[num_inputs:2 * num_inputs]
        rows = args[2 * num_inputs] if shared_rows else None
        tasks, active = args[-2], args[-1]
        fp = graph.ForwardPass(dict(zip(input_layers, zip(acts, refs))), modes, act_rows=rows)
        mxts = {}
        if needs_backward and targets:
            seeds = [(target, _seed(target, fp, tasks[k], active[k]))
                     for k, target in enumerate(targets)]
            mxts = graph.backward(fp, seeds, wanted)
        num_tasks = tf.shape(tasks)[1]
        return [_evaluate(var, fp, mxts, num_tasks) for var in outputs]

    specs = [tf.TensorSpec(layer.get_batch_shape(), tf.float32) for layer in input_layers]
    signature = specs + specs + [tf.TensorSpec((None,), tf.int32)] * shared_rows + [
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None,), tf.float32),
    ]
    return kernels.quiet_tracing(tf.function(run, input_signature=signature, autograph=False))


def target_size(target: Layer) -> int:
    """Number of neurons of a target layer (flat task indices run below it)."""
    shape = target.get_shape()
    if any(d is None for d in shape[1:]):
        raise ValueError(
            f"Target layer {target.name!r} has a shape with unknown "
            f"dimensions {shape}; its neurons cannot be indexed."
        )
    return int(np.prod(shape[1:]))


def validate_tasks(task_idx, target: Layer) -> list[int]:
    """Normalises ``task_idx`` (an int or a list of ints) to a list.

    Raises:
        ValueError: a task is not an integer or is out of range; the message
            names the index and the valid range.
    """
    tasks = list(task_idx) if isinstance(task_idx, (list, tuple, np.ndarray)) else [task_idx]
    if not tasks:
        raise ValueError("task_idx is an empty list; give at least one task index.")
    size = target_size(target)
    normalised = []
    for task in tasks:
        if isinstance(task, (bool, np.bool_)) or not isinstance(task, (int, np.integer)):
            raise ValueError(
                f"task_idx must be an int or a list of ints; got {task!r} "
                f"({type(task).__name__})."
            )
        if not 0 <= task < size:
            raise ValueError(
                f"task index {int(task)} is out of range for target layer "
                f"{target.name!r}, which has {size} neurons: valid task "
                f"indices are 0 to {size - 1}."
            )
        normalised.append(int(task))
    return normalised
