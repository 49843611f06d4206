"""The Dask scheduler gives the local scheduler's results, also when a
worker dies mid-run."""
import os
import signal
import threading
import time

import numpy as np
import pytest

from scale_helpers import CHROM_LENGTHS, WIDTH

pytest.importorskip("distributed")


def _run(root, out, bed=None, **options):
    from deeplift.scale import score_regions

    options = dict(dict(reference="shuffle:2", seed=4, progress=False), **options)
    return score_regions(root / "model.h5", bed or root / "regions.bed", root / "genome.fa",
                         WIDTH, out, [0, 2], **options)


def _assert_same(a_path, b_path):
    import zarr

    a, b = (zarr.open_group(str(p), mode="r") for p in (a_path, b_path))
    assert a["done"][:].all() and b["done"][:].all()
    for name in ("contribs", "hypothetical_contribs", "one_hot", "convergence_delta"):
        np.testing.assert_allclose(a[name][:], b[name][:], atol=1e-6, err_msg=name)


def test_dask_equals_local_and_workers_convert_the_model_once(genome_dir, tmp_path,
                                                              dask_client):
    root, _ = genome_dir
    _run(root, tmp_path / "local.zarr", shard_size=5)
    result = _run(root, tmp_path / "dask.zarr", shard_size=3, client=dask_client)
    _assert_same(tmp_path / "local.zarr", tmp_path / "dask.zarr")
    assert sorted(r["shard"] for r in result.reports) == list(range(8))
    loads = {}
    for report in result.reports:
        loads.setdefault(report["pid"], set()).add(report["model_loads"])
    # every worker converted the model once and kept it for all its shards
    assert all(len(v) == 1 for v in loads.values())


def test_cli_on_a_running_scheduler(genome_dir, tmp_path, dask_client):
    from deeplift.cli import main

    root, _ = genome_dir
    common = ["score", str(root / "model.h5"), "--regions", str(root / "regions.bed"),
              "--genome", str(root / "genome.fa"), "--width", str(WIDTH), "--task", "1",
              "--reference", "zeros", "--shard-size", "10"]
    address = dask_client.scheduler.address
    assert main(common + ["--scheduler", address, "--out", str(tmp_path / "d.zarr")]) == 0
    assert main(common + ["--out", str(tmp_path / "l.zarr")]) == 0
    _assert_same(tmp_path / "l.zarr", tmp_path / "d.zarr")


def test_a_worker_killed_mid_run_does_not_change_the_result(genome_dir, tmp_path,
                                                            dask_client):
    import zarr

    root, _ = genome_dir
    rng = np.random.default_rng(3)
    starts = rng.integers(WIDTH, CHROM_LENGTHS["chr1"] - WIDTH, size=160)
    bed = tmp_path / "many.bed"
    bed.write_text("".join(f"chr1\t{s}\t{s + 4}\n" for s in starts))
    out = tmp_path / "killed.zarr"
    dask_client.wait_for_workers(2)
    pids = dask_client.run(os.getpid)
    errors = []

    def run():
        try:
            _run(root, out, bed, shard_size=4, reference="shuffle:3", client=dask_client)
        except BaseException as err:  # reported below
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    done = np.zeros(1, bool)
    while time.monotonic() < deadline:
        if out.exists() and (out / "zarr.json").exists():
            try:
                done = zarr.open_group(str(out), mode="r")["done"][:]
            except Exception:  # the store is being created
                done = np.zeros(1, bool)
            if done.sum() >= 3:
                break
        time.sleep(0.01)
    killed_at = int(done.sum())
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive() and not errors, errors
    assert 3 <= killed_at < 40, "the run finished before the worker could be killed"
    _run(root, tmp_path / "local.zarr", bed, shard_size=7, reference="shuffle:3")
    _assert_same(out, tmp_path / "local.zarr")
