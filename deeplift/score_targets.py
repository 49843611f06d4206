"""What ``deeplift score`` explains, and how it scores one-hot sequences.

``select_target(model, args)`` turns a converted model (Sequential or
functional, one or several inputs and outputs) and the command's target
options into a ``ScoreTarget``: the one-hot input, the target layer (an
output's pre-activation by default), the tasks (flat or N-d neuron indices)
and/or the profile weighting, and the values fed to the other inputs.
``ScoreTarget.score`` then returns contributions and hypothetical
contributions per target. Anything that scores sequences the way the command
does (e.g. a worker scoring one shard) calls these two.

Other inputs (e.g. a bias track or control counts) get zeros or a given
``.npy`` array, and their reference is their own value: only the sequence is
explained, the other inputs are held fixed.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

from deeplift import targets as targets_mod
from deeplift.layers.base import Input, Layer

__all__ = ["PROFILE", "parse_task", "add_target_arguments", "pre_activation",
           "describe_inputs_and_outputs", "ScoreTarget", "select_target"]

PROFILE = "profile"
ALPHABET = 4


def parse_task(text: str) -> int | tuple[int, ...]:
    """``"3"`` -> 3 (a flat index), ``"3,1"`` -> (3, 1) (an N-d index)."""
    parts = text.split(",")
    if not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"--task takes a non-negative int or comma-separated ints (one per axis of an "
            f"N-d output, e.g. 500,0); got {text!r}.")
    values = tuple(int(p) for p in parts)
    return values[0] if len(values) == 1 else values


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the target options of ``deeplift score`` to ``parser``."""
    group = parser.add_argument_group("what to explain")
    group.add_argument("--output", default=None,
                       help="Keras output layer to explain (its pre-activation); default: "
                            "the only output. `deeplift convert` lists them")
    group.add_argument("--task", type=parse_task, action="append", default=[],
                       help="target neuron of the output: an int (flat index) or i,j for an "
                            "N-d output (repeat for several tasks)")
    group.add_argument("--target", choices=[PROFILE], default=None,
                       help="profile: the profile-head target sum((softmax(l) - 1/L) * l) "
                            "over positions, weights from each sequence's own prediction")
    group.add_argument("--target-layer", default=None,
                       help="explain this layer instead (index for Sequential models, "
                            "name for functional ones)")
    group.add_argument("--sequence-input", default=None,
                       help="input fed with --sequences (default: the only (L, 4) input)")
    group.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                       help="values of another model input, one row per sequence "
                            "(default zeros); held fixed as their own reference")


def pre_activation(layer: Layer) -> Layer:
    """The layer before any trailing activation layers (the logits of a
    sigmoid/softmax output; the layer itself for a linear output)."""
    from deeplift.layers.activations import Activation

    while isinstance(layer, Activation):
        layer = layer.inputs
    return layer


def _input_layers(model) -> list[Input]:
    return model._input_layers()


def describe_inputs_and_outputs(model) -> str:
    """The model's inputs and outputs with shapes, and each output's target
    layer, as ``deeplift convert`` prints them."""
    lines = ["inputs (--sequences feeds the (L, 4) one; --input NAME=FILE.npy the others):"]
    for layer in _input_layers(model):
        lines.append(f"  {_short_name(layer.name, model):<24} shape {layer.get_batch_shape()}")
    lines.append("outputs (deeplift score --output NAME; --task indexes the target's shape):")
    for name, layer in model.get_output_layers().items():
        target = pre_activation(layer)
        how = "" if target is layer else f" (pre-activation of {layer.name})"
        lines.append(f"  {name:<24} shape {layer.get_shape()}  target {target.name} "
                     f"shape {target.get_shape()}{how}")
    return "\n".join(lines)


def _short_name(name: str, model) -> str:
    """Converted functional inputs are ``<keras name>_0``; show the Keras name."""
    from deeplift.models import GraphModel

    return name[:-2] if isinstance(model, GraphModel) and name.endswith("_0") else name


