"""``SequentialModel`` and ``GraphModel``: thin wrappers that pick layers by
index or name and hand out compiled scoring functions with the original
package's method names and keyword arguments."""
from __future__ import annotations

from typing import Sequence

import numpy as np

import tensorflow as tf

from deeplift import convergence, graph, util
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.rules import report_resolved_modes
from deeplift.scoring import build_graph_function
from deeplift.targets import resolve_targets

__all__ = ["Model", "SequentialModel", "GraphModel", "TargetScoringFunction"]


class TargetScoringFunction:
    """Contributions or multipliers of some layers for one target layer.

    Call it as ``func(task_idx, input_data_list, batch_size=100,
    progress_update=None, input_references_list=None,
    return_convergence_delta=False, target_weights=None)``:

    Args:
        task_idx: the target neuron: an int (flat index in the target layer),
            a tuple of ints (one index per axis of an N-d target layer, e.g.
            ``(position, track)``), or a list of those, answered from one
            forward pass per batch. None when ``target_weights`` is given.
        input_data_list: one array per model input ``(N, ...)``, a dict keyed
            by input layer name, or a bare array for single-input models.
        batch_size: examples per compiled call.
        progress_update: report progress every this many examples.
        input_references_list: like ``input_data_list``; each entry an array
            of the data's shape (one reference per example), an array
            broadcastable to one example, or a scalar. None: zeros.
        return_convergence_delta: also return the summed contributions minus
            the target's difference from reference (see ``__call__``).
        target_weights: instead of ``task_idx``, explain the weighted target
            ``sum_j w_j t_j`` over the target layer's neurons ``t_j``, the
            weights held constant: an array of the target layer's
            per-example shape (shared), ``(N, *target_shape)`` (one per
            example), or a list/tuple of such arrays (several targets in one
            pass). See ``deeplift.targets``.

    Returns:
        For a single target: an array ``(N, ...)`` per scored layer (a single
        array when one layer was asked for as a non-list). For a list of
        tasks or of weight arrays: a list with that result for each.

    The function holds no mutable state: it is safe to call from several
    threads, and one trace serves every task index and batch size.
    """

    def __init__(self, input_layers: Sequence[Input], scored_layers: Sequence[Layer],
                 target_layer: Layer, kind, return_list: bool):
        """``kind``: ``"target_contribs"`` or ``"mxts"``, or one of those per
        scored layer (e.g. a layer's contributions and its multipliers from
        the same passes)."""
        self.input_layers = list(input_layers)
        self.scored_layers = list(scored_layers)
        self.target_layer = target_layer
        self._return_list = return_list
        self._kind = kind
        kinds = [kind] * len(self.scored_layers) if isinstance(kind, str) else list(kind)
        if len(kinds) != len(self.scored_layers):
            raise ValueError(f"{len(kinds)} kinds given for {len(self.scored_layers)} "
                             f"scored layers.")
        outputs = [SymbolicVar(layer, k) for layer, k in zip(self.scored_layers, kinds)]
        # The target's own difference from reference rides along (it is tiny)
        # for the convergence check.
        outputs.append(SymbolicVar(target_layer, "diff_from_reference"))
        self._fn = build_graph_function(self.input_layers, outputs, [target_layer])
        self._outputs = outputs
        self._convergence = convergence.plan_check(self.scored_layers, kinds, target_layer)
        self._shared_rows_fn = None

    @property
    def target_shape(self) -> tuple:
        """The target layer's per-example shape (what ``target_weights``
        holds per example); wrappers such as
        ``get_shuffle_seq_ref_function`` read it."""
        return tuple(self.target_layer.get_shape()[1:])

    def _run_batch(self, inputs: list[np.ndarray], refs: list[np.ndarray], seed):
        """One compiled call. When examples repeat (one sequence against
        several references), the inputs' forward pass runs once per distinct
        example; the results are the same either way."""
        runs = util.repeated_rows(inputs)
        if runs is None:
            return self._fn(*inputs, *refs, seed)
        if self._shared_rows_fn is None:
            self._shared_rows_fn = build_graph_function(
                self.input_layers, self._outputs, [self.target_layer], shared_rows=True)
        first, rows = runs
        return self._shared_rows_fn(*[x[first] for x in inputs], *refs, rows, seed)

    def __call__(self, task_idx=None, input_data_list=None, batch_size: int = 100,
                 progress_update: int | None = None, input_references_list=None,
                 return_convergence_delta: bool = False, target_weights=None):
        """See the class docstring. With ``return_convergence_delta=True``
        (functions scoring contributions of at least one layer) returns
        ``(result, delta)`` where ``delta`` is ``(N,)`` (or ``(T, N)`` for a
        list of targets): the summed contributions of the scored layers
        whose kind is ``"target_contribs"`` minus ``t(x) - t(x0)``
        (``sum_j w_j (t_j(x) - t_j(x0))`` for weighted targets). It is ~0
        for Rescale/RevealCancel when the scored layers separate the inputs
        from the target (e.g. all input layers)."""
        if input_data_list is None:
            raise ValueError("input_data_list is required: one array per model input.")
        inputs = util.format_inputs(input_data_list, self.input_layers)
        total = inputs[0].shape[0]
        targets = resolve_targets(self.target_layer, total, task_idx=task_idx,
                                  target_weights=target_weights)
        kinds = ([self._kind] * len(self.scored_layers) if isinstance(self._kind, str)
                 else list(self._kind))
        if return_convergence_delta and "target_contribs" not in kinds:
            raise ValueError("return_convergence_delta needs a contributions function "
                             "(get_target_contribs_func), not multipliers.")
        refs = util.format_references(input_references_list, self.input_layers, inputs)
        shared_seed = None if targets.per_example else tf.constant(targets.seed)
        stand_in = util.stand_in_for_empty(inputs)
        if stand_in is not None:     # zero examples: run one zero example, cut to [:0]
            inputs, total = stand_in, 1
            refs = [(ref[:1] if not per_example else np.zeros_like(x), False)
                    for (ref, per_example), x in zip(refs, stand_in)]
            shared_seed = tf.zeros((targets.num_targets, 1) + targets.seed.shape[2:])
        # Layers that merge inputs need one reference batch size: when some
        # references are per example, the shared ones are repeated too.
        mixed = len({per_example for _, per_example in refs}) > 1
        progress = util.ProgressReporter(total, progress_update)
        pieces = [[] for _ in range(len(self.scored_layers) + 1)]
        for batch in util.iterate_batches(total, batch_size):
            batch_refs = [ref[batch] if per_example else ref for ref, per_example in refs]
            if mixed:
                batch_refs = [np.broadcast_to(r, (batch.stop - batch.start,) + r.shape[1:])
                              for r in batch_refs]
            seed = targets.batch(batch) if shared_seed is None else shared_seed
            try:
                outputs = self._run_batch([x[batch] for x in inputs], batch_refs, seed)
            except tf.errors.InvalidArgumentError as err:
                if target_weights is None:
                    raise
                raise ValueError(
                    f"target_weights of per-example shape {targets.seed.shape[2:]} do not "
                    f"match the activations of target layer {self.target_layer.name!r}: "
                    f"{err.message}") from None
            for piece, out in zip(pieces, outputs):
                piece.append(out.numpy())
            progress.update(batch.stop - batch.start)
        progress.close()
        merged = [np.concatenate(piece, axis=1) for piece in pieces[:-1]]
        if stand_in is not None:
            merged, pieces[-1], total = [m[:, :0] for m in merged], [pieces[-1][0][:0]], 0
        target_diff = (targets.target_differences(np.concatenate(pieces[-1], axis=0)) if total
                       else np.zeros((targets.num_targets, 0)))
        if self._convergence is not None:
            if task_idx is None:
                labels = [f"(weights {k})" for k in range(targets.num_targets)]
            else:
                labels = list(task_idx) if targets.is_list else [task_idx]
            convergence.warn_if_not_conserved(
                self._convergence, [merged[i] for i in self._convergence.positions],
                target_diff, labels)
        per_target = []
        for t in range(targets.num_targets):
            layers_out = [m[t] for m in merged]
            per_target.append(layers_out if self._return_list else layers_out[0])
        result = per_target if targets.is_list else per_target[0]
        if not return_convergence_delta:
            return result
        # Only contributions sum to the target's difference; multipliers
        # scored alongside (e.g. for hypothetical contributions) do not.
        summed = sum(m.reshape(m.shape[0], total, int(np.prod(m.shape[2:]))).sum(axis=-1)
                     for m, kind in zip(merged, kinds) if kind == "target_contribs")
        delta = summed - target_diff
        return result, (delta if targets.is_list else delta[0])


