"""Exports of a scoring store: bigWig tracks, modisco-lite inputs, HDF5."""
from __future__ import annotations

import json
import os

import numpy as np

from deeplift.scale.store import open_store

__all__ = ["export_bigwig", "export_modisco", "export_hdf5"]


def _group(root, group: str | None):
    """The array group: the root for regions, ``ref``/``alt`` for variants."""
    kind = root.attrs["deeplift"]["kind"]
    if kind == "variants":
        if group not in ("ref", "alt"):
            raise ValueError(f"a variants store holds groups 'ref' and 'alt'; pass group= "
                             f"(--group) as one of them, got {group!r}.")
        return root[group]
    if group not in (None, ""):
        raise ValueError(f"a regions store has no group {group!r}.")
    return root


def _task_axis(settings: dict, task) -> int:
    """Index along T of ``task``: an int, ``"i,j"``, ``"profile"`` or a
    label as stored (``task3``, ``counts_task0``...)."""
    text = str(task).strip()
    wanted = text if not text.replace(",", "").isdigit() else "task" + text.replace(",", "_")
    labels = list(settings["labels"])
    for axis, label in enumerate(labels):
        if label == wanted or label.endswith("_" + wanted):
            matches = [l for l in labels if l == wanted or l.endswith("_" + wanted)]
            if len(matches) > 1:
                raise ValueError(f"task {task!r} matches {matches}; give the full label.")
            return axis
    raise ValueError(f"task {task} was not scored; the store holds {labels} (tasks "
                     f"{settings['tasks']}).")


def _check_done(root, path) -> None:
    done = root["done"][:]
    if not done.all():
        raise ValueError(f"{path}: {int((~done).sum())} of {done.size} shards are not scored "
                         f"yet; finish the run with --resume first.")


class _Track:
    """Per-base averages of overlapping windows on one chromosome, written
    to the bigWig as soon as no later window can reach them (windows come
    sorted by start), so memory holds about one window span."""

    def __init__(self, bigwig, chrom: str):
        self._bw, self._chrom = bigwig, chrom
        self._origin = 0
        self._sums = np.zeros(0)
        self._counts = np.zeros(0, np.int64)

    def add(self, start: int, values: np.ndarray) -> None:
        self.flush(start)
        if not self._sums.size:
            self._origin = start
        end = start - self._origin + len(values)
        if end > self._sums.size:
            grow = end - self._sums.size
            self._sums = np.concatenate([self._sums, np.zeros(grow)])
            self._counts = np.concatenate([self._counts, np.zeros(grow, np.int64)])
        self._sums[start - self._origin:end] += values
        self._counts[start - self._origin:end] += 1

    def flush(self, upto: int | None = None) -> None:
        """Writes every position before ``upto`` (all when None)."""
        size = self._sums.size
        final = size if upto is None else max(0, min(size, upto - self._origin))
        if not final:
            return
        counts, sums = self._counts[:final], self._sums[:final]
        covered = counts > 0
        edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.astype(np.int8), [0]])))
        for run_start, run_end in zip(edges[::2], edges[1::2]):
            values = sums[run_start:run_end] / counts[run_start:run_end]
            self._bw.addEntries(self._chrom, int(self._origin + run_start),
                                values=values.astype(np.float64).tolist(), span=1, step=1)
        self._sums, self._counts = self._sums[final:], self._counts[final:]
        self._origin += final


def export_bigwig(store_path: str | os.PathLike, out: str | os.PathLike, task,
                  group: str | None = None, batch: int = 1024) -> str:
    """Writes a bigWig of per-base contributions summed over the 4 bases
    for ``task``; where windows overlap, their values are averaged.

    Args:
        store_path: a finished store.
        out: the ``.bw`` file to write.
        task: what the store was scored for: a task (int or ``"i,j"``),
            ``"profile"``, or a stored label.
        group: ``"ref"`` or ``"alt"`` for a variants store.
        batch: windows read from the store at a time.

    Returns:
        ``out`` as a string.
    """
    import pyBigWig

    root = open_store(store_path)
    settings = dict(root.attrs["deeplift"])
    axis = _task_axis(settings, task)
    _check_done(root, store_path)
    contribs = _group(root, group)["contribs"]
    chrom, start = root["chrom"][:], root["start"][:]
    sizes = settings["chrom_sizes"]
    bigwig = pyBigWig.open(str(out), "w")
    if bigwig is None:
        raise ValueError(f"{out}: cannot open for writing.")
    try:
        bigwig.addHeader([(c, int(sizes[c])) for c in sorted(sizes)])
        for name in sorted(sizes):
            order = np.flatnonzero(chrom == name)
            order = order[np.argsort(start[order], kind="stable")]
            track = _Track(bigwig, name)
            for a in range(0, len(order), batch):
                part = order[a:a + batch]
                ascending = np.sort(part)
                rows = contribs.oindex[axis, ascending].sum(axis=-1)
                where = {int(k): r for r, k in enumerate(ascending)}
                for k in part:
                    track.add(int(start[k]), rows[where[int(k)]].astype(np.float64))
            track.flush()
    finally:
        bigwig.close()
    return str(out)


def export_modisco(store_path: str | os.PathLike, out_dir: str | os.PathLike,
                   group: str | None = None) -> list:
    """Writes modisco-lite inputs ``{prefix}{label}_ohe.npz`` /
    ``..._shap.npz`` per label (``task0``, ``profile``...; prefix
    ``ref_``/``alt_`` for variants, both groups when ``group`` is None)."""
    from deeplift.genomics_io import save_modisco_inputs

    root = open_store(store_path)
    settings = dict(root.attrs["deeplift"])
    _check_done(root, store_path)
    if settings["kind"] == "variants":
        groups = [group] if group else ["ref", "alt"]
    else:
        groups = [None]
    paths = []
    for name in groups:
        arrays = _group(root, name)
        one_hot = arrays["one_hot"][:].astype(np.float32)
        for axis, label in enumerate(settings["labels"]):
            prefix = f"{name}_" if name else ""
            paths.extend(save_modisco_inputs(one_hot, arrays["hypothetical_contribs"][axis],
                                             out_dir, prefix=f"{prefix}{label}_"))
    return paths


def export_hdf5(store_path: str | os.PathLike, out: str | os.PathLike) -> str:
    """Copies every array of the store to an HDF5 file (same names and
    groups; strings as UTF-8; settings as JSON in ``attrs["deeplift"]``),
    one shard at a time."""
    import h5py

    root = open_store(store_path)
    settings = dict(root.attrs["deeplift"])
    _check_done(root, store_path)
    step = int(settings["shard_size"])
    with h5py.File(out, "w") as h5:
        h5.attrs["deeplift"] = json.dumps(settings)
        for path, array in root.members(max_depth=None):
            if not hasattr(array, "shape") or not hasattr(array, "dtype"):
                continue
            is_str = array.dtype.kind in "OUT" or "str" in str(array.dtype).lower()
            dtype = h5py.string_dtype() if is_str else array.dtype
            target = h5.create_dataset(path, shape=array.shape, dtype=dtype)
            n_axis = 1 if array.ndim >= 2 and path.rsplit("/", 1)[-1] in (
                "contribs", "hypothetical_contribs", "convergence_delta", "prediction",
                "alt_minus_ref") else 0
            n = array.shape[n_axis] if array.ndim else 0
            for a in range(0, max(n, 1), step):
                index = (slice(None),) * n_axis + (slice(a, a + step),)
                values = array[index]
                target[index] = values.astype(object) if is_str else values
    return str(out)
