"""The one builder of compiled scoring functions.

``build_graph_function`` traces a single ``tf.function`` that runs the
forward pass (inputs and references), and the backward pass only when a
multiplier or contribution is asked for. The backward pass is seeded by
tensor arguments (see ``deeplift.targets``), so one trace serves every task,
weighting, batch size and thread; nothing is read from or written to shared
state while it runs.

Argument layout of the compiled function:
  ``(*inputs, *references, *seeds)`` where ``inputs[i]`` is ``(N, ...)``,
  ``references[i]`` is ``(N, ...)`` or ``(1, ...)`` and ``seeds[k]`` is
  float32 ``(T, 1 or N, *target_shape)``: the multipliers ``m+ = m-`` of
  target layer ``k`` (one-hot for a task index, weights for a weighted
  target, zeros for an inactive target; size-1 axes broadcast). Built with
  ``shared_rows=True`` it is ``(*inputs, *references, rows, *seeds)``:
  ``inputs[i]`` holds ``M`` distinct examples, ``rows`` (int32 ``(N,)``)
  picks one of them for each of the ``N`` references, and the inputs'
  forward pass runs on the ``M`` examples only.
Outputs: forward quantities ``(N, ...)``; multipliers and contributions
``(T, N, ...)``.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from deeplift import graph, kernels
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.modes import NonlinearMxtsMode


def _seed(target: Layer, fp: graph.ForwardPass, seed: tf.Tensor):
    """The target's multipliers ``(T, N, *target_shape)`` from its seed."""
    seed = tf.broadcast_to(seed, tf.concat([tf.shape(seed)[:1], fp.batch_shape(target)], 0))
    return seed, seed


def _evaluate(var: SymbolicVar, fp: graph.ForwardPass, mxts: dict, num_tasks) -> tf.Tensor:
    layer = var.layer
    if var.kind == "activation":
        return fp.act(layer)
    if var.kind == "reference":
        return tf.broadcast_to(fp.ref(layer), fp.batch_shape(layer))
    if var.kind == "diff_from_reference":
        return fp.diff(layer)
    if var.kind in ("pos_contribs", "neg_contribs"):
        return fp.parts(layer)[0 if var.kind == "pos_contribs" else 1]
    if id(layer) in mxts:
        pos, neg = mxts[id(layer)]
    else:
        zeros = tf.zeros(tf.concat([[num_tasks], fp.batch_shape(layer)], 0))
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


def _check_not_token_ids(outputs: Sequence[SymbolicVar]) -> None:
    """Scores cannot be taken on integer token ids (an Embedding's input).

    Raises:
        ValueError: naming the Embedding layer to score instead.
    """
    from deeplift.layers.sequence import embedding_consumers

    for var in outputs:
        embeddings = embedding_consumers(var.layer) if var.needs_backward else []
        if embeddings:
            raise ValueError(
                f"Layer {var.layer.name!r} holds integer token ids read by the Embedding "
                f"layer {embeddings[0].name!r}; multipliers and contributions are not "
                f"defined on token ids. Score the Embedding layer instead "
                f"(find_scores_layer_name={embeddings[0].name!r}) and sum its scores per "
                f"token with deeplift.embedding.sum_per_token.")


def build_graph_function(input_layers: Sequence[Input], outputs: Sequence[SymbolicVar],
                         targets: Sequence[Layer] = (), shared_rows: bool = False,
                         allow_activation_targets: bool = False):
    """Compiles the quantities ``outputs`` as one ``tf.function``.

    Args:
        input_layers: the ``Input`` layers, in argument order; every input
            upstream of ``outputs`` and ``targets`` must be among them.
        outputs: symbolic quantities to return.
        targets: candidate target layers that seed the backward pass; the
            function takes one seed argument per target (module docstring).
        shared_rows: take distinct inputs plus a row index (see the module
            docstring) instead of one input row per example.
        allow_activation_targets: accept activation layers as targets (the
            original low-level API, ``compile_func``, allowed them).

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
        if not allow_activation_targets:
            graph.check_can_be_target(target)
    _check_not_token_ids(outputs)
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
    # RevealCancel needs every linear layer's W dx for its parts; the forward
    # pass then takes differences from those (see graph.ForwardPass).
    two_streams = bool(wanted) and NonlinearMxtsMode.RevealCancel in modes.values()

    def run(*args):
        acts, refs = args[:num_inputs], args[num_inputs:2 * num_inputs]
        rows = args[2 * num_inputs] if shared_rows else None
        seeds = args[len(args) - len(targets):]
        fp = graph.ForwardPass(dict(zip(input_layers, zip(acts, refs))), modes, act_rows=rows,
                               difference_space=two_streams)
        mxts = {}
        if needs_backward and targets:
            mxts = graph.backward(fp, [(target, _seed(target, fp, seed))
                                       for target, seed in zip(targets, seeds)], wanted)
        num_tasks = tf.shape(seeds[0])[0] if targets else 1
        return [_evaluate(var, fp, mxts, num_tasks) for var in outputs]

    specs = [tf.TensorSpec(layer.get_batch_shape(), tf.float32) for layer in input_layers]
    seed_specs = [tf.TensorSpec((None,) * (1 + len(target.get_shape())), tf.float32)
                  for target in targets]
    signature = specs + specs + [tf.TensorSpec((None,), tf.int32)] * shared_rows + seed_specs
    return kernels.quiet_tracing(tf.function(run, input_signature=signature, autograph=False))
