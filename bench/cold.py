"""Cold versus warm: what one call costs when it comes between other work, as every call
of a small run does, against its cost in a warm loop, as the floor prices it.

For each operation: the mean of a warm loop of the same call on one key; the unit cost the
floor uses (:class:`common.UnitProbe`: warm batches of six on a pool of 64 keys); and the
median of single calls each made after about a millisecond of unrelated Python that
allocates and touches memory (as a run does between them). A diagnostic for the floor
ratios: of the small stories (cold), and of the long runs (a generation's messages sealed
and opened back to back, as in the warm loop).

    python bench/cold.py [--calls 200]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import UnitProbe  # noqa: E402

from sim.behaviour.streams import stream  # noqa: E402
from sim.model.crypto import Argon2Cost, Crypto  # noqa: E402


def other_work() -> None:
    """About a millisecond of Python that touches a few hundred kilobytes, as a run's
    protocol model and SimPy loop do between two cryptographic calls."""
    rows = [{"n": i, "s": str(i)} for i in range(3_000)]
    sorted(rows, key=lambda r: r["s"])


def cold(call: Callable[[], Any], calls: int) -> float:
    times = []
    for _ in range(calls):
        other_work()
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def warm(call: Callable[[], Any], calls: int) -> float:
    call()
    t = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - t) / calls


# the floor's name of each operation measured here
FLOOR = {"HPKE box seal": "box_seal", "HPKE box open": "box_open", "Ed25519 sign": "sign",
         "Ed25519 verify": "verify", "generation derivation": "generation_derive"}


def measure(calls: int) -> dict[str, tuple[float, float | None, float]]:
    """Seconds per call of each operation: (warm loop on one key, the floor's unit cost or
    None if the floor has none, cold)."""
    c = Crypto(b"bench/0")
    dev = c.new_device_keys()
    box = c.seal_box(b"s" * 32, dev.kem_public, b"b")
    sig = c.sign(dev.signing, b"x" * 400)
    ops: dict[str, Callable[[], Any]] = {
        "sha256 of one byte": lambda: hashlib.sha256(b"x").digest(),
        "a random stream": lambda: stream(1, 0, "traffic", 2**62, 1),
        "HPKE box seal": lambda: c.seal_box(b"s" * 32, dev.kem_public, b"b"),
        "HPKE box open": lambda: c.open_box(box, dev.kem, b"b"),
        "Ed25519 sign": lambda: c.sign(dev.signing, b"x" * 400),
        "Ed25519 verify": lambda: c.verify(dev.verify_key, sig, b"x" * 400),
        "generation derivation": lambda: c.generation_keys(b"g" * 32),
    }
    probe = UnitProbe(Argon2Cost(), FLOOR.values())
    for _ in range(len(FLOOR) * max(1, calls // 6)):
        probe.sample()
    units = probe.units()
    return {name: (warm(call, calls), units[FLOOR[name]] if name in FLOOR else None, cold(call, calls))
            for name, call in ops.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    print(f"{'operation':<24}{'warm µs':>9}{'floor µs':>10}{'floor/warm':>12}{'cold µs':>9}{'cold/warm':>11}")
    for name, (w, f, k) in measure(args.calls).items():
        floor = f"{f * 1e6:>10.1f}{f / w:>12.2f}" if f is not None else f"{'—':>10}{'—':>12}"
        print(f"{name:<24}{w * 1e6:>9.1f}{floor}{k * 1e6:>9.1f}{k / w:>11.2f}")


if __name__ == "__main__":
    main()
