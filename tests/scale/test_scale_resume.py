"""A CLI run killed mid-way (SIGKILL to its process group) and resumed."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from deeplift.cli import main
from scale_helpers import WIDTH

# Runs `deeplift score` (deeplift.cli.main) with store.mark_done patched so that
# the third shard's data is written but the process hangs before marking it done.
_RUNNER = """
import sys, time
from deeplift.cli import main
from deeplift.scale import store
real, calls = store.mark_done, []
def mark_done(root, shard):
    calls.append(shard)
    if len(calls) == 3:
        open(sys.argv[1], "w").write(str(shard))
        time.sleep(600)
    real(root, shard)
store.mark_done = mark_done
sys.exit(main(sys.argv[2:]))
"""


def _chunk_mtimes(store, shards):
    return {k: os.stat(store / "contribs" / "c" / "0" / str(k) / "0" / "0").st_mtime_ns
            for k in shards}


def test_killed_run_resumes_to_the_uninterrupted_result(genome_dir, tmp_path, capsys):
    import deeplift
    import zarr

    root, _ = genome_dir
    args = ["score", str(root / "model.h5"), "--regions", str(root / "regions.bed"),
            "--genome", str(root / "genome.fa"), "--width", str(WIDTH), "--task", "0",
            "--task", "2", "--reference", "shuffle:2", "--seed", "11", "--shard-size", "3"]
    killed = tmp_path / "killed.zarr"
    script, sentinel = tmp_path / "runner.py", tmp_path / "hung"
    script.write_text(_RUNNER)
    env = dict(os.environ, PYTHONPATH=str(Path(deeplift.__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, str(script), str(sentinel), *args,
                             "--out", str(killed)], start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not sentinel.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the scoring subprocess did not get going"
            time.sleep(0.1)
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = zarr.open_group(str(killed), mode="r")["done"][:]
    np.testing.assert_array_equal(done, [True, True] + [False] * 6)
    # shard 2 was written before the kill but never marked done
    assert (killed / "contribs" / "c" / "0" / "2").exists()
    before = _chunk_mtimes(killed, [0, 1])

    assert main(args + ["--out", str(killed), "--resume"]) == 0
    assert "scored 6 of 8 shards" in capsys.readouterr().out
    assert _chunk_mtimes(killed, [0, 1]) == before  # done shards were not recomputed
    whole = tmp_path / "whole.zarr"
    assert main(args + ["--out", str(whole)]) == 0
    a, b = (zarr.open_group(str(p), mode="r") for p in (killed, whole))
    assert a["done"][:].all()
    for name in ("contribs", "hypothetical_contribs", "one_hot", "convergence_delta"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
