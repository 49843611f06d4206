"""Scoring one shard of windows, the unit of work of every scheduler.

A process (this one, or a Dask worker) converts each model once and keeps
it (:func:`get_scorer`, keyed by model path, sha256 and conversion
options). Shuffled references are drawn per window from
``numpy.random.default_rng([seed, k])`` for window ``k`` of a region run
(``[seed, k, 0]`` and ``[seed, k, 1]`` for the reference and alternate
window of variant ``k``), so a window's scores do not depend on the
shards, workers or order that produced them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ModelSpec", "ShardJob", "get_scorer", "score_shard", "file_sha256",
           "window_seed"]


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def window_seed(seed: int, index: int, allele: int | None = None) -> list[int]:
    """The ``default_rng`` seed of window ``index``'s shuffled references
    (``allele`` 0/1: reference/alternate window of a variant)."""
    return [int(seed), int(index)] + ([] if allele is None else [int(allele)])


@dataclass(frozen=True)
class ModelSpec:
    """What identifies a converted model: file, its sha256, the nonlinear
    mode, the target layer and further ``convert_model_from_saved_files``
    keyword arguments (as sorted ``(name, value)`` pairs)."""

    path: str
    sha256: str
    mode: str
    target_layer: int = -2
    convert_options: tuple = ()


class WindowScorer:
    """Contributions, hypothetical contributions and convergence deltas of
    one-hot windows, from one compiled pass per batch (the same
    ``TargetScoringFunction`` that ``deeplift score`` uses)."""

    def __init__(self, model, target_layer: int):
        from deeplift.models import SequentialModel, TargetScoringFunction

        if not isinstance(model, SequentialModel):
            raise ValueError("genome-scale scoring supports Sequential models (as "
                             "`deeplift score` does); use the Python API for functional models.")
        inp = model.get_layers()[0]
        target = model._lookup(target_layer, "target_layer")
        self._both = TargetScoringFunction([inp], [inp, inp], target,
                                           ("target_contribs", "mxts"), return_list=True)
        self._predict = model.get_prediction_function(input_layer_idx=0,
                                                      output_layer_idx=target_layer)

    def score(self, one_hot: np.ndarray, tasks: list[int], num_refs: int, seeds,
              batch_size: int):
        """Scores ``(n, W, 4)`` windows against ``num_refs`` dinucleotide
        shuffles each (0: the all-zero reference), seeded by ``seeds[i]``.

        Returns:
            ``(contribs, hypothetical, delta)``: ``(T, n, W, 4)``,
            ``(T, n, W, 4)`` float32 (means over the references) and
            ``(T, n)`` (summed contributions minus the target's difference
            from reference, averaged over the references).
        """
        from deeplift.dinuc_shuffle import dinuc_shuffle
        from deeplift.genomics import hypothetical_from_multipliers

        n, num_tasks = len(one_hot), len(tasks)
        repeats = max(1, num_refs)
        contribs = np.empty((num_tasks,) + one_hot.shape, np.float32)
        hyp = np.empty_like(contribs)
        delta = np.empty((num_tasks, n), np.float32)
        per_call = max(1, int(batch_size) // repeats)
        for a in range(0, n, per_call):
            x = one_hot[a:a + per_call]
            m = len(x)
            if num_refs == 0:
                # one scalar reference: its forward pass runs once per batch
                inputs, refs = x, np.float32(0.0)
            else:
                refs = np.concatenate([
                    dinuc_shuffle(seq, num_shufs=num_refs, rng=np.random.default_rng(seed))
                    for seq, seed in zip(x, seeds[a:a + m])]).astype(np.float32)
                inputs = np.repeat(x, num_refs, axis=0)
            per_task, gaps = self._both(tasks, [inputs], batch_size=batch_size,
                                        input_references_list=[refs],
                                        return_convergence_delta=True)
            for t, (c, mxts) in enumerate(per_task):
                h = hypothetical_from_multipliers(mxts, refs)
                contribs[t, a:a + m] = c.reshape((m, repeats) + x.shape[1:]).mean(axis=1)
                hyp[t, a:a + m] = h.reshape((m, repeats) + x.shape[1:]).mean(axis=1)
            delta[:, a:a + m] = np.asarray(gaps).reshape(num_tasks, m, repeats).mean(axis=-1)
        return contribs, hyp, delta

    def predict(self, one_hot: np.ndarray, tasks: list[int], batch_size: int) -> np.ndarray:
        """The target neurons' values ``(T, n)``."""
        out = self._predict([one_hot], batch_size=batch_size)
        return np.asarray(out, np.float32).reshape(len(one_hot), -1)[:, tasks].T


