"""Floor ratio: wall time of a run / (operations it needs × their unit cost + a bare
SimPy loop of the same number of events), for every included scenario and a large one.
Each ratio is the median of several (unit costs, run) pairs measured back to back.
The "in situ" column divides the wall time by the time the run itself spent inside
its cryptographic calls (timed where they happen) plus the bare SimPy loop: the share
of the run that is not cryptography, free of the microbenchmark's warm caches.

    python bench/floor.py [--users 300] [--horizon 3y] [--pairs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCENARIOS, in_situ, large, measure  # noqa: E402

from sim.scenario import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--horizon", default="3y")
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    scenarios = [load(f) for f in sorted(SCENARIOS.glob("*.yaml"))]
    big = large(args.users, args.horizon)
    print(f"{'scenario':<26}{'messages':>9}{'wall s':>9}{'crypto s':>10}{'simpy s':>9}{'ratio':>7}"
          f"{'in situ':>9}  (ratio of each pair)")
    for s in [*scenarios, big]:
        r = measure(s, args.pairs)
        inside = in_situ(s)
        name = f"large ({args.users} users)" if s is big else s.name
        each = " ".join(f"{x:.2f}" for x in r["ratios"])
        print(f"{name:<26}{r['messages']:>9}{r['wall_s']:>9.3f}{r['crypto_s']:>10.3f}"
              f"{r['simpy_s']:>9.3f}{r['ratio']:>7.2f}{inside['ratio_in_situ']:>9.2f}  ({each})")

if __name__ == "__main__":
    main()
