"""The genome-scale parts of the ``deeplift`` command line.

``deeplift score MODEL --regions BED|--variants VCF --genome FASTA --width W
--out X.zarr [--scheduler local|dask-local:N|tcp://HOST:PORT] [--shard-size S]
[--resume|--overwrite]`` and ``deeplift export STORE.zarr --bigwig FILE.bw
--task T | --modisco DIR | --hdf5 FILE.h5``. ``deeplift.cli`` wires these in.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_score_arguments", "add_export_parser", "wants_scale", "run_score",
           "run_export"]


def add_score_arguments(score: argparse.ArgumentParser) -> None:
    """Adds the region/variant inputs and the run options to ``score``."""
    group = score.add_argument_group("genome-scale scoring (writes a .zarr store)")
    group.add_argument("--regions", help="BED file: a --width window centred on each region")
    group.add_argument("--variants", help="VCF file: reference and alternate windows with "
                                          "the variant at index W//2")
    group.add_argument("--genome", help="genome FASTA (indexed with pyfaidx)")
    group.add_argument("--width", type=int, help="window width W in bases")
    group.add_argument("--scheduler", default="local",
                       help="local (this process), dask-local:N (N worker processes) or "
                            "tcp://HOST:PORT (a running Dask scheduler)")
    group.add_argument("--shard-size", type=int, default=1000,
                       help="windows per shard (one Zarr chunk, one Dask task)")
    group.add_argument("--resume", action="store_true",
                       help="finish an interrupted store: score only the missing shards")
    group.add_argument("--overwrite", action="store_true", help="replace an existing store")
    group.add_argument("--ref-mismatch", choices=["error", "flag"], default="error",
                       help="VCF REF alleles that disagree with the genome: stop (error) or "
                            "score them and flag them in ref_matches (flag)")


def add_export_parser(sub) -> None:
    """The ``export`` subcommand."""
    export = sub.add_parser("export", help="export a .zarr store to bigWig, modisco-lite "
                                           "inputs or HDF5")
    export.add_argument("store", help="STORE.zarr written by deeplift score")
    what = export.add_mutually_exclusive_group(required=True)
    what.add_argument("--bigwig", help="FILE.bw: per-base contributions summed over bases")
    what.add_argument("--modisco", help="DIR for modisco-lite's ohe/shap .npz files")
    what.add_argument("--hdf5", help="FILE.h5 with every array of the store")
    export.add_argument("--task", help="for --bigwig: a scored task (T or i,j), 'profile', "
                                       "or a label of the store")
    export.add_argument("--group", choices=["ref", "alt"],
                        help="for a variants store: which windows (--bigwig needs one)")


def wants_scale(args) -> bool:
    """True when ``score`` was given regions, variants or a .zarr output."""
    return bool(args.regions or args.variants or str(args.out).rstrip("/").endswith(".zarr"))


def _fail(command: str, message) -> int:
    print(f"deeplift {command}: {message}", file=sys.stderr)
    return 2


def run_score(args) -> int:
    """``deeplift score`` with ``--regions``/``--variants``."""
    from deeplift.scale.api import score_regions, score_variants
    from deeplift.scale.executor import open_scheduler

    if bool(args.regions) == bool(args.variants) or args.sequences:
        return _fail("score", "give exactly one of --sequences, --regions and --variants "
                              "(--regions/--variants write a .zarr store).")
    if not args.genome or not args.width:
        return _fail("score", "--regions/--variants need --genome FASTA and --width W.")
    if not str(args.out).rstrip("/").endswith(".zarr"):
        return _fail("score", f"--regions/--variants write a Zarr store: --out must end in "
                              f".zarr (got {args.out!r}); `deeplift export STORE.zarr "
                              f"--modisco DIR` then writes the modisco-lite files.")
    options = {}
    if getattr(args, "maxpool_mode", None):
        options["maxpool_deeplift_mode"] = args.maxpool_mode
    if getattr(args, "input", None):
        return _fail("score", "--input (values of other model inputs) is not supported with "
                              "--regions/--variants: other inputs get zeros.")
    common = dict(mode=args.mode, reference=args.reference, seed=args.seed,
                  shard_size=args.shard_size, batch_size=args.batch_size,
                  output=args.output, target=args.target, target_layer=args.target_layer,
                  sequence_input=args.sequence_input, resume=args.resume,
                  overwrite=args.overwrite, progress=True, convert_options=options)
    try:
        client, close = open_scheduler(args.scheduler)
    except ValueError as err:
        return _fail("score", err)
    try:
        if args.regions:
            result = score_regions(args.model, args.regions, args.genome, args.width, args.out,
                                   args.task, client=client, **common)
        else:
            result = score_variants(args.model, args.variants, args.genome, args.width,
                                    args.out, args.task, ref_mismatch=args.ref_mismatch,
                                    client=client, **common)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        return _fail("score", err)
    finally:
        close()
    print(f"scored {len(result.computed_shards)} of {result.num_shards} shards "
          f"({result.num_windows} windows) into {result.store}")
    return 0


def run_export(args) -> int:
    """``deeplift export``."""
    from deeplift.scale.export import export_bigwig, export_hdf5, export_modisco

    try:
        if args.bigwig:
            if args.task is None:
                return _fail("export", "--bigwig needs --task T.")
            written = export_bigwig(args.store, args.bigwig, args.task, group=args.group)
        elif args.modisco:
            export_modisco(args.store, args.modisco, group=args.group)
            written = args.modisco
        else:
            written = export_hdf5(args.store, args.hdf5)
    except (ValueError, FileNotFoundError, KeyError) as err:
        return _fail("export", err)
    print(f"wrote {written}")
    return 0
