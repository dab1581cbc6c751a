"""Running many tasks on Dask distributed: a local cluster by default, or an existing scheduler.

Objects every task needs (the road network, a prepared siting problem) are sent to each worker
once (``Client.scatter(..., broadcast=True)``) and handed to the tasks as futures, so no task
reads or rebuilds them. A task that raises becomes a result row with its error: one failed
scenario never stops the others.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["cluster_client", "run_tasks", "TaskFailed"]


class TaskFailed(dict):
    """Result of a task that raised: ``{"status": "failed", "error": "<Type>: <message>"}``."""


def _guarded(fn: Callable, item: Any, **shared):
    try:
        return fn(item, **shared)
    except Exception as exc:  # reported per task; the sweep goes on
        msg = " ".join(str(exc).split())[:300]
        return TaskFailed(status="failed", error=f"{type(exc).__name__}: {msg}")


@contextmanager
def cluster_client(scheduler: str | None = None, n_workers: int | None = None,
                   memory_limit: str | float | None = "auto") -> Iterator[Any]:
    """A ``distributed.Client``: on ``scheduler`` (e.g. ``tcp://HOST:8786``), or on a new local
    cluster with one single-threaded worker process per core (``n_workers``), each held to
    ``memory_limit`` (Dask's ``"auto"``: the machine's memory divided among the workers; a
    worker above it is restarted by its nanny and its task reported failed).
    """
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = int(n_workers or os.cpu_count() or 1)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        yield client


def run_tasks(client, fn: Callable, items: list, shared: dict | None = None,
              on_result: Callable[[int, Any], None] | None = None) -> list:
    """``fn(item, **shared)`` for every item on the cluster, results in item order.

    ``shared`` objects are broadcast to the workers once. ``on_result(index, result)`` is
    called on the client as each task finishes (to write results as they come, so an
    interrupted run keeps what was done). A task that raised, or whose worker died, gives a
    :class:`TaskFailed` result.
    """
    from distributed import as_completed

    if not items:
        return []
    shared_f = {k: client.scatter(v, broadcast=True, hash=False) for k, v in (shared or {}).items()}
    futures = [client.submit(_guarded, fn, item, pure=False, **shared_f) for item in items]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list = [None] * len(items)
    for fut in as_completed(futures):
        i = index[fut.key]
        try:
            res = fut.result()
        except Exception as exc:  # worker lost (memory limit, crash)
            msg = " ".join(str(exc).split())[:300]
            res = TaskFailed(status="failed", error=f"{type(exc).__name__}: {msg}")
        results[i] = res
        if on_result is not None:
            on_result(i, res)
    return results
