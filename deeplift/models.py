"""``SequentialModel`` and ``GraphModel``: thin wrappers that pick layers by
index or name and hand out compiled scoring functions with the original
package's method names and keyword arguments."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from deeplift import util
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.scoring import build_graph_function, validate_tasks

__all__ = ["Model", "SequentialModel", "GraphModel", "TargetScoringFunction"]


class TargetScoringFunction:
    """Contributions or multipliers of some layers for one target layer.

    Call it as ``func(task_idx, input_data_list, batch_size=100,
    progress_update=None, input_references_list=None)``:

    Args:
        task_idx: an int (flat neuron index in the target layer) or a list of
            ints; a list is answered from one forward pass per batch.
        input_data_list: one array per model input ``(N, ...)``, a dict keyed
            by input layer name, or a bare array for single-input models.
        batch_size: examples per compiled call.
        progress_update: report progress every this many examples.
        input_references_list: like ``input_data_list``; each entry an array
            of the data's shape (one reference per example), an array
            broadcastable to one example, or a scalar. None: zeros.

    Returns:
        For an int task: an array ``(N, ...)`` per scored layer (a single
        array when one layer was asked for as a non-list). For a list of
        tasks: a list with that result for each task.

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
        self._shared_rows_fn = None

    def _run_batch(self, inputs: list[np.ndarray], refs: list[np.ndarray], tasks, active):
        """One compiled call. When examples repeat (one sequence against
        several references), the inputs' forward pass runs once per distinct
        example; the results are the same either way."""
        runs = util.repeated_rows(inputs)
        if runs is None:
            return self._fn(*inputs, *refs, tasks, active)
        if self._shared_rows_fn is None:
            self._shared_rows_fn = build_graph_function(
                self.input_layers, self._outputs, [self.target_layer], shared_rows=True)
        first, rows = runs
        return self._shared_rows_fn(*[x[first] for x in inputs], *refs, rows, tasks, active)

    def __call__(self, task_idx, input_data_list, batch_size: int = 100,
                 progress_update: int | None = None, input_references_list=None,
                 return_convergence_delta: bool = False):
        """See the class docstring. With ``return_convergence_delta=True``
        (functions scoring contributions of at least one layer) returns
        ``(result, delta)`` where ``delta`` is ``(N,)`` (or ``(T, N)`` for a
        list of tasks): the summed contributions of the scored layers whose
        kind is ``"target_contribs"`` minus ``t(x) - t(x0)``. It is ~0
        for Rescale/RevealCancel when the scored layers separate the inputs
        from the target (e.g. all input layers)."""
        tasks = validate_tasks(task_idx, self.target_layer)
        inputs = util.format_inputs(input_data_list, self.input_layers)
        refs = util.format_references(input_references_list, self.input_layers, inputs)
        task_tensor = np.array([tasks], np.int32)
        active = np.ones((1,), np.float32)
        total = inputs[0].shape[0]
        progress = util.ProgressReporter(total, progress_update)
        pieces = [[] for _ in range(len(self.scored_layers) + 1)]
        for batch in util.iterate_batches(total, batch_size):
            batch_refs = [ref[batch] if per_example else ref for ref, per_example in refs]
            outputs = self._run_batch([x[batch] for x in inputs], batch_refs, task_tensor, active)
            for piece, out in zip(pieces, outputs):
                piece.append(out.numpy())
            progress.update(batch.stop - batch.start)
        progress.close()
        merged = [np.concatenate(piece, axis=1) for piece in pieces[:-1]]
        per_task = []
        for t in range(len(tasks)):
            layers_out = [m[t] for m in merged]
            per_task.append(layers_out if self._return_list else layers_out[0])
        is_list = isinstance(task_idx, (list, tuple, np.ndarray))
        result = per_task if is_list else per_task[0]
        if not return_convergence_delta:
            return result
        kinds = ([self._kind] * len(merged) if isinstance(self._kind, str)
                 else list(self._kind))
        if "target_contribs" not in kinds:
            raise ValueError("return_convergence_delta needs a contributions function "
                             "(get_target_contribs_func), not multipliers.")
        target_diff = np.concatenate(pieces[-1], axis=0).reshape(total, -1)[:, tasks].T
        # Only contributions sum to the target's difference; multipliers
        # scored alongside (e.g. for hypothetical contributions) do not.
        summed = sum(m.reshape(m.shape[0], total, -1).sum(axis=-1)
                     for m, kind in zip(merged, kinds) if kind == "target_contribs")
        delta = summed - target_diff
        return result, (delta if is_list else delta[0])


class Model:
    """Shared logic of SequentialModel and GraphModel."""

    def _input_layers(self) -> list[Input]:
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
            total = inputs[0].shape[0]
            progress = util.ProgressReporter(total, progress_update)
            pieces = []
            empty_tasks = np.zeros((0, 1), np.int32)
            for batch in util.iterate_batches(total, batch_size):
                out = fn(*[x[batch] for x in inputs], *placeholder_refs, empty_tasks,
                         np.zeros((0,), np.float32))
                pieces.append(out[0].numpy())
                progress.update(batch.stop - batch.start)
            progress.close()
            return np.concatenate(pieces, axis=0)

        return predict


class SequentialModel(Model):
    """A chain of layers; ``layers[0]`` is the ``Input``.

    Layers that are not yet connected are chained in order.
    """

    def __init__(self, layers: Sequence[Layer]):
        self._layers = list(layers)
        if not self._layers or not isinstance(self._layers[0], Input):
            raise ValueError("SequentialModel: the first layer must be an Input layer.")
        for previous, layer in zip(self._layers[:-1], self._layers[1:]):
            if layer.inputs is None:
                layer.set_inputs(previous)
        self._layers[-1].build_fwd_pass_vars()

    def get_layers(self) -> list[Layer]:
        return self._layers

    def _input_layers(self):
        return [self._layers[0]]

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
    """

    def __init__(self, name_to_layer: dict, input_layer_names: Sequence[str]):
        self._name_to_layer = dict(name_to_layer)
        self._input_layer_names = list(input_layer_names)
        for name in self._input_layer_names:
            if not isinstance(self._lookup(name, "input_layer_names"), Input):
                raise ValueError(f"GraphModel: input layer {name!r} is not an Input layer.")

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
