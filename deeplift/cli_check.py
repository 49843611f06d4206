"""``deeplift check MODEL``: where summation-to-delta holds and where it breaks.

Converts the model (``--mode``, ``--maxpool-mode`` as ``deeplift score``;
``--fallback-steps K`` opts in to the per-layer fallback for layers without
a rule, whose own residuals the table then shows),
scores a few inputs (random, or ``--inputs X.npy``) against references
(another random draw, zeros, or ``--references R.npy``) at every layer, and
prints ``deeplift.diagnostics.check_conservation``'s per-layer table. Exit
status 0 when conservation holds at every cut, 1 when it breaks.
"""
from __future__ import annotations

import argparse

import numpy as np


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``check`` subcommand on ``sub`` (argparse subparsers)."""
    check = sub.add_parser("check", help="report per layer where contributions stop adding up")
    check.add_argument("model", help=".h5 or .keras file")
    check.add_argument("--mode", default="DeepLIFT_GenomicsDefault")
    check.add_argument("--inputs", help=".npy array (N, ...) of inputs (single-input models); "
                                        "default: random (one-hot for (L, 4) inputs)")
    check.add_argument("--references", default="random",
                       help="'random' (another random draw), 'zeros' or a .npy array")
    check.add_argument("--examples", type=int, default=4, help="number of random inputs")
    check.add_argument("--task", type=int, default=0, help="target neuron index")
    check.add_argument("--target-layer", default=None,
                       help="target layer index (Sequential) or name (functional); "
                            "default: the last layer, or the one before a final activation")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--fallback-steps", type=_positive_int, default=None, metavar="K",
                       help="opt in to the per-layer fallback: convert layers without a "
                            "rule by their gradients averaged over K path points; the "
                            "report shows each such layer's own residual")
    return check


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer number of steps; "
                                         f"got {text!r}")
    return value


def run(model, args) -> int:
    from deeplift.diagnostics import check_conservation
    from deeplift.models import SequentialModel

    target = args.target_layer
    if target is not None and isinstance(model, SequentialModel):
        try:
            target = int(target)
        except ValueError:
            raise ValueError(f"--target-layer must be a layer index for Sequential models; "
                             f"got {target!r}.") from None
    inputs = None if args.inputs is None else [np.load(args.inputs)]
    if args.references == "random":
        refs = None
    elif args.references == "zeros":
        refs = [0.0 for _ in model._input_layers()]
    else:
        refs = [np.load(args.references)]
    report = check_conservation(model, inputs, target_layer=target, task_idx=args.task,
                                input_references_list=refs, num_examples=args.examples,
                                seed=args.seed, verbose=True)
    return 0 if report.holds else 1