@dataclass
class ScoreTarget:
    """One scoring setup of ``deeplift score`` (see ``select_target``).

    Attributes:
        model: the converted model.
        input_layers: every input, in the model's order.
        sequence_input: the input fed with one-hot sequences ``(N, L, 4)``.
        target: the target layer.
        tasks: neuron indices (ints or tuples) of ``target``.
        profile: also explain the profile target (``profile_weights`` of
            each sequence's own prediction of ``target``).
        labels: file-name prefix of each result: one per task, then
            ``profile``.
        other_inputs: values of the other inputs by layer name, ``(N, ...)``;
            None: zeros.
    """

    model: object
    input_layers: list[Input]
    sequence_input: Input
    target: Layer
    tasks: list = field(default_factory=list)
    profile: bool = False
    labels: list[str] = field(default_factory=list)
    other_inputs: dict[str, np.ndarray | None] = field(default_factory=dict)

    @property
    def target_shape(self) -> tuple:
        return tuple(self.target.get_shape()[1:])

    def feeds(self, one_hot: np.ndarray, other_inputs: dict | None = None) -> list[np.ndarray]:
        """One array per model input for ``one_hot`` ``(N, L, 4)``: the other
        inputs from ``other_inputs`` (default ``self.other_inputs``), zeros
        where none is given.

        Raises:
            ValueError: an array has the wrong number of rows, or zeros are
                needed for an input with dimensions of unknown size.
        """
        given = self.other_inputs if other_inputs is None else other_inputs
        arrays = []
        for layer in self.input_layers:
            if layer is self.sequence_input:
                arrays.append(one_hot)
                continue
            value = given.get(layer.name)
            if value is None:
                shape = layer.get_batch_shape()[1:]
                if any(d is None for d in shape):
                    raise ValueError(
                        f"Input {layer.name!r} has shape {layer.get_batch_shape()} with "
                        f"unknown sizes, so it cannot default to zeros; give its values with "
                        f"--input {_short_name(layer.name, self.model)}=FILE.npy.")
                value = np.zeros((len(one_hot),) + tuple(shape), np.float32)
            elif len(value) != len(one_hot):
                raise ValueError(f"Input {layer.name!r} holds {len(value)} rows but "
                                 f"{len(one_hot)} sequences are scored.")
            arrays.append(np.asarray(value, np.float32))
        return arrays

    def weights(self, feeds: list[np.ndarray], batch_size: int) -> list[np.ndarray] | None:
        """Target weights per label (one-hot per task, then the profile
        weights ``(N, *target_shape)``), or None when only tasks are asked
        for (they are then passed as ``task_idx``)."""
        if not self.profile:
            return None
        logits = self._compiled("predict")(feeds, batch_size=batch_size)
        one_hots = [targets_mod.task_weights(t, self.target_shape, self.target.name)
                    for t in self.tasks]
        return one_hots + [targets_mod.profile_weights(logits, axis=1)]

    def _compiled(self, kind: str):
        """The target's prediction function (``"predict"``) or the
        contributions-and-multipliers function of the sequence input
        (``"both"``, one pass), built once per ``ScoreTarget`` so that
        repeated ``score`` calls (e.g. one per shard) trace once."""
        from deeplift.models import TargetScoringFunction

        cache = self.__dict__.setdefault("_compiled_cache", {})
        if kind not in cache:
            seq = self.sequence_input
            cache[kind] = (
                self.model._prediction_func(self.input_layers, self.target) if kind == "predict"
                else TargetScoringFunction(self.input_layers, [seq, seq], self.target,
                                           ("target_contribs", "mxts"), return_list=True))
        return cache[kind]

    def score(self, one_hot: np.ndarray, num_refs: int = 0, batch_size: int = 256,
              seed: int = 1, progress_update: int | None = None,
              other_inputs: dict | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Contributions and hypothetical contributions of ``one_hot``.

        Args:
            one_hot: ``(N, L, 4)`` sequences.
            num_refs: 0 for an all-zero reference, else the number of
                dinucleotide-shuffled references per sequence (averaged).
            batch_size: sequence x reference pairs per compiled call.
            seed: seed of the shuffles.
            progress_update: report progress every this many sequences.
            other_inputs: values of the other inputs for these sequences
                (default ``self.other_inputs``).

        Returns:
            Per label, ``(contribs, hypothetical)``, each float32 ``(N, L, 4)``.
        """
        from deeplift import util
        from deeplift.dinuc_shuffle import dinuc_shuffle
        from deeplift.genomics import hypothetical_from_multipliers

        feeds = self.feeds(one_hot, other_inputs)
        weights = self.weights(feeds, batch_size)
        target_kwargs = ({"task_idx": list(self.tasks)} if weights is None
                         else {"target_weights": weights})
        both = self._compiled("both")
        position = self.input_layers.index(self.sequence_input)

        def run(rows, task_idx=None, target_weights=None, input_data_list=None,
                input_references_list=None, batch_size=batch_size, progress_update=None):
            """Scores sequences ``input_data_list[0]``: example ``k`` is
            ``rows[k]`` of the scored set, whose other inputs it gets, held
            fixed as their own reference."""
            data = [f[rows] for f in feeds]
            data[position] = input_data_list[0]
            refs = list(data)
            refs[position] = input_references_list[0]
            per_label = both(task_idx=task_idx, target_weights=target_weights,
                             input_data_list=data, input_references_list=refs,
                             batch_size=batch_size, progress_update=progress_update)
            return [np.concatenate([c, hypothetical_from_multipliers(m, refs[position])], -1)
                    for c, m in per_label]

        if num_refs == 0:
            stacked = run(np.arange(len(one_hot)), input_data_list=[one_hot],
                          input_references_list=[np.zeros_like(one_hot[:1])],
                          progress_update=progress_update, **target_kwargs)
        else:
            stacked = self._score_shuffled(run, one_hot, num_refs, batch_size, seed,
                                           progress_update, target_kwargs, util, dinuc_shuffle)
        return [(s[..., :ALPHABET].astype(np.float32), s[..., ALPHABET:].astype(np.float32))
                for s in stacked]

    def _score_shuffled(self, run, one_hot, num_refs, batch_size, seed, progress_update,
                        target_kwargs, util, shuffle):
        """Chunks of sequences through ``get_shuffle_seq_ref_function``, one
        random generator for all (the references of a single call), so each
        chunk's other inputs and weights go with its sequences."""
        rng = np.random.RandomState(seed)   # one stream across chunks, as one call
        per_chunk = max(1, batch_size // num_refs)
        progress = util.ProgressReporter(len(one_hot), progress_update, "sequences")
        pieces = []
        for start in range(0, len(one_hot), per_chunk):
            stop = min(start + per_chunk, len(one_hot))
            rows = np.repeat(np.arange(start, stop), num_refs)

            def chunk_run(rows=rows, **kwargs):
                return run(rows, **kwargs)

            chunk_run.target_shape = self.target_shape
            kwargs = dict(target_kwargs)
            if "target_weights" in kwargs:
                kwargs["target_weights"] = targets_mod.select_examples(
                    kwargs["target_weights"], np.arange(start, stop), len(one_hot),
                    self.target_shape)
            pieces.append(util.get_shuffle_seq_ref_function(chunk_run, shuffle)(
                input_data_sequences=one_hot[start:stop], num_refs_per_seq=num_refs,
                batch_size=batch_size, seed=rng, **kwargs))
            progress.update(stop - start)
        progress.close()
        return [np.concatenate([p[k] for p in pieces]) for k in range(len(pieces[0]))]


def _find_layer(model, key: str, argument: str) -> Layer:
    from deeplift.models import SequentialModel

    if isinstance(model, SequentialModel):
        try:
            key = int(key)
        except ValueError:
            raise ValueError(f"{argument} must be a layer index for a Sequential model; "
                             f"got {key!r}.") from None
    return model._lookup(key, argument)


def _pick_output(model, name: str | None) -> tuple[str, Layer]:
    outputs = model.get_output_layers()
    listing = ", ".join(f"{n} {l.get_shape()}" for n, l in outputs.items())
    if name is None:
        if len(outputs) != 1:
            raise ValueError(f"The model has {len(outputs)} outputs ({listing}); choose one "
                             f"with --output NAME.")
        return next(iter(outputs.items()))
    for out, layer in outputs.items():
        if name in (out, layer.name):
            return out, layer
    raise ValueError(f"--output {name!r} names no output of the model; outputs: {listing}.")


def _pick_sequence_input(model, inputs: list[Input], name: str | None) -> Input:
    if name is not None:
        for layer in inputs:
            if name in (layer.name, _short_name(layer.name, model)):
                return layer
        raise ValueError(f"--sequence-input {name!r} names no input; inputs: "
                         f"{[_short_name(l.name, model) for l in inputs]}.")
    candidates = [l for l in inputs
                  if len(l.get_batch_shape()) == 3 and l.get_batch_shape()[-1] == ALPHABET]
    if len(candidates) != 1:
        raise ValueError(
            f"Cannot tell which input takes the one-hot sequences: "
            f"{len(candidates)} of the inputs "
            f"{[(_short_name(l.name, model), l.get_batch_shape()) for l in inputs]} have "
            f"shape (None, L, {ALPHABET}); name it with --sequence-input NAME.")
    return candidates[0]


def _load_other_inputs(model, inputs: list[Input], sequence_input: Input,
                       specs: list[str]) -> dict[str, np.ndarray]:
    loaded = {}
    names = {_short_name(l.name, model): l for l in inputs}
    names.update({l.name: l for l in inputs})
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or name not in names or names[name] is sequence_input:
            raise ValueError(
                f"--input {spec!r}: expected NAME=FILE.npy with NAME one of the other inputs "
                f"{[_short_name(l.name, model) for l in inputs if l is not sequence_input]}.")
        layer = names[name]
        try:
            array = np.load(path).astype(np.float32)
        except (OSError, ValueError) as err:
            raise ValueError(f"--input {spec!r}: cannot read {path!r}: {err}") from None
        expected = layer.get_batch_shape()[1:]
        if array.ndim != len(expected) + 1 or any(
                e is not None and e != a for e, a in zip(expected, array.shape[1:])):
            raise ValueError(f"--input {spec!r}: {path} has shape {array.shape}; input "
                             f"{name!r} takes (N, *{tuple(expected)}).")
        loaded[layer.name] = array
    return loaded


def select_target(model, args: argparse.Namespace) -> ScoreTarget:
    """Resolves the target options (``add_target_arguments``) on ``model``.

    Raises:
        ValueError: an unknown output, input or layer; a task that does not
            fit the target's shape; no target asked for; an activation layer
            as target; a profile target on an output without positions.
    """
    from deeplift.graph import check_can_be_target

    out_name, out_layer = _pick_output(model, args.output)
    if args.target_layer is not None:
        target = _find_layer(model, args.target_layer, "--target-layer")
    else:
        target = pre_activation(out_layer)
    check_can_be_target(target)
    tasks = list(args.task)
    profile = args.target == PROFILE
    if not tasks and not profile:
        raise ValueError("Say what to explain: --task T (repeatable; i,j for an N-d output) "
                         "and/or --target profile.")
    shape = tuple(target.get_shape()[1:])
    for task in tasks:
        targets_mod.flat_task_index(task, shape, target.name)
    if profile and shape[0] == 1:
        raise ValueError(f"--target profile needs an output with a position axis; target "
                         f"{target.name!r} has shape {target.get_shape()}.")
    prefix = f"{out_name}_" if len(model.get_output_layers()) > 1 else ""
    labels = [prefix + "task" + ("_".join(map(str, t)) if isinstance(t, tuple) else str(t))
              for t in tasks] + [prefix + PROFILE] * profile
    inputs = _input_layers(model)
    sequence_input = _pick_sequence_input(model, inputs, args.sequence_input)
    others = _load_other_inputs(model, inputs, sequence_input, args.input)
    return ScoreTarget(model=model, input_layers=inputs, sequence_input=sequence_input,
                       target=target, tasks=tasks, profile=profile, labels=labels,
                       other_inputs=others)
