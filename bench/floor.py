"""Floor ratio: wall time of a run / (operations it needs × their unit cost + a bare
SimPy loop of the same number of events), for every included scenario and a large one.

The wall time is a plain run's. Each is followed by a run with hooks that sample the unit
costs (after every 100th cryptographic call, a warm batch of one operation kind, the kinds
in turn; excluded from its time), so they see the same machine as the runs. Each scenario
is measured in three consecutive parts of at least one such pair (short scenarios repeat
until 2 s of plain run time in all), each part with its own unit costs; "parts" shows each
part's ratio. "in situ s" is the time a hooked run spent inside its cryptographic calls, and
"in situ" divides the hooked runs' time by it plus the bare SimPy loop: wall − in situ s is
the run's time outside the cryptography, in situ s − crypto s what the cryptography cost
the run above the floor's warm price.

Scenarios whose first line is ``# size: large`` (populations) are measured only when named
with ``--only``. With ``--repeat N`` the whole table is measured N times in turn, and a last
table gives each scenario's median ratio over the N and their range: single measurements of
a small story move by a few hundredths with the machine's state.

    python bench/floor.py [--users 300] [--horizon 3y] [--only large household ...] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCENARIOS, large, measure  # noqa: E402

LARGE = "# size: large"  # the first line of a population scenario (scenarios/company.yaml)

from sim.scenario import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--horizon", default="3y")
    ap.add_argument("--only", nargs="*", help="scenario names (the large one is 'large')")
    ap.add_argument("--repeat", type=int, default=1, help="measure the whole table this many times")
    args = ap.parse_args()
    files = [f for f in sorted(SCENARIOS.glob("*.yaml"))  # populations (`# size: large`) only by name
             if (args.only and f.stem in args.only) or not f.read_text().startswith(LARGE)]
    scenarios = [load(f) for f in files] + [large(args.users, args.horizon)]
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    names = {s.name: f"large ({args.users} users)" if s.name == "large" else s.name for s in scenarios}
    ratios: dict[str, list[float]] = {s.name: [] for s in scenarios}
    for _ in range(args.repeat):
        print(f"{'scenario':<26}{'messages':>9}{'runs':>5}{'wall s':>9}{'crypto s':>10}{'in situ s':>10}"
              f"{'simpy s':>9}{'ratio':>7}{'in situ':>9}  parts")
        for s in scenarios:
            r = measure(s)
            ratios[s.name].append(r["ratio"])
            each = " ".join(f"{x:.2f}" for x in r["ratios"])
            print(f"{names[s.name]:<26}{r['messages']:>9}{r['runs']:>5}{r['wall_s']:>9.4f}{r['crypto_s']:>10.4f}"
                  f"{r['in_situ_s']:>10.4f}{r['simpy_s']:>9.4f}{r['ratio']:>7.2f}{r['ratio_in_situ']:>9.2f}  {each}",
                  flush=True)
    if args.repeat > 1:
        print(f"\n{'scenario':<26}{'median':>7}  range over {args.repeat}")
        for name, rs in ratios.items():
            print(f"{names[name]:<26}{statistics.median(rs):>7.2f}  {min(rs):.2f}–{max(rs):.2f}")


if __name__ == "__main__":
    main()
