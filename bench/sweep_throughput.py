"""Sweep throughput: replications per second serial, on a pool of 2 processes, and on
a dask LocalCluster of 2 workers (same table from each, checked here too).

This machine's speed drifts by tens of percent over tens of seconds, so the three are
timed in turn, ``--reps`` replications each, for ``--rounds`` rounds: each mode reports
its median throughput, and its speed-up is the median over the rounds of serial time /
its time in the same round.

    python bench/sweep_throughput.py [--scenario scenarios/household.yaml] [--reps 24] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

import sim
from sim.sweeps import local_cluster

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "household.yaml"))
    ap.add_argument("--reps", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sim.sweep(args.scenario, reps=1)  # warm-up: imports and caches, not counted
    times: dict[str, list[float]] = {}
    tables: dict[str, pd.DataFrame] = {}
    # the cluster of --scheduler local, started outside the timing: its start-up is a one-off cost
    with local_cluster() as cluster:
        modes = {"serial": {}, "--workers 2": {"workers": 2},
                 "dask LocalCluster, 2 workers": {"scheduler": cluster.scheduler_address}}
        for _ in range(args.rounds):
            for label, kwargs in modes.items():
                t = time.perf_counter()
                tables[label] = sim.sweep(args.scenario, reps=args.reps, **kwargs)  # type: ignore[arg-type]
                times.setdefault(label, []).append(time.perf_counter() - t)
    for label, walls in times.items():
        speedup = statistics.median(s / w for s, w in zip(times["serial"], walls, strict=True))
        same = tables[label].equals(tables["serial"])
        print(f"{label:<30} {args.reps / statistics.median(walls):7.2f} reps/s  {speedup:5.2f}x serial"
              f"  same table: {same}  (rounds: {' '.join(f'{args.reps / w:.1f}' for w in walls)})")

if __name__ == "__main__":
    main()
