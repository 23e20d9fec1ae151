"""Floor ratio: wall time of a run / (operations it needs × their unit cost + a bare
SimPy loop of the same number of events), for every included scenario and a large one.

    python bench/floor.py [--users 300] [--horizon 3y]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCENARIOS, large, measure, unit_costs  # noqa: E402

from sim.scenario import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--horizon", default="3y")
    args = ap.parse_args()
    scenarios = [load(f) for f in sorted(SCENARIOS.glob("*.yaml"))]
    big = large(args.users, args.horizon)
    units = {}
    print(f"{'scenario':<26}{'messages':>9}{'wall s':>9}{'crypto s':>10}{'simpy s':>9}{'ratio':>7}")
    for s in [*scenarios, big]:
        cost = s.argon2.cost()
        if cost not in units:
            units[cost] = unit_costs(cost)
        r = measure(s, units[cost], repeat=2 if s is big else 5)
        name = f"large ({args.users} users)" if s is big else s.name
        print(f"{name:<26}{r['messages']:>9}{r['wall_s']:>9.3f}{r['crypto_s']:>10.3f}"
              f"{r['simpy_s']:>9.3f}{r['ratio']:>7.2f}")


if __name__ == "__main__":
    main()
