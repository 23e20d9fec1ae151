"""Sweep throughput: replications per second serial, on a pool of 2 processes, and on
a dask LocalCluster of 2 workers (same table from each, checked here too).

    python bench/sweep_throughput.py [--scenario scenarios/household.yaml] [--reps 40]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import sim

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "household.yaml"))
    ap.add_argument("--reps", type=int, default=40)
    args = ap.parse_args()
    from dask.distributed import LocalCluster

    sim.sweep(args.scenario, reps=1)  # warm-up: imports and caches, not counted
    runs: dict[str, tuple[float, pd.DataFrame]] = {}
    # the cluster is started outside the timing: its start-up is a one-off cost
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        for label, kwargs in (("serial", {}), ("--workers 2", {"workers": 2}),
                              ("dask LocalCluster, 2 workers", {"scheduler": cluster.scheduler_address})):
            t = time.perf_counter()
            df = sim.sweep(args.scenario, reps=args.reps, **kwargs)  # type: ignore[arg-type]
            runs[label] = (time.perf_counter() - t, df)
    serial = runs["serial"][0]
    for label, (wall, df) in runs.items():
        same = df.equals(runs["serial"][1])
        print(f"{label:<30} {args.reps / wall:7.2f} reps/s  {serial / wall:5.2f}x serial"
              f"  same table: {same}")


if __name__ == "__main__":
    main()
