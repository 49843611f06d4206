"""Running shards: in this process, or on a Dask cluster.

``local`` needs no Dask: shards run one after the other, so memory holds
one shard (plus one batch of references) at a time. With a Dask client
each shard is one task; workers write their shard to the store themselves
(the store must be on a file system every worker sees) and keep their
converted model between tasks. A task lost with a dying worker is rerun
by Dask elsewhere; a shard is rewritten whole, so the result is the same.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from deeplift.scale.shards import ShardJob, score_shard

__all__ = ["run_local", "run_dask", "open_scheduler"]


def run_local(jobs: Iterable[ShardJob], total_windows: int, progress: bool) -> list[dict]:
    """Scores the shards one at a time, with a progress bar over windows."""
    from deeplift.util import ProgressReporter

    bar = ProgressReporter(total_windows, 1 if progress else None, "windows")
    reports = []
    try:
        for job in jobs:
            reports.append(score_shard(job))
            bar.update(len(job.windows))
    finally:
        bar.close()
    return reports


def run_dask(jobs: Iterable[ShardJob], client, progress: bool) -> list[dict]:
    """Submits one task per shard to ``client`` and waits for all of them
    (showing ``distributed.progress`` when ``progress``)."""
    import uuid

    from distributed import progress as dask_progress

    run_id = uuid.uuid4().hex[:8]
    futures = [client.submit(score_shard, job, key=f"deeplift-shard-{job.shard}-{run_id}",
                             pure=False, retries=1) for job in jobs]
    if not futures:
        return []
    if progress:
        dask_progress(futures)
    return client.gather(futures)


def open_scheduler(text: str):
    """``(client, close)`` for a ``--scheduler`` value: ``local`` gives
    ``(None, no-op)``; ``dask-local:N`` starts a LocalCluster of N worker
    processes (one thread each); ``tcp://HOST:PORT`` connects to a running
    scheduler.

    Raises:
        ValueError: any other value.
    """
    if text == "local":
        return None, lambda: None
    if text.startswith("dask-local:"):
        count = text[len("dask-local:"):]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--scheduler dask-local:N needs a positive worker count; "
                             f"got {text!r}.")
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.WARNING)
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()

        return client, close
    if text.startswith(("tcp://", "tls://", "ucx://")):
        from distributed import Client

        client = Client(text)
        return client, client.close
    raise ValueError(f"--scheduler must be 'local', 'dask-local:N' or a scheduler address "
                     f"such as tcp://host:8786; got {text!r}.")
