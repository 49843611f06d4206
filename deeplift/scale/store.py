"""The Zarr store a genome-scale run writes, one shard (= one chunk along
the window axis N) at a time.

Layout (``T`` targets: the ``labels`` of ``deeplift score``, one per task
and ``profile``; ``N`` windows of ``W`` bases; shard size ``S``)::

    STORE.zarr/                 attrs["deeplift"]: model sha256, mode, tasks,
                                labels, reference, seed, width, shard size, ...
      chrom, start, end         (N,) each window's coordinates (0-based)
      done                      (ceil(N / S),) bool, one chunk per shard
      contribs                  (T, N, W, 4) float32  } regions: at the root;
      hypothetical_contribs     (T, N, W, 4) float32  } variants: in groups
      one_hot                   (N, W, 4) uint8       } ref/ and alt/, which
      convergence_delta         (T, N) float32        } also hold prediction
    variants only: variant_id, pos (1-based), ref_allele, alt_allele,
      ref_matches (N,), alt_minus_ref (T, N): the target's alt - ref.

``done[k]`` is set only after shard ``k``'s arrays are written, each shard
writes whole chunks of its own, so shards can be written by independent
processes and a killed run resumes from the missing ones.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

__all__ = ["create_or_open", "missing_shards", "write_shard", "write_arrays", "mark_done",
           "open_store", "GROUP_ARRAYS"]

FORMAT_VERSION = 1
# name -> (has task axis, per-window shape after N given W, dtype)
GROUP_ARRAYS = {
    "contribs": (True, lambda w: (w, 4), "float32"),
    "hypothetical_contribs": (True, lambda w: (w, 4), "float32"),
    "one_hot": (False, lambda w: (w, 4), "uint8"),
    "convergence_delta": (True, lambda w: (), "float32"),
}


def _zarr():
    try:
        import zarr
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("writing a .zarr store needs zarr 3: pip install "
                          "'deeplift[genome]'") from err
    return zarr


def open_store(path: str | os.PathLike, mode: str = "r"):
    """The store's root ``zarr.Group``."""
    if mode == "r" and not (Path(path) / "zarr.json").is_file():
        raise FileNotFoundError(f"{path}: no Zarr store there.")
    return _zarr().open_group(str(path), mode=mode)


def _array(group, name, shape, chunks, dtype, fill_value):
    return group.create_array(name, shape=shape, chunks=chunks, dtype=dtype,
                              fill_value=fill_value)


def _create(path: str, settings: dict, coords: dict, groups: list[str], extra_task_arrays):
    zarr = _zarr()
    num_tasks, n = len(settings["labels"]), int(settings["num_windows"])
    width, shard = int(settings["width"]), int(settings["shard_size"])
    root = zarr.open_group(path, mode="w")
    for name, values in coords.items():
        values = np.asarray(values)
        dtype = str if values.dtype.kind in "OUS" else values.dtype
        _array(root, name, values.shape, (max(1, min(n, 65536)),), dtype,
               "" if dtype is str else 0)[:] = values
    _array(root, "done", ((n + shard - 1) // shard,), (1,), bool, False)
    for name in extra_task_arrays:
        _array(root, name, (num_tasks, n), (num_tasks, shard), "float32", np.nan)
    for group_name in groups:
        group = root.require_group(group_name) if group_name else root
        for name, (has_task, tail, dtype) in GROUP_ARRAYS.items():
            shape = ((num_tasks,) if has_task else ()) + (n,) + tail(width)
            chunks = ((num_tasks,) if has_task else ()) + (shard,) + tail(width)
            _array(group, name, shape, chunks, dtype, 0)
        if extra_task_arrays:
            _array(group, "prediction", (num_tasks, n), (num_tasks, shard), "float32", np.nan)
    # Settings last: a store without them is an unfinished creation.
    root.attrs["deeplift"] = dict(settings, format=FORMAT_VERSION)
    return root


def create_or_open(path: str | os.PathLike, settings: dict, coords: dict, groups: list[str],
                   extra_task_arrays=(), resume: bool = False, overwrite: bool = False):
    """Creates the store, or reopens it for ``resume``.

    Args:
        path: the ``.zarr`` directory.
        settings: JSON-able run settings (stored in ``attrs["deeplift"]``);
            ``labels``, ``num_windows``, ``width`` and ``shard_size`` are
            required. A resumed run must have the same settings.
        coords: per-window arrays ``(N,)`` (chrom, start, end, ...); a
            resumed run must have the same values.
        groups: ``[""]`` for arrays at the root or e.g. ``["ref", "alt"]``.
        extra_task_arrays: further root arrays ``(T, N)`` (e.g.
            ``alt_minus_ref``); groups then also hold ``prediction``.
        resume: reopen an existing store (created if missing).
        overwrite: delete an existing store first.

    Raises:
        FileExistsError: the store exists and neither flag is given, or the
            path is something other than a Zarr store.
        ValueError: resuming a store made with other settings or windows.
    """
    path = str(path)
    exists = os.path.exists(path)
    if exists and resume and overwrite:
        raise ValueError("pass either resume or overwrite, not both.")
    if exists and not (resume or overwrite):
        raise FileExistsError(f"{path} already exists; pass --resume (resume=True) to finish "
                              f"it or --overwrite (overwrite=True) to replace it.")
    if exists and not (Path(path) / "zarr.json").is_file():
        raise FileExistsError(f"{path} exists but is not a Zarr store; refusing to "
                              f"{'resume' if resume else 'overwrite'} it.")
    if exists and overwrite:
        shutil.rmtree(path)
    if not exists or overwrite:
        return _create(path, settings, coords, groups, extra_task_arrays)
    root = open_store(path, mode="r+")
    stored = dict(root.attrs.get("deeplift", {}))
    if not stored:
        raise ValueError(f"{path}: not a finished deeplift store (no settings); use "
                         f"--overwrite to start again.")
    for key, value in settings.items():
        if stored.get(key) != value:
            raise ValueError(f"{path}: cannot resume: {key} was {stored.get(key)!r} when the "
                             f"store was made, now {value!r}; use --overwrite to start again.")
    for name, values in coords.items():
        if not np.array_equal(root[name][:], np.asarray(values)):
            raise ValueError(f"{path}: cannot resume: the windows' {name!r} differ from the "
                             f"store's; use --overwrite to start again.")
    return root


def missing_shards(root) -> list[int]:
    """Indices of the shards not yet marked done."""
    return [int(k) for k in np.flatnonzero(~root["done"][:])]


def write_shard(root, shard: int, start: int, arrays: dict[str, np.ndarray]) -> None:
    """Writes one shard's arrays (``"group/name"`` -> values with N on
    axis 1 for task arrays, axis 0 otherwise), then marks it done."""
    write_arrays(root, start, arrays)
    mark_done(root, shard)


def mark_done(root, shard: int) -> None:
    """Records shard ``shard`` as written (its own chunk of ``done``)."""
    root["done"][shard] = True


def write_arrays(root, start: int, arrays: dict[str, np.ndarray]) -> None:
    """Writes arrays of the windows from ``start`` on (see write_shard)."""
    for key, values in arrays.items():
        array = root[key]
        stop = start + values.shape[1 if _has_task_axis(key, array) else 0]
        if _has_task_axis(key, array):
            array[:, start:stop] = values
        else:
            array[start:stop] = values


def _has_task_axis(key: str, array) -> bool:
    name = key.rsplit("/", 1)[-1]
    if name in GROUP_ARRAYS:
        return GROUP_ARRAYS[name][0]
    return name in ("prediction", "alt_minus_ref")
