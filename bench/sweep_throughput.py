"""Sweep throughput: replications per second serial, on a pool of 2 processes, and on
a dask LocalCluster of 2 workers (same table from each, checked here too).

This machine's speed drifts by tens of percent over tens of seconds, and other processes
take cores from it (each sweep reports how many, on average: bench/common.py OtherLoad),
so the three are timed in turn, ``--reps`` replications each, for ``--rounds`` rounds: each mode reports
its median throughput, and its speed-up is the median over the rounds of serial time /
its time in the same round.

    python bench/sweep_throughput.py [--scenario scenarios/household.yaml] [--reps 24] [--rounds 5]
    python bench/sweep_throughput.py --users 1000 --horizon 3y --reps 4 --rounds 2 --modes serial,dask

With --users N the scenario is a population of N people (scenarios/company.yaml with N
employees, else bench/large.yaml: bench/common.py's population); --modes picks the modes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

import sim
from sim.sweeps import local_cluster

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import OtherLoad, population  # noqa: E402

MODES = ("serial", "workers", "dask")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "household.yaml"))
    ap.add_argument("--reps", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--users", type=int, help="a population of this many users instead of --scenario")
    ap.add_argument("--horizon", default="3y", help="with --users")
    ap.add_argument("--modes", default=",".join(MODES), help="of serial, workers, dask (serial is always run)")
    args = ap.parse_args()
    scenario = population(args.users, args.horizon)[0] if args.users else args.scenario
    chosen = {"serial", *args.modes.split(",")}
    if args.users is None:
        sim.sweep(scenario, reps=1)  # warm-up: imports and caches, not counted
    times: dict[str, list[float]] = {}
    others: dict[str, list[float]] = {}
    tables: dict[str, pd.DataFrame] = {}
    # the cluster of --scheduler local, started outside the timing: its start-up is a one-off cost
    with local_cluster() as cluster:
        modes = {"serial": {}, "--workers 2": {"workers": 2},
                 "dask LocalCluster, 2 workers": {"scheduler": cluster.scheduler_address}}
        modes = {label: kw for (label, kw), name in zip(modes.items(), MODES, strict=True) if name in chosen}
        for _ in range(args.rounds):
            for label, kwargs in modes.items():
                with OtherLoad() as load:
                    tables[label] = sim.sweep(scenario, reps=args.reps, **kwargs)  # type: ignore[arg-type]
                times.setdefault(label, []).append(load.wall)
                others.setdefault(label, []).append(load.cores)
                print(f"  {label}: {load.wall:.1f} s, other processes {load.cores:.2f} cores", file=sys.stderr,
                      flush=True)
    for label, walls in times.items():
        speedup = statistics.median(s / w for s, w in zip(times["serial"], walls, strict=True))
        same = tables[label].equals(tables["serial"])
        print(f"{label:<30} {args.reps / statistics.median(walls):7.2f} reps/s  {speedup:5.2f}x serial"
              f"  same table: {same}  (rounds: {' '.join(f'{args.reps / w:.1f}' for w in walls)}; other "
              f"processes: {' '.join(f'{c:.2f}' for c in others[label])} cores)")

if __name__ == "__main__":
    main()
