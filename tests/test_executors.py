"""sim.sweeps.executors: one table whatever runs the batches; pools and clusters end with the sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sim
from helpers import RISK, SMALL
from sim.sweeps import default_batch_size, local_cluster


def test_same_table_from_serial_processes_and_dask(serial: pd.DataFrame, tmp_path: Path) -> None:
    pool = sim.sweep(RISK, **SMALL, workers=2, out=tmp_path / "pool")
    pd.testing.assert_frame_equal(pool, serial)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pool" / "sweep.parquet"), serial)
    pytest.importorskip("distributed")
    dask = sim.sweep(RISK, **SMALL, scheduler="local", batch_size=3, out=tmp_path / "dask")
    pd.testing.assert_frame_equal(dask, serial)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["executor"] == "dask local" and "distributed" in manifest["versions"]


def test_batch_size_and_threads_do_not_change_the_table(serial: pd.DataFrame) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, batch_size=1), serial)
    with ThreadPoolExecutor(2) as pool:
        pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, executor=pool, batch_size=3), serial)


@pytest.mark.parametrize(("total", "workers", "size"), [(24, 2, 1), (100, 2, 4), (100, 1, 7), (5000, 2, 20), (3, 8, 1)])
def test_default_batches_keep_every_worker_busy_to_the_end(total: int, workers: int, size: int) -> None:
    """About 16 tasks per worker (so a worker finishing early takes the next), at most 20 reps each."""
    assert default_batch_size(total, workers) == size


def test_a_killed_sweep_leaves_no_pool_worker_behind(tmp_path: Path) -> None:
    """SIGKILL gives `dmesim sweep --workers 2` no chance to stop its pool: each worker
    notices that its parent is gone and ends."""
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(RISK), "--reps", "100", "--workers", "2",
                             "--batch-size", "1", "--out", str(out), "--no-charts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list((out / "shards").glob("*.parquet")):
        time.sleep(0.01)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.wait()

    def ended(p: Any) -> bool:  # a zombie has ended (nobody may reap an orphan here)
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    try:
        assert len(workers) >= 2
        deadline = time.monotonic() + 10
        while not all(ended(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(ended(p) for p in workers)
    finally:
        for p in workers:  # without the fix, they would wait for work forever
            with suppress(psutil.NoSuchProcess):
                p.kill()


def test_ctrl_c_on_a_local_cluster_sweep_is_one_message(tmp_path: Path) -> None:
    """Ctrl-C at a terminal reaches the whole process group: the workers of
    --scheduler local ignore it, and the sweep stops them and says how to resume."""
    pytest.importorskip("distributed")
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(RISK), "--reps", "200", "--scheduler",
                             "local", "--out", str(out), "--no-charts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list((out / "shards").glob("*.parquet")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmesim: interrupted; finished batches are saved in"), err


def test_local_cluster_runs_without_what_a_sweep_does_not_need() -> None:
    """--scheduler local: no stack sampling in the workers (it slowed sweeps by up to 12%),
    no work stealing, memory checks once a second (the limits still hold)."""
    distributed = pytest.importorskip("distributed")

    def worker(dask_worker: Any) -> tuple[bool, float, float]:
        return ("profile" in dask_worker.periodic_callbacks, dask_worker.memory_manager.memory_monitor_interval,
                dask_worker.periodic_callbacks["monitor"].callback_time)

    with local_cluster() as cluster, distributed.Client(cluster) as client:
        assert list(client.run(worker).values()) == [(False, 1, 1000), (False, 1, 1000)]
        assert "stealing" not in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.extensions))
