"""Where a sweep's batches run: in-process, a process pool, or dask.distributed.

A batch (:class:`Task`) is some replications of one grid point. Whatever runs it receives
plain data only and gives back plain rows; :func:`outcomes` yields finished batches as
they complete. ``--scheduler local`` starts a 2-worker dask LocalCluster tuned for sweeps
(:data:`QUIET_CLUSTER`), and the workers of a process pool end with the sweep's process.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import SweepError


def default_batch_size(total: int, workers: int) -> int:
    """Replications per task: about 16 tasks per worker, at most 20 reps each. A worker
    that finishes early takes the next task, so with many small tasks the workers end
    together (with four per worker, one core sat idle for 15–20% of a short sweep)."""
    return max(1, min(20, math.ceil(total / (16 * workers))))


@dataclass(frozen=True)
class Task:
    """Replications ``reps`` of grid point ``point``: what one worker runs at a time."""

    point: int
    reps: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"p{self.point:05d}-r{self.reps[0]:07d}-{self.reps[-1]:07d}"


def check_scheduler(scheduler: str) -> None:
    if scheduler != "local" and not scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise SweepError(f"--scheduler {scheduler!r}: expected 'local' or tcp://HOST:PORT")


# What a sweep's cluster does not need on 2 cores, where every periodic callback takes time
# from the workers: the statistical profiler (it samples every thread's stack each 10 ms;
# sweeps ran 2–12% faster without it), work stealing (the tasks are alike, and queued at
# the scheduler), memory checks ten times a second and system checks twice (once a second
# is enough to enforce the memory limits).
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "1s",
}


def local_cluster() -> Any:
    """The dask LocalCluster of ``--scheduler local``: 2 single-threaded worker processes,
    without the dashboard, configured by :data:`QUIET_CLUSTER`."""
    import dask
    from distributed import LocalCluster
    from distributed.gc import disable_gc_diagnosis

    # Its processes start with Ctrl-C ignored (Python then leaves it so): a Ctrl-C at the
    # terminal reaches only the sweep, which stops them, not every worker with a traceback.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        # Without a dashboard the scheduler still serves HTTP (health, metrics) on 8787, or on
        # another port with a warning when another cluster has that one: not worth a line.
        with dask.config.set(QUIET_CLUSTER), warnings.catch_warnings():  # config passed on to the workers
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        # The scheduler's garbage-collection diagnosis hooks the collector of this process: a
        # Ctrl-C landing in that hook would be printed and lost, and the sweep go on.
        disable_gc_diagnosis(force=True)
        return cluster
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _quiet_cancelled_tasks() -> None:
    """Run on each worker of ``--scheduler local``: a Ctrl-C cancels the tasks running there,
    which the worker would report, each with a warning after the sweep's own line."""
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


@contextmanager
def executor_for(workers: int | None, scheduler: str | None,
                 executor: cf.Executor | None) -> Iterator[tuple[cf.Executor | None, int, str]]:
    """(executor or None for in-process, number of workers, description)."""
    if executor is not None:
        yield executor, max(1, getattr(executor, "_max_workers", 1) or 1), type(executor).__name__
        return
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise SweepError("--scheduler needs dask.distributed: pip install 'dmesim[dask]'") from None
        cluster = None
        try:
            if scheduler == "local":
                cluster = local_cluster()
                client = Client(cluster)
                client.run(_quiet_cancelled_tasks)
            else:  # an address (checked by check_scheduler)
                client = Client(scheduler, timeout="20s")
        except OSError as exc:
            if cluster is not None:
                cluster.close()
            raise SweepError(f"cannot reach the dask scheduler {scheduler}: {exc}") from None
        try:
            n = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
            yield client.get_executor(pure=False), n, f"dask {scheduler}"
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if workers is not None and workers >= 1:
        # the platform's default start method: fork on Linux (fast, works from any script or
        # notebook), spawn elsewhere (scripts need the usual `if __name__ == "__main__":` guard)
        pool = cf.ProcessPoolExecutor(workers, initializer=_exit_with_parent)
        try:
            yield pool, workers, f"processes ({workers})"
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    yield None, 1, "serial"


def _exit_with_parent() -> None:
    """A pool worker's initializer: the worker ends once the sweep's process is gone (killed,
    it cannot stop its pool, and the workers would wait for work forever)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def outcomes(executor: cf.Executor | None, tasks: list[Task],
             call: Callable[[Task], tuple[Any, ...]]) -> Iterator[tuple[Task, dict[str, Any]]]:
    """Finished batches as they complete (in task order when serial); ``call(task)`` gives
    the function to run and its arguments."""
    if executor is None:
        for task in tasks:
            fn, *args = call(task)
            yield task, fn(*args)
        return
    futures = {executor.submit(*call(task)): task for task in tasks}
    try:
        for fut in cf.as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        for fut in futures:
            fut.cancel()
