"""Time to a known answer: `dmesim sweep SCENARIO --ci 0.01 --workers 2`, timed from the
command line to its exit (imports, pool, shards, table; no charts), with the replications
it took, the rounds, the half-width reached and the throughput.

The replications it takes follow from the answer, not from the code: at P(any loss) = p,
a Wilson half-width of h needs about z²·p(1−p)/h² replications (z = 1.96), which the
script prints next to what the sweep ran. The throughput is also measured serially in
the same run (a fixed sweep of --serial-reps replications after each timed one), so the
speed-up of the workers is known at the moment of the measurement, and so is the number of
cores other processes took meanwhile (bench/common.py: OtherLoad).

    python bench/time_to_ci.py [--scenario scenarios/household.yaml] [--ci 0.01] [--workers 2]
                               [--repeat 1] [--serial-reps 200] [--round 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import sim

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import OtherLoad  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "household.yaml"))
    ap.add_argument("--ci", default="0.01")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--serial-reps", type=int, default=200)
    ap.add_argument("--round", type=int, help="replications per grid point per round (--reps; default 200)")
    args = ap.parse_args()
    rounds = ["--reps", str(args.round)] if args.round else []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "s"
            with OtherLoad() as load:
                subprocess.run([sys.executable, "-m", "sim", "sweep", args.scenario, "--ci", args.ci,
                                "--workers", str(args.workers), "--out", str(out), "--no-charts",
                                "--no-progress", *rounds], check=True, stdout=subprocess.DEVNULL)
            wall = load.wall
            manifest = json.loads((out / "manifest.json").read_text())
            df = pd.read_parquet(out / "sweep.parquet")
        t = time.perf_counter()
        sim.sweep(args.scenario, reps=args.serial_reps)
        serial = args.serial_reps / (time.perf_counter() - t)
        for p in manifest["points"]:
            g = df[df["point"] == p["point"]]
            share = g["any_loss"].mean()
            need = 1.959964 ** 2 * share * (1 - share) / float(args.ci) ** 2
            print(f"{p['label']}: {wall:.1f} s, {p['reps']} replications in {manifest['rounds']} rounds of "
                  f"{manifest['reps']} (z²p(1−p)/h² = {need:.0f} at p = {share:.3f}), half-width "
                  f"{p['half_width']:.4f}; {len(df) / wall:.1f} reps/s with --workers {args.workers} "
                  f"(serial just after: {serial:.1f} reps/s); other processes used {load.cores:.2f} cores",
                  flush=True)


if __name__ == "__main__":
    main()