class Model:
    """Shared logic of SequentialModel and GraphModel."""

    def _input_layers(self) -> list[Input]:
        raise NotImplementedError

    def get_output_layers(self) -> dict[str, Layer]:
        """The model's outputs: the layer producing each, keyed by output
        name (for converted models the Keras output layer's name)."""
        raise NotImplementedError

    def _lookup(self, key, argument: str) -> Layer:
        """The layer at index/name ``key``; errors quote ``argument``."""
        raise NotImplementedError

    def _pick(self, scored_key, scored_argument: str, target_key, target_argument: str):
        """Scored layer(s) (a list when ``scored_key`` is a list) and the target."""
        if isinstance(scored_key, (list, tuple)):
            scored = [self._lookup(key, scored_argument) for key in scored_key]
        else:
            scored = self._lookup(scored_key, scored_argument)
        return scored, self._lookup(target_key, target_argument)

    def _scoring_func(self, scored, target: Layer, kind: str) -> TargetScoringFunction:
        return_list = isinstance(scored, (list, tuple))
        scored = list(scored) if return_list else [scored]
        return TargetScoringFunction(self._input_layers(), scored, target, kind, return_list)

    def _prediction_func(self, input_layers: Sequence[Input], output_layer: Layer):
        fn = build_graph_function(input_layers, [output_layer.get_activation_vars()])
        placeholder_refs = [np.zeros((1,) + tuple(d or 1 for d in l.get_batch_shape()[1:]),
                                     np.float32) for l in input_layers]

        def predict(input_data_list, batch_size: int = 100, progress_update: int | None = None):
            inputs = util.format_inputs(input_data_list, input_layers)
            stand_in = util.stand_in_for_empty(inputs)
            if stand_in is not None:     # zero examples: run one zero example, cut to [:0]
                return fn(*stand_in, *placeholder_refs)[0].numpy()[:0]
            total = inputs[0].shape[0]
            progress = util.ProgressReporter(total, progress_update)
            pieces = []
            for batch in util.iterate_batches(total, batch_size):
                out = fn(*[x[batch] for x in inputs], *placeholder_refs)
                pieces.append(out[0].numpy())
                progress.update(batch.stop - batch.start)
            progress.close()
            return np.concatenate(pieces, axis=0)

        return predict


