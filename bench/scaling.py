"""Scaling: a population of 100 to 5000 people with the same behaviour each (bench/common.py:
population: scenarios/company.yaml's employees, or bench/large.yaml's person where there is
no company.yaml), one replication as a sweep runs it (decrypt: generations, unless
--decrypt messages).

Each size runs in a fresh process (after a warm-up on 8 people): its time per replication
and its ratio to the key-distribution floor are measured as in bench/sweep_floor.py (unit
costs sampled through the runs; --parts parts of 1000 / size replications, at least one),
then one run under tracemalloc gives the peak of memory the run allocates (Python objects
and the buffers they own). This machine's speed drifts by tens of percent between sizes measured minutes
apart, so besides the raw time per user the script compares the floor ratios: the run's
time in units of the cryptography it needs, measured on the same machine at the same moment.

    python bench/scaling.py [--sizes 100,1000,5000] [--horizon 3y] [--parts 3] [--decrypt generations]
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


def one(users: int, horizon: str, parts: int, decrypt: str, reps: int | None = None) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from common import measure_sweep, population

    from sim.sweeps import run_batch

    small, file = population(8, horizon)  # company.yaml mails 5 colleagues each
    run_batch({**small, "decrypt": decrypt}, file, {}, None, [0])  # warm-up
    data, file = population(users, horizon)
    reps = reps or max(1, 1000 // users)  # replications per part: at least about 1000 people's
    r = measure_sweep(data, file, parts=parts, reps=reps, decrypt=decrypt, warm_up=False)
    # A full collection also empties CPython's free lists (tuples, floats, dicts...): else
    # objects recycled from the earlier runs' free lists escape tracemalloc's count.
    gc.collect()
    tracemalloc.start()
    run_batch({**data, "decrypt": decrypt}, file, {}, None, [0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"users": users, "file": file, "messages": r["messages"], "wall_s": r["wall_s"], "ratio": r["ratio"],
            "key_floor_s": r["key_floor_s"], "ratios": r["ratios"],
            "peak_mib": peak / 2**20, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--horizon", default="3y")
    ap.add_argument("--parts", type=int, default=3)
    ap.add_argument("--decrypt", default="generations", choices=["generations", "messages"])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.horizon, args.parts, args.decrypt)))
        return
    print(f"{'users':>6}{'messages':>10}{'wall s':>9}{'ms/user':>9}{'key ms/user':>12}{'ratio':>7}"
          f"{'peak MiB':>10}{'KiB/user':>10}{'max RSS MiB':>13}  parts", flush=True)
    by: dict[int, dict] = {}  # type: ignore[type-arg]
    for n in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--horizon", args.horizon,
                              "--parts", str(args.parts), "--decrypt", args.decrypt],
                             capture_output=True, text=True, check=True)
        r = by[n] = json.loads(out.stdout)
        if len(by) == 1:
            print(r["file"].split(" (")[0], flush=True)
        print(f"{n:>6}{r['messages']:>10.0f}{r['wall_s']:>9.2f}{1000 * r['wall_s'] / n:>9.2f}"
              f"{1000 * r['key_floor_s'] / n:>12.2f}{r['ratio']:>7.2f}{r['peak_mib']:>10.1f}"
              f"{1024 * r['peak_mib'] / n:>10.0f}{r['rss_mib']:>13.0f}  "
              f"{' '.join(f'{x:.2f}' for x in r['ratios'])}", flush=True)
    if len(by) > 1:
        sizes = sorted(by)
        a, b = by[sizes[0]], by[sizes[-1]]
        na, nb = sizes[0], sizes[-1]
        print(f"per user, {nb} vs {na} users: time {(b['wall_s'] / nb) / (a['wall_s'] / na):.2f}x "
              f"(floor ratio {b['ratio'] / a['ratio']:.2f}x), "
              f"memory {(b['peak_mib'] / nb) / (a['peak_mib'] / na):.2f}x")


if __name__ == "__main__":
    main()
