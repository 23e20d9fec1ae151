"""Scaling: 1, 10, 100 and 1000 users with the same per-user behaviour (bench/large.yaml).
Each size runs in a fresh process: once timed, once under tracemalloc for the peak
of memory the run allocates (Python objects and the buffers they own).

    python bench/scaling.py [--sizes 1,10,100,1000] [--horizon 1y]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one(users: int, horizon: str) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from common import large

    from sim.simulation import Simulation

    scenario = large(users, horizon)
    t = time.perf_counter()
    result = Simulation(scenario).run()
    wall = time.perf_counter() - t
    tracemalloc.start()
    Simulation(scenario).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"users": users, "messages": result.summary["messages"], "wall_s": wall,
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
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--horizon", args.horizon],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout))
    print(f"{'users':>6}{'messages':>10}{'wall s':>9}{'ms/user':>9}{'peak MiB':>10}"
          f"{'KiB/user':>10}{'max RSS MiB':>13}")
    for r in rows:
        print(f"{r['users']:>6}{r['messages']:>10}{r['wall_s']:>9.2f}{1000 * r['wall_s'] / r['users']:>9.1f}"
              f"{r['peak_mib']:>10.1f}{1024 * r['peak_mib'] / r['users']:>10.0f}{r['rss_mib']:>13.0f}")
    by = {r["users"]: r for r in rows}
    if 10 in by and 1000 in by:
        t = (by[1000]["wall_s"] / 1000) / (by[10]["wall_s"] / 10)
        m = (by[1000]["peak_mib"] / 1000) / (by[10]["peak_mib"] / 10)
        print(f"per user, 1000 vs 10 users: time {t:.2f}x, memory {m:.2f}x")


if __name__ == "__main__":
    main()