_SCORERS: dict[ModelSpec, WindowScorer] = {}
_LOADS = {"count": 0}


def get_scorer(spec: ModelSpec) -> WindowScorer:
    """This process's scorer for ``spec``, converting the model on first use.

    Raises:
        ValueError: the model file's sha256 is no longer ``spec.sha256``.
    """
    scorer = _SCORERS.get(spec)
    if scorer is None:
        from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files

        actual = file_sha256(spec.path)
        if actual != spec.sha256:
            raise ValueError(f"{spec.path}: the model file changed during the run (sha256 "
                             f"{actual[:12]}... != {spec.sha256[:12]}...).")
        model = convert_model_from_saved_files(spec.path, nonlinear_mxts_mode=spec.mode,
                                               **dict(spec.convert_options))
        scorer = _SCORERS[spec] = WindowScorer(model, spec.target_layer)
        _LOADS["count"] += 1
    return scorer


@dataclass
class ShardJob:
    """One shard: windows ``start .. start + len(windows)`` of the run."""

    model: ModelSpec
    genome: str
    store: str
    shard: int
    start: int
    windows: object  # regions.Windows or variants.Variants, this shard's slice
    tasks: list[int]
    num_refs: int
    seed: int
    batch_size: int
    variants: bool = False
    info: dict = field(default_factory=dict)


def take(windows, start: int, stop: int):
    """The windows ``start:stop`` of a Windows/Variants (per-window fields
    sliced, the rest kept)."""
    n = len(windows)
    changes = {}
    for f in dataclasses.fields(windows):
        value = getattr(windows, f.name)
        if not isinstance(value, str) and hasattr(value, "__getitem__") and len(value) == n:
            changes[f.name] = value[start:stop]
    return dataclasses.replace(windows, **changes)


def score_shard(job: ShardJob) -> dict:
    """Reads, scores and writes one shard, then marks it done.

    Returns:
        ``{"shard", "pid", "model_loads", "seconds"}`` (``model_loads``:
        conversions this process has made so far).
    """
    from deeplift.scale.regions import open_genome
    from deeplift.scale.store import open_store, write_shard

    began = time.perf_counter()
    scorer = get_scorer(job.model)
    genome = open_genome(job.genome)
    windows = job.windows
    n = len(windows)
    indices = range(job.start, job.start + n)
    if job.variants:
        groups = windows.one_hot(genome, range(n))
        alleles = {"ref": 0, "alt": 1}
    else:
        groups = {"": genome.one_hot(windows.chrom, windows.start, windows.width)}
        alleles = {"": None}
    arrays, predictions = {}, {}
    for name, one_hot in groups.items():
        seeds = [window_seed(job.seed, k, alleles[name]) for k in indices]
        contribs, hyp, delta = scorer.score(one_hot, job.tasks, job.num_refs, seeds,
                                            job.batch_size)
        prefix = f"{name}/" if name else ""
        arrays[prefix + "contribs"] = contribs
        arrays[prefix + "hypothetical_contribs"] = hyp
        arrays[prefix + "one_hot"] = one_hot.astype(np.uint8)
        arrays[prefix + "convergence_delta"] = delta
        if job.variants:
            predictions[name] = scorer.predict(one_hot, job.tasks, job.batch_size)
            arrays[prefix + "prediction"] = predictions[name]
    if job.variants:
        arrays["alt_minus_ref"] = predictions["alt"] - predictions["ref"]
    write_shard(open_store(job.store, mode="r+"), job.shard, job.start, arrays)
    return {"shard": job.shard, "pid": os.getpid(), "model_loads": _LOADS["count"],
            "seconds": time.perf_counter() - began}
