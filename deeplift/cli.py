"""The ``deeplift`` command line.

``deeplift convert MODEL`` prints the converted layer graph (or the list of
layers that cannot be converted), then the model's inputs and outputs.
``deeplift score MODEL --sequences FASTA|NPY [--output NAME] --task T
[--task T2 ...] [--target profile] --mode MODE --reference zeros|shuffle:N
--out DIR`` writes, per target, contributions, hypothetical contributions
and the two modisco-lite input files (target options: ``score_targets``).
Max pools use ``--maxpool-mode`` (default ``cross_max``, which conserves for
any reference; the Python API's default is the original's ``gradient``).
``deeplift check MODEL`` reports per layer where contributions stop adding
up (see ``deeplift.cli_check``).
With ``--regions BED`` or ``--variants VCF`` (and ``--genome``, ``--width``,
``--out X.zarr``) it scores genome windows into a Zarr store, optionally on
a Dask cluster (``--scheduler``); ``deeplift export`` turns a store into
bigWig, modisco-lite or HDF5 files (see ``deeplift.scale``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _load_sequences(path: str) -> np.ndarray:
    from deeplift.genomics_io import one_hot_encode, read_fasta

    if path.endswith(".npy"):
        array = np.load(path).astype(np.float32)
        if array.ndim != 3 or array.shape[-1] != 4:
            raise ValueError(f"{path}: expected one-hot sequences of shape (N, L, 4); "
                             f"got {array.shape}.")
        return array
    return one_hot_encode([seq for _, seq in read_fasta(path)])


def _parse_reference(text: str) -> int:
    """0 for "zeros", N for "shuffle:N"."""
    if text == "zeros":
        return 0
    if text.startswith("shuffle:") and text[len("shuffle:"):].isdigit() and int(text[8:]) > 0:
        return int(text[len("shuffle:"):])
    raise argparse.ArgumentTypeError(f"--reference must be 'zeros' or 'shuffle:N'; got {text!r}.")


def _mode_note(layer) -> str:
    """``  [mode]`` for a nonlinearity, with DeepLIFT_GenomicsDefault shown
    together with the rule it resolves to (or why it cannot be resolved)."""
    from deeplift.modes import NonlinearMxtsMode
    from deeplift.score_targets import add_target_arguments
    from deeplift.rules import effective_mode

    pool_mode = getattr(layer, "maxpool_deeplift_mode", None)
    if pool_mode is not None:
        return f"  [{pool_mode.value}]"
    mode = getattr(layer, "requested_nonlinear_mxts_mode", None)
    if mode is None:
        return ""
    if mode != NonlinearMxtsMode.DeepLIFT_GenomicsDefault:
        return f"  [{mode.value}]"
    try:
        return f"  [{mode.value} -> {effective_mode(layer).value}]"
    except ValueError:
        return f"  [{mode.value}: unresolved, set a mode on this layer]"


def _describe(model) -> str:
    from deeplift.models import SequentialModel

    if isinstance(model, SequentialModel):
        items = [(layer.name, layer) for layer in model.get_layers()]
    else:
        items = list(model.get_name_to_layer().items())
    lines = []
    for name, layer in items:
        inputs = ", ".join(l.name for l in layer.input_layers()) or "-"
        extra = _mode_note(layer)
        lines.append(f"{name:<28} {type(layer).__name__:<20} <- {inputs}  "
                     f"shape {layer.get_shape()}{extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from deeplift import cli_check
    from deeplift.modes import MaxPoolDeepLiftMode, NonlinearMxtsMode
    from deeplift.scale import cli as scale_cli
    from deeplift.score_targets import add_target_arguments

    parser = argparse.ArgumentParser(prog="deeplift", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    convert = sub.add_parser("convert", help="print the converted layer graph")
    convert.add_argument("model", nargs="?", help=".h5 or .keras file")
    convert.add_argument("--mode", default="DeepLIFT_GenomicsDefault")
    convert.add_argument("--supported", action="store_true",
                         help="list the Keras layer classes and activations that convert")
    score = sub.add_parser("score", help="score sequences and write modisco-lite inputs")
    score.add_argument("model", help=".h5 or .keras file")
    score.add_argument("--sequences", help="FASTA file or .npy one-hot (N, L, 4)")
    score.add_argument("--mode", default="DeepLIFT_GenomicsDefault",
                       help=f"one of {[m.value for m in NonlinearMxtsMode]}")
    score.add_argument("--reference", type=_parse_reference, default="shuffle:10",
                       help="zeros or shuffle:N (N dinucleotide shuffles per sequence)")
    add_target_arguments(score)
    score.add_argument("--batch-size", type=int, default=256)
    score.add_argument("--seed", type=int, default=1)
    score.add_argument("--out", required=True, help="output folder, or X.zarr (see --regions)")
    scale_cli.add_score_arguments(score)
    scale_cli.add_export_parser(sub)
    check = cli_check.add_parser(sub)
    for command in (convert, score, check):
        command.add_argument("--maxpool-mode", default=MaxPoolDeepLiftMode.cross_max.value,
                             choices=[m.value for m in MaxPoolDeepLiftMode],
                             help="max-pool rule (cross_max conserves for any reference; "
                                  "gradient is the original's)")
    args = parser.parse_args(argv)
    if args.command == "convert" and args.supported:
        from deeplift.conversion.support import (
            supported_activations, supported_classes, supported_ops,
        )

        print("Keras layer classes: " + ", ".join(supported_classes()))
        print("Keras ops on tensors: " + ", ".join(supported_ops()))
        print("Fused activations: " + ", ".join(supported_activations()))
        return 0
    if args.command == "convert" and args.model is None:
        parser.error("convert: give a MODEL file (or --supported)")
    if args.command == "export":
        return scale_cli.run_export(args)
    if args.command == "score" and scale_cli.wants_scale(args):
        return scale_cli.run_score(args)
    if args.command == "score" and not args.sequences:
        parser.error("score needs --sequences, --regions or --variants")

    from deeplift.conversion.errors import ConversionError
    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files

    try:
        model = convert_model_from_saved_files(args.model, nonlinear_mxts_mode=args.mode,
                                               maxpool_deeplift_mode=args.maxpool_mode,
                                               fallback_steps=getattr(args, "fallback_steps",
                                                                      None))
    except (ConversionError, FileNotFoundError, ValueError) as err:
        print(f"deeplift: {err}", file=sys.stderr)
        return 2
    if args.command == "convert":
        from deeplift.score_targets import describe_inputs_and_outputs

        print(_describe(model))
        print(describe_inputs_and_outputs(model))
        return 0
    if args.command == "check":
        try:
            return cli_check.run(model, args)
        except (ValueError, OSError) as err:
            print(f"deeplift check: {err}", file=sys.stderr)
            return 2
    return _score(model, args)


def _score(model, args) -> int:
    from deeplift.genomics_io import save_modisco_inputs
    from deeplift.score_targets import select_target

    try:
        target = select_target(model, args)
        one_hot = _load_sequences(args.sequences)
        results = target.score(one_hot, num_refs=args.reference, batch_size=args.batch_size,
                               seed=args.seed, progress_update=max(1, len(one_hot) // 20))
    except (ValueError, OSError) as err:
        print(f"deeplift score: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for label, (contribs, hyp) in zip(target.labels, results):
        np.save(out / f"{label}_contribs.npy", contribs)
        np.save(out / f"{label}_hypothetical_contribs.npy", hyp)
        save_modisco_inputs(one_hot, hyp, out, prefix=f"{label}_")
    print(f"wrote scores for {target.labels} of {len(one_hot)} sequences to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
