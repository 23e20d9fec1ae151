"""Sweep floor ratio: a sweep's time per replication / its key-distribution floor.

The key-distribution floor of a replication is every operation it counted except the
per-message content seals and opens (content_seal, content_open and their _pq variants;
with decrypt: generations, the default of sweeps, its probes are such operations), at unit
costs sampled in the same run, plus a bare SimPy loop of as many events. What is timed is
what a sweep's worker runs: batches of replications of one grid point
(sim.sweeps.run_batch), each run plain, timed, then again with hooks that sample the unit
costs (bench/common.py: measure_sweep). "full" divides by the floor with the content
operations too; "content s" is their share of it.

    python bench/sweep_floor.py [--scenario scenarios/household.yaml] [--parts 3] [--reps 20]
                                [--decrypt generations|messages] [--repeat N]
    python bench/sweep_floor.py --users 1000 --horizon 3y --reps 1     # a population

With --users N, the population is scenarios/company.yaml with N employees (its pattern of
users counted N times), or bench/large.yaml with N users where there is no company.yaml
(bench/common.py: population).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCENARIOS, measure_sweep, population  # noqa: E402

from sim.sweeps import scenario_data  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=str(SCENARIOS / "household.yaml"))
    ap.add_argument("--users", type=int, help="a population of this many users instead of --scenario")
    ap.add_argument("--horizon", default="3y", help="with --users")
    ap.add_argument("--parts", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20, help="replications per part")
    ap.add_argument("--decrypt", default="generations", choices=["generations", "messages"])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    data, file = population(args.users, args.horizon) if args.users else scenario_data(args.scenario)
    print(f"{file}, decrypt: {args.decrypt}, {args.parts} parts of {args.reps} replications")
    print(f"{'messages':>9}{'wall ms':>9}{'key ms':>8}{'simpy ms':>9}{'content ms':>11}"
          f"{'in situ ms':>11}{'ratio':>7}{'full':>6}  parts", flush=True)
    ratios = []
    for _ in range(args.repeat):
        r = measure_sweep(data, file, args.parts, args.reps, decrypt=args.decrypt)
        ratios.append(r["ratio"])
        ms = {k: 1000 * r[k] for k in ("wall_s", "key_floor_s", "simpy_s", "content_s", "in_situ_s")}
        print(f"{r['messages']:>9.0f}{ms['wall_s']:>9.1f}{ms['key_floor_s'] - ms['simpy_s']:>8.1f}"
              f"{ms['simpy_s']:>9.1f}{ms['content_s']:>11.1f}{ms['in_situ_s']:>11.1f}{r['ratio']:>7.2f}"
              f"{r['ratio_full']:>6.2f}  {' '.join(f'{x:.2f}' for x in r['ratios'])}", flush=True)
    if args.repeat > 1:
        print(f"ratio to the key-distribution floor: median {statistics.median(ratios):.2f}, "
              f"range {min(ratios):.2f}–{max(ratios):.2f} over {args.repeat}")


if __name__ == "__main__":
    main()