class SequentialModel(Model):
    """A chain of layers; ``layers[0]`` is the ``Input``.

    Layers that are not yet connected are chained in order.
    """

    def __init__(self, layers: Sequence[Layer], output_name: str | None = None):
        """``output_name``: the name of the model's output (the converter
        passes the last Keras layer's name); default the last layer's."""
        self._layers = list(layers)
        self._output_name = output_name
        if not self._layers or not isinstance(self._layers[0], Input):
            raise ValueError("SequentialModel: the first layer must be an Input layer.")
        for previous, layer in zip(self._layers[:-1], self._layers[1:]):
            if layer.inputs is None:
                layer.set_inputs(previous)
        graph.infer_shapes([self._layers[-1]])
        report_resolved_modes(self._layers, strict=False)

    def get_layers(self) -> list[Layer]:
        return self._layers

    def _input_layers(self):
        return [self._layers[0]]

    def get_output_layers(self) -> dict[str, Layer]:
        return {self._output_name or self._layers[-1].name: self._layers[-1]}

    def _lookup(self, idx, argument: str) -> Layer:
        try:
            return self._layers[idx]
        except (IndexError, TypeError):
            raise ValueError(
                f"{argument}={idx!r} is not a valid layer index for a model of "
                f"{len(self._layers)} layers."
            ) from None

    def get_target_contribs_func(self, find_scores_layer_idx=0, target_layer_idx=-2):
        """Contributions of layer(s) ``find_scores_layer_idx`` to a neuron of
        layer ``target_layer_idx`` (-2: the logits before a final sigmoid or
        softmax; use -1 for a linear output). See ``TargetScoringFunction``."""
        scored, target = self._pick(find_scores_layer_idx, "find_scores_layer_idx",
                                    target_layer_idx, "target_layer_idx")
        return self._scoring_func(scored, target, "target_contribs")

    def get_target_multipliers_func(self, find_scores_layer_idx=0, target_layer_idx=-2):
        """Like ``get_target_contribs_func`` but returns the multipliers
        ``(m+ + m-) / 2``."""
        scored, target = self._pick(find_scores_layer_idx, "find_scores_layer_idx",
                                    target_layer_idx, "target_layer_idx")
        return self._scoring_func(scored, target, "mxts")

    def get_prediction_function(self, input_layer_idx=0, output_layer_idx=-1):
        """``f(input_data_list, batch_size, progress_update=None)``: the
        activations of layer ``output_layer_idx``."""
        inp = self._lookup(input_layer_idx, "input_layer_idx")
        return self._prediction_func([inp], self._lookup(output_layer_idx, "output_layer_idx"))


