"""``score_regions`` and ``score_variants``: genome windows to a Zarr store."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from deeplift.scale import executor, store
from deeplift.scale.regions import Genome, Windows, centred_windows, check_windows, read_bed
from deeplift.scale.shards import ModelSpec, ShardJob, file_sha256, get_scorer, take
from deeplift.scale.variants import Variants, read_vcf

__all__ = ["score_regions", "score_variants", "ScaleResult"]


@dataclass
class ScaleResult:
    """What a run did: the store, its size, the shards this call computed
    (all missing ones) and each shard task's report (worker pid, model
    conversions so far in that process, seconds)."""

    store: str
    num_windows: int
    num_shards: int
    computed_shards: list[int]
    reports: list[dict] = field(default_factory=list)


def _num_refs(reference) -> int:
    if isinstance(reference, (int, np.integer)) and reference >= 0:
        return int(reference)
    if reference == "zeros":
        return 0
    text = str(reference)
    if text.startswith("shuffle:") and text[8:].isdigit() and int(text[8:]) > 0:
        return int(text[8:])
    raise ValueError(f"reference must be 'zeros', 'shuffle:N' or a count of shuffles; "
                     f"got {reference!r}.")


def score_regions(model, regions, genome, width: int, out, tasks, **options) -> ScaleResult:
    """Scores a ``width``-base window centred on each region.

    Args:
        model: saved Keras model file (``.h5``/``.keras``) of a Sequential
            model (as ``deeplift score``).
        regions: a BED file, or ``(chrom, start, end)`` sequences.
        genome: FASTA of the genome.
        width: window width ``W``.
        out: the ``.zarr`` store to write (see ``deeplift.scale.store``).
        tasks: target neuron indices (ints; tuples for an N-d target); may
            be empty with ``target="profile"``.
        **options: see :func:`_run` (mode, reference, seed, shard_size,
            batch_size, output, target, target_layer, sequence_input,
            client, resume, overwrite, progress, convert_options).

    Returns:
        A :class:`ScaleResult`.
    """
    if isinstance(regions, (str, os.PathLike)):
        chrom, start, end, sources = read_bed(regions)
        source = str(regions)
    else:
        chrom, start, end = (np.asarray(c) for c in regions)
        sources, source = None, "<arrays>"
    windows = centred_windows(chrom, start, end, width, sources)
    fasta = Genome(genome)
    check_windows(fasta, windows)
    coords = {"chrom": windows.chrom.astype(str), "start": windows.start,
              "end": windows.end}
    return _run("regions", model, fasta, windows, coords, out, tasks, source, **options)


def score_variants(model, variants, genome, width: int, out, tasks,
                   ref_mismatch: str = "error", **options) -> ScaleResult:
    """Scores each variant's reference and alternate windows (groups
    ``ref/`` and ``alt/`` of the store; ``alt_minus_ref`` holds the
    target's difference).

    Args:
        variants: a VCF file or a :class:`~deeplift.scale.variants.Variants`.
        ref_mismatch: ``"error"`` (default) or ``"flag"`` (score it, set
            ``ref_matches`` False and warn) for REF alleles that disagree
            with the genome.
        Others: as :func:`score_regions`.
    """
    import dataclasses

    source = str(variants) if isinstance(variants, (str, os.PathLike)) else "<variants>"
    records = read_vcf(variants) if isinstance(variants, (str, os.PathLike)) else variants
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive int; got {width!r}.")
    records = dataclasses.replace(records, width=int(width))
    fasta = Genome(genome)
    records.check(fasta, ref_mismatch)
    coords = {"chrom": records.chrom.astype(str), "start": records.start, "end": records.end,
              "pos": records.pos + 1, "variant_id": np.asarray(records.ids, str),
              "ref_allele": np.asarray(records.ref, str),
              "alt_allele": np.asarray(records.alt, str), "ref_matches": records.ref_matches}
    return _run("variants", model, fasta, records, coords, out, tasks, source, **options)


def _task_key(task):
    """A task as JSON keeps it: an int, or a list for an N-d index."""
    return list(task) if isinstance(task, (tuple, list)) else int(task)


def _run(kind: str, model, genome: Genome, windows: Windows | Variants, coords: dict, out,
         tasks, source: str, *, mode: str = "DeepLIFT_GenomicsDefault",
         reference="shuffle:10", seed: int = 1, shard_size: int = 1000, batch_size: int = 256,
         output: str | None = None, target: str | None = None, target_layer=None,
         sequence_input: str | None = None, client=None, resume: bool = False,
         overwrite: bool = False, progress: bool = True,
         convert_options: dict | None = None) -> ScaleResult:
    """Shared driver. ``tasks``: target neuron indices (ints, or tuples for
    an N-d target); ``output``/``target``/``target_layer``/
    ``sequence_input``: as ``deeplift score``'s ``--output``, ``--target
    profile``, ``--target-layer``, ``--sequence-input``; ``mode``: the
    nonlinear mode; ``reference``: ``"zeros"``/``"shuffle:N"``;
    ``shard_size``: windows per shard and Zarr chunk; ``client``: a
    ``dask.distributed.Client`` or None (this process); ``convert_options``:
    extra ``convert_model_from_saved_files`` keyword arguments (strings)."""
    if tasks is None or np.isscalar(tasks) or isinstance(tasks, tuple):
        tasks = [] if tasks is None else [tasks]
    tasks = [tuple(int(i) for i in t) if isinstance(t, (tuple, list)) else int(t)
             for t in tasks]
    if not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int; got {shard_size!r}.")
    num_refs = _num_refs(reference)
    if not str(out).rstrip("/").endswith(".zarr"):
        raise ValueError(f"out must be a .zarr path; got {str(out)!r}.")
    model_path = os.path.abspath(model)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"model file not found: {str(model)!r}.")
    options = {k: str(v) for k, v in sorted((convert_options or {}).items())}
    target_options = {"output": output, "target": target, "tasks": tuple(tasks),
                      "sequence_input": sequence_input,
                      "target_layer": None if target_layer is None else str(target_layer)}
    spec = ModelSpec(model_path, file_sha256(model_path), str(getattr(mode, "value", mode)),
                     tuple(options.items()), tuple(sorted(target_options.items())))
    # Converting here checks the model and target options before any work
    # (and is the model every local shard uses).
    labels = get_scorer(spec).labels
    used = sorted(set(coords["chrom"].tolist()))
    settings = {"kind": kind, "model": model_path, "model_sha256": spec.sha256,
                "mode": spec.mode, "convert_options": options,
                "tasks": [_task_key(t) for t in tasks], "labels": labels,
                "output": output, "target": target, "sequence_input": sequence_input,
                "target_layer": target_options["target_layer"],
                "reference": "zeros" if num_refs == 0 else f"shuffle:{num_refs}",
                "seed": int(seed), "width": int(windows.width), "shard_size": int(shard_size),
                "num_windows": len(windows), "genome": os.path.abspath(genome.path),
                "chrom_sizes": {c: int(genome.lengths[c]) for c in used}, "input": source}
    out = os.path.abspath(out)
    groups = ["ref", "alt"] if kind == "variants" else [""]
    extra = ["alt_minus_ref"] if kind == "variants" else []
    root = store.create_or_open(out, settings, coords, groups, extra, resume=resume,
                                overwrite=overwrite)
    missing = store.missing_shards(root)

    def jobs():
        for k in missing:
            a, b = k * shard_size, min(len(windows), (k + 1) * shard_size)
            yield ShardJob(spec, settings["genome"], out, k, a, take(windows, a, b),
                           num_refs, int(seed), int(batch_size), variants=kind == "variants")

    if client is None:
        total = sum(min(len(windows), (k + 1) * shard_size) - k * shard_size for k in missing)
        reports = executor.run_local(jobs(), total, progress)
    else:
        reports = executor.run_dask(jobs(), client, progress)
    num_shards = (len(windows) + shard_size - 1) // shard_size
    return ScaleResult(out, len(windows), num_shards, missing, list(reports))
