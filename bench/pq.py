"""Post-quantum on versus off: run-time ratio, and the floor ratio of each.

    python bench/pq.py [--users 100] [--horizon 1y]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import large, measure  # noqa: E402

from sim.results import run as run_scenario  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--horizon", default="1y")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    off, on = large(args.users, args.horizon, False), large(args.users, args.horizon, True)
    r_off, r_on = measure(off), measure(on)
    for label, r in (("post-quantum off", r_off), ("post-quantum on", r_on)):
        print(f"{label:<18} wall {r['wall_s']:7.2f} s  floor {r['floor_s']:7.2f} s  ratio {r['ratio']:.2f}")
    # the run-time ratio from runs in turn, so that each pair sees the same machine
    ratios = []
    for _ in range(args.rounds):
        walls = []
        for s in (off, on):
            t = time.perf_counter()
            run_scenario(s)
            walls.append(time.perf_counter() - t)
        ratios.append(walls[1] / walls[0])
    print(f"run time on/off: {statistics.median(ratios):.2f}x (median of {args.rounds} pairs: "
          + " ".join(f"{r:.2f}" for r in ratios) + ")")


if __name__ == "__main__":
    main()