class GraphModel(Model):
    """A graph of named layers.

    Args:
        name_to_layer: mapping layer name -> layer (insertion order kept).
        input_layer_names: names of the ``Input`` layers, in the order
            scoring functions receive their arrays.
        output_layer_names: output name -> name of the layer producing that
            output (the converter maps each Keras output layer's name);
            default: every layer that feeds no other layer, by its own name.
    """

    def __init__(self, name_to_layer: dict, input_layer_names: Sequence[str],
                 output_layer_names: dict[str, str] | None = None):
        self._name_to_layer = dict(name_to_layer)
        self._input_layer_names = list(input_layer_names)
        for name in self._input_layer_names:
            if not isinstance(self._lookup(name, "input_layer_names"), Input):
                raise ValueError(f"GraphModel: input layer {name!r} is not an Input layer.")
        if output_layer_names is None:
            members = {id(layer) for layer in self._name_to_layer.values()}
            output_layer_names = {
                name: name for name, layer in self._name_to_layer.items()
                if not any(id(c) in members for c in layer.get_output_layers())}
        self._outputs = {out: self._lookup(name, "output_layer_names")
                         for out, name in output_layer_names.items()}
        report_resolved_modes(self._name_to_layer.values(), strict=False)

    def get_output_layers(self) -> dict[str, Layer]:
        return dict(self._outputs)

    def get_name_to_layer(self) -> dict:
        return self._name_to_layer

    def get_input_layer_names(self) -> list[str]:
        return self._input_layer_names

    def _input_layers(self):
        return [self._name_to_layer[n] for n in self._input_layer_names]

    def _lookup(self, name, argument: str) -> Layer:
        try:
            return self._name_to_layer[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"{argument}={name!r} names no layer of this model; layer names "
                f"are {list(self._name_to_layer)}."
            ) from None

    def get_target_contribs_func(self, find_scores_layer_name, pre_activation_target_layer_name):
        """Contributions of the named layer(s) to a neuron of the named
        target (normally the pre-activation output). See
        ``TargetScoringFunction``."""
        scored, target = self._pick(find_scores_layer_name, "find_scores_layer_name",
                                    pre_activation_target_layer_name,
                                    "pre_activation_target_layer_name")
        return self._scoring_func(scored, target, "target_contribs")

    def get_target_multipliers_func(self, find_scores_layer_name, pre_activation_target_layer_name):
        """Like ``get_target_contribs_func`` but returns multipliers."""
        scored, target = self._pick(find_scores_layer_name, "find_scores_layer_name",
                                    pre_activation_target_layer_name,
                                    "pre_activation_target_layer_name")
        return self._scoring_func(scored, target, "mxts")

    def get_prediction_function(self, input_layer_names, output_layer_name):
        """``f(input_data_list, batch_size, progress_update=None)``: the
        activations of ``output_layer_name``."""
        inputs = [self._lookup(n, "input_layer_names") for n in input_layer_names]
        return self._prediction_func(inputs, self._lookup(output_layer_name,
                                                               "output_layer_name"))
