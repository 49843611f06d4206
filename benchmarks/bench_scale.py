"""Times genome-scale scoring (deeplift.scale) against scoring the same
one-hot array in memory, and the Dask path's cost per shard.

On W1 (benchmarks/workloads.py: one-hot (1000, 4) genomics CNN, random
weights, DeepLIFT_GenomicsDefault), for ``--windows`` windows of 1 kb
centred on random regions of a synthetic two-chromosome genome:
  * in memory: ``ScoreTarget.score``, what ``deeplift score --sequences
    x.npy`` runs (contributions and hypothetical contributions from one pass
    per batch), on the windows' one-hot array, already encoded;
  * ``--scheduler local``: ``deeplift.scale.score_regions`` from the BED
    file and the FASTA: reading the windows with pyfaidx, one-hot
    encoding, scoring, and writing contributions, hypothetical
    contributions, one-hot and deltas to a compressed Zarr store
    (target <= 1.2x the in-memory time);
  * Dask overhead per shard: a LocalCluster with one worker process
    (warmed up: model converted, graph traced) scores ``--dask-windows``
    windows with shards of 500 and of 50 windows, in batches of 50 both
    times (so the compute is the same); the extra time per extra shard is
    the per-shard overhead (task round trip, store open, chunk writes),
    also given for the local scheduler.
The model is converted before timing in both paths (a run converts it once
per process). Median of ``--rounds`` interleaved rounds.

Figures (2 shared CPU cores, load average 7-10 from other jobs, so +-15%):
10,000 windows, zero reference: in memory 57.1 s (175 windows/s),
``--scheduler local`` 61.2 s, ratio 1.07x (an earlier run: 91.7 s vs 91.5 s,
1.00x); 1,000 windows with ``--reference shuffle:10``: 73.6 s vs 71.6 s,
0.97x. Per 1,000 windows of a shard: reading + encoding 0.02-0.05 s, Zarr
writes 0.55-0.7 s (~9% of scoring). Per-shard overhead at equal batches:
Dask (1 worker) 19-51 ms (2,000 windows, 4 vs 40 shards); the local
scheduler's is below the noise (the 40-shard run was the faster one).

Run: ``python benchmarks/bench_scale.py [--windows 10000] [--reference zeros]``.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import genomics_cnn  # noqa: E402

WIDTH = 1000


def make_inputs(folder: Path, num_windows: int, seed: int = 0):
    """A 2 x 3 Mb genome (some lowercase, some N) and a BED of random regions."""
    rng = np.random.default_rng(seed)
    lengths = {"chr1": 3_000_000, "chr2": 3_000_000}
    with open(folder / "genome.fa", "w") as fa:
        for name, length in lengths.items():
            seq = rng.choice(np.array(list("ACGTacgtN")), size=length,
                             p=[.24, .24, .24, .24, .01, .01, .01, .009, .001])
            text = "".join(seq)
            fa.write(f">{name}\n")
            fa.writelines(text[i:i + 80] + "\n" for i in range(0, length, 80))
    chroms = rng.choice(list(lengths), size=num_windows)
    starts = rng.integers(WIDTH, 3_000_000 - 2 * WIDTH, size=num_windows)
    ends = starts + rng.integers(1, 500, size=num_windows)
    (folder / "regions.bed").write_text(
        "".join(f"{c}\t{s}\t{e}\n" for c, s, e in zip(chroms, starts, ends)))
    keras_model, _ = genomics_cnn()
    keras_model.save(folder / "w1.h5")


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--dask-windows", type=int, default=2_000)
    parser.add_argument("--reference", default="zeros", help="zeros or shuffle:N")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-ratio", action="store_true",
                        help="only measure the per-shard overheads")
    args = parser.parse_args()

    import argparse as _argparse

    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    from deeplift.score_targets import select_target
    from deeplift.scale import score_regions
    from deeplift.scale.api import _num_refs
    from deeplift.scale.regions import Genome, centred_windows, read_bed

    folder = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        make_inputs(folder, args.windows)
        chrom, start, end, _ = read_bed(folder / "regions.bed")
        windows = centred_windows(chrom, start, end, WIDTH)
        one_hot = Genome(folder / "genome.fa").one_hot(windows.chrom, windows.start, WIDTH)
        model_path = str((folder / "w1.h5").resolve())
        model = convert_model_from_saved_files(model_path)
        target = select_target(model, _argparse.Namespace(
            output=None, target_layer=None, task=[0], target=None, sequence_input=None,
            input=[]))
        num_refs = _num_refs(args.reference)

        def in_memory():
            return target.score(one_hot, num_refs=num_refs, batch_size=args.batch_size, seed=1)

        def scale_local(n_windows=None, shard=args.shard_size, client=None, batch=None):
            bed = folder / "regions.bed"
            if n_windows is not None:
                bed = folder / f"regions_{n_windows}.bed"
                lines = (folder / "regions.bed").read_text().splitlines(True)[:n_windows]
                bed.write_text("".join(lines))
            out = folder / "out.zarr"
            shutil.rmtree(out, ignore_errors=True)
            return score_regions(model_path, bed, folder / "genome.fa", WIDTH, out, [0],
                                 reference=args.reference, shard_size=shard,
                                 batch_size=batch or args.batch_size, client=client,
                                 progress=False)

        in_memory()
        scale_local(n_windows=args.shard_size)  # warm-up: traces the graph
        memory_times, scale_times = [], []
        for _ in range(0 if args.skip_ratio else args.rounds):
            memory_times.append(timed(in_memory))
            scale_times.append(timed(scale_local))
        if not args.skip_ratio:
            mem, loc = statistics.median(memory_times), statistics.median(scale_times)
            print(f"W1, {args.windows} windows x {WIDTH} bp, reference {args.reference}, "
                  f"batch {args.batch_size}, shard {args.shard_size}, median of {args.rounds}")
            print(f"  in memory (one-hot array given):  {mem:8.2f} s  "
                  f"({args.windows / mem:7.0f} windows/s)")
            print(f"  --scheduler local (BED+FASTA -> zarr): {loc:8.2f} s  ratio "
                  f"{loc / mem:.3f}x (target <= 1.2x)")

        n = min(args.dask_windows, args.windows)
        local_small = statistics.median(timed(lambda: scale_local(n, 50, batch=50)) for _ in range(2))
        local_large = statistics.median(timed(lambda: scale_local(n, 500, batch=50)) for _ in range(2))
        shards_small, shards_large = -(-n // 50), -(-n // 500)
        print(f"  local per-shard overhead: {(local_small - local_large) / (shards_small - shards_large) * 1e3:6.1f} ms "
              f"({n} windows: {local_large:.2f} s in {shards_large} shards, {local_small:.2f} s in "
              f"{shards_small})")
        if args.skip_dask:
            return
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)

        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            scale_local(500, 500, client)  # worker converts the model, traces the graph
            dask_small = statistics.median(timed(lambda: scale_local(n, 50, client, 50))
                                           for _ in range(2))
            dask_large = statistics.median(timed(lambda: scale_local(n, 500, client, 50))
                                           for _ in range(2))
        per_shard = (dask_small - dask_large) / (shards_small - shards_large)
        print(f"  dask (1 worker) per-shard overhead: {per_shard * 1e3:6.1f} ms "
              f"({n} windows: {dask_large:.2f} s in {shards_large} shards "
              f"[{dask_large / local_large:.2f}x local], {dask_small:.2f} s in {shards_small})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
