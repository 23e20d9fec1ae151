"""Scaling: 1, 10, 100 and 1000 users with the same per-user behaviour (bench/large.yaml).

Each size runs in a fresh process: its floor ratio is measured as in bench/floor.py
(unit costs sampled through the runs), then one run under tracemalloc gives the peak of
memory the run allocates (Python objects and the buffers they own). This machine's
speed drifts by tens of percent between sizes measured minutes apart, so besides the raw
time per user the script compares the floor ratios: the run's time in units of the
cryptography it needs, measured on the same machine at the same moment.

    python bench/scaling.py [--sizes 1,10,100,1000] [--horizon 1y]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one(users: int, horizon: str) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from common import large, measure

    from sim.results import run as run_scenario

    scenario = large(users, horizon)
    r = measure(scenario, min_seconds=3.0)
    # A full collection also empties CPython's free lists (tuples, floats, dicts...): else
    # objects recycled from the earlier runs' free lists escape tracemalloc's count.
    gc.collect()
    tracemalloc.start()
    run_scenario(scenario)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"users": users, "messages": r["messages"], "wall_s": r["wall_s"], "ratio": r["ratio"],
            "peak_mib": peak / 2**20, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1,10,100,1000")
    ap.add_argument("--horizon", default="1y")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.horizon)))
        return
    print(f"{'users':>6}{'messages':>10}{'wall s':>9}{'ms/user':>9}{'ratio':>7}{'peak MiB':>10}"
          f"{'KiB/user':>10}{'max RSS MiB':>13}", flush=True)
    by = {}
    for n in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--horizon", args.horizon],
                             capture_output=True, text=True, check=True)
        r = by[n] = json.loads(out.stdout)
        print(f"{n:>6}{r['messages']:>10}{r['wall_s']:>9.2f}{1000 * r['wall_s'] / n:>9.1f}{r['ratio']:>7.2f}"
              f"{r['peak_mib']:>10.1f}{1024 * r['peak_mib'] / n:>10.0f}{r['rss_mib']:>13.0f}", flush=True)
    if 10 in by and 1000 in by:
        a, b = by[10], by[1000]
        print(f"per user, 1000 vs 10 users: time {(b['wall_s'] / 1000) / (a['wall_s'] / 10):.2f}x "
              f"(floor ratio {b['ratio'] / a['ratio']:.2f}x), "
              f"memory {(b['peak_mib'] / 1000) / (a['peak_mib'] / 10):.2f}x")


if __name__ == "__main__":
    main()
