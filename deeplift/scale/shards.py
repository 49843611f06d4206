"""Scoring one shard of windows, the unit of work of every scheduler.

A process (this one, or a Dask worker) converts each model once and keeps
it (:func:`get_scorer`, keyed by model path, sha256, conversion and
target options). Shuffled references are drawn per window from
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
from dataclasses import dataclass

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
    """What identifies a converted model and its target: file, sha256, the
    nonlinear mode, further ``convert_model_from_saved_files`` keyword
    arguments and the target options of ``deeplift score`` (see
    ``deeplift.score_targets.add_target_arguments``), both as sorted
    ``(name, value)`` pairs with tasks as a tuple."""

    path: str
    sha256: str
    mode: str
    convert_options: tuple = ()
    target_options: tuple = ()


class WindowScorer:
    """Contributions, hypothetical contributions and convergence deltas of
    one-hot windows for a ``deeplift.score_targets.ScoreTarget`` (what
    ``deeplift score`` explains), from one compiled pass per batch, with
    each window's references drawn from its own seed."""

    def __init__(self, target):
        self.target = target
        self.labels = list(target.labels)

    def score(self, one_hot: np.ndarray, num_refs: int, seeds, batch_size: int):
        """Scores ``(n, W, 4)`` windows against ``num_refs`` dinucleotide
        shuffles each (0: the all-zero reference), seeded by ``seeds[i]``.
        Other model inputs get zeros, held fixed as their own reference.

        Returns:
            ``(contribs, hypothetical, delta)``: ``(T, n, W, 4)``,
            ``(T, n, W, 4)`` float32 (means over the references) and
            ``(T, n)`` (summed contributions minus the target's difference
            from reference, averaged over the references), ``T`` labels.
        """
        from deeplift import targets as targets_mod
        from deeplift.dinuc_shuffle import dinuc_shuffle
        from deeplift.genomics import hypothetical_from_multipliers

        target = self.target
        feeds = target.feeds(one_hot)
        weights = target.weights(feeds, batch_size)
        both = target._compiled("both")
        position = target.input_layers.index(target.sequence_input)
        n, num_labels = len(one_hot), len(self.labels)
        repeats = max(1, num_refs)
        contribs = np.empty((num_labels,) + one_hot.shape, np.float32)
        hyp = np.empty_like(contribs)
        delta = np.empty((num_labels, n), np.float32)
        per_call = max(1, int(batch_size) // repeats)
        for a in range(0, n, per_call):
            x = one_hot[a:a + per_call]
            m = len(x)
            rows = np.repeat(np.arange(a, a + m), repeats)
            data = [f[rows] for f in feeds]
            refs = list(data)
            if num_refs == 0:
                # one shared reference: its forward pass runs once per batch
                refs[position] = np.zeros_like(one_hot[:1])
            else:
                refs[position] = np.concatenate([
                    dinuc_shuffle(seq, num_shufs=num_refs, rng=np.random.default_rng(seed))
                    for seq, seed in zip(x, seeds[a:a + m])]).astype(np.float32)
            kwargs = ({"task_idx": list(target.tasks)} if weights is None else
                      {"target_weights": targets_mod.select_examples(
                          weights, rows, n, target.target_shape)})
            per_label, gaps = both(input_data_list=data, input_references_list=refs,
                                   batch_size=batch_size, return_convergence_delta=True,
                                   **kwargs)
            for t, (c, mxts) in enumerate(per_label):
                h = hypothetical_from_multipliers(mxts, refs[position])
                contribs[t, a:a + m] = c.reshape((m, repeats) + x.shape[1:]).mean(axis=1)
                hyp[t, a:a + m] = h.reshape((m, repeats) + x.shape[1:]).mean(axis=1)
            delta[:, a:a + m] = np.asarray(gaps).reshape(num_labels, m, repeats).mean(axis=-1)
        return contribs, hyp, delta

    def predict(self, one_hot: np.ndarray, batch_size: int) -> np.ndarray:
        """Each label's target value ``(T, n)``: the task neuron, or the
        profile target ``sum(w * logits)`` with the window's own weights."""
        from deeplift import targets as targets_mod

        target = self.target
        feeds = target.feeds(one_hot)
        logits = np.asarray(target._compiled("predict")(feeds, batch_size=batch_size),
                            np.float32)
        weights = [targets_mod.task_weights(t, target.target_shape, target.target.name)
                   for t in target.tasks]
        if target.profile:
            weights.append(targets_mod.profile_weights(logits, axis=1))
        flat = logits.reshape(len(one_hot), -1)
        return np.stack([(np.broadcast_to(w, logits.shape).reshape(len(one_hot), -1)
                          * flat).sum(-1) for w in weights]).astype(np.float32)


_SCORERS: dict[ModelSpec, WindowScorer] = {}
_LOADS = {"count": 0}


def get_scorer(spec: ModelSpec) -> WindowScorer:
    """This process's scorer for ``spec``, converting the model on first use.

    Raises:
        ValueError: the model file's sha256 is no longer ``spec.sha256``, or
            the target options do not fit the model.
    """
    scorer = _SCORERS.get(spec)
    if scorer is None:
        import argparse

        from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
        from deeplift.score_targets import select_target

        actual = file_sha256(spec.path)
        if actual != spec.sha256:
            raise ValueError(f"{spec.path}: the model file changed during the run (sha256 "
                             f"{actual[:12]}... != {spec.sha256[:12]}...).")
        model = convert_model_from_saved_files(spec.path, nonlinear_mxts_mode=spec.mode,
                                               **dict(spec.convert_options))
        options = dict(spec.target_options)
        target = select_target(model, argparse.Namespace(
            output=options.get("output"), target_layer=options.get("target_layer"),
            task=list(options.get("tasks", ())), target=options.get("target"),
            sequence_input=options.get("sequence_input"), input=[]))
        scorer = _SCORERS[spec] = WindowScorer(target)
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
    num_refs: int
    seed: int
    batch_size: int
    variants: bool = False


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
        contribs, hyp, delta = scorer.score(one_hot, job.num_refs, seeds, job.batch_size)
        prefix = f"{name}/" if name else ""
        arrays[prefix + "contribs"] = contribs
        arrays[prefix + "hypothetical_contribs"] = hyp
        arrays[prefix + "one_hot"] = one_hot.astype(np.uint8)
        arrays[prefix + "convergence_delta"] = delta
        if job.variants:
            predictions[name] = scorer.predict(one_hot, job.batch_size)
            arrays[prefix + "prediction"] = predictions[name]
    if job.variants:
        arrays["alt_minus_ref"] = predictions["alt"] - predictions["ref"]
    write_shard(open_store(job.store, mode="r+"), job.shard, job.start, arrays)
    return {"shard": job.shard, "pid": os.getpid(), "model_loads": _LOADS["count"],
            "seconds": time.perf_counter() - began}
