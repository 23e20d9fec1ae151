"""Python overhead of a run, by phase: what a run costs besides its cryptography.

A diagnostic for whoever optimises the engine. Every cryptographic call is memoised
(replayed from a first, real run: results here are never used for anything else), so
what remains of a run is its Python, timed warm: setting up (random streams, the
account chain, a SimPy process per device and event), the event loop with the
protocol model, sealing the sent messages, and building the result tables. Each
phase is the median over rounds, printed next to the median wall time of a normal
(real) run of the same scenario in the same process. ``interleaved`` is the same Python
when each replayed call is followed by the same operation made for real on another key
(its time taken out): what the cryptography's coming between the model's steps costs
the interpreter.

    python bench/overhead.py [--only help_article household ...] [--rounds 100]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import POOL, SCENARIOS, UnitProbe  # noqa: E402

from sim.behaviour.simulation import Simulation  # noqa: E402
from sim.model.crypto import IDENTITY, Crypto  # noqa: E402
from sim.results.analysis import build_result  # noqa: E402
from sim.scenario import Scenario, load  # noqa: E402

PHASES = ("setup", "events", "seal", "tables")


@contextmanager
def memoised(cache: dict[Any, Any], after: Callable[[str], Any] | None = None) -> Iterator[None]:
    """Crypto's operations replayed from ``cache`` (filled on a miss) while the block runs;
    ``after`` is called with the operation's name after each replayed one."""
    originals = {name: getattr(Crypto, name) for name in IDENTITY}

    def memo(name: str) -> Callable[..., Any]:
        fn, key = originals[name], IDENTITY[name]

        def call(self: Crypto, *args: Any) -> Any:
            k = (name, key(*args))
            if k not in cache:
                cache[k] = fn(self, *args)
            if after is not None:
                after(name)
            return cache[k]
        return call

    for name in IDENTITY:
        setattr(Crypto, name, memo(name))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(Crypto, name, fn)


def phases(scenario: Scenario) -> list[float]:
    """Seconds of each phase of one run."""
    clock = time.perf_counter
    t0 = clock()
    sim = Simulation(scenario)
    t1 = clock()
    sim.env.run(until=scenario.horizon)
    t2 = clock()
    sim._seal_sent()
    t3 = clock()
    build_result(sim)
    return [t1 - t0, t2 - t1, t3 - t2, clock() - t3]


class Pinned(Crypto):
    """Crypto with its real operations, whatever :func:`memoised` patches on Crypto."""


for _name in IDENTITY:
    setattr(Pinned, _name, getattr(Crypto, _name))


class Interleave:
    """The operation just replayed, made for real on the next key of the unit probe's pool
    (:class:`common.UnitProbe`), its time kept apart."""

    def __init__(self, scenario: Scenario) -> None:
        pq = "_pq" if scenario.post_quantum else ""
        self.kind = {"hpke_seal": "box_seal" + pq, "hpke_open": "box_open" + pq, "sign": "sign",
                     "verify": "verify", "device_keys_from_seed": "device_keygen" + pq,
                     "generation_keys": "generation_derive" + pq, "backup_seed": "argon2id"}
        self.calls = dict(UnitProbe(scenario.argon2.cost(), self.kind.values(), crypto=Pinned).calls)
        self.n, self.spent = 0, 0.0

    def __call__(self, name: str) -> None:
        t = time.perf_counter()
        self.calls[self.kind[name]](self.n % POOL)
        self.n += 1
        self.spent += time.perf_counter() - t


def measure(scenario: Scenario, rounds: int) -> tuple[float, list[float], float]:
    """(median wall time of a real run, median seconds of each phase memoised, median
    seconds of a memoised run's Python with each replayed call made again for real)."""
    walls: list[float] = []
    split: list[list[float]] = []
    interleaved: list[float] = []
    cache: dict[Any, Any] = {}
    interleave = Interleave(scenario)
    with memoised(cache):
        for _ in range(3):  # fill the cache and warm up
            Simulation(scenario).run()
    paused = gc.isenabled()
    gc.disable()  # as Simulation.run does; here for the phases too
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            Simulation(scenario).run()
            walls.append(time.perf_counter() - t)
            with memoised(cache):
                split.append(phases(scenario))
            with memoised(cache, after=interleave):
                interleave.spent = 0.0
                t = time.perf_counter()
                Simulation(scenario).run()
                interleaved.append(time.perf_counter() - t - interleave.spent)
    finally:
        if paused:
            gc.enable()
    return (statistics.median(walls), [statistics.median(p) for p in zip(*split, strict=True)],
            statistics.median(interleaved))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", help="scenario names")
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    scenarios = [load(f) for f in sorted(SCENARIOS.glob("*.yaml"))]
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    print(f"{'scenario':<26}{'wall ms':>9}{'python ms':>11}{'share':>7}  "
          + "".join(f"{p + ' µs':>11}" for p in PHASES) + f"{'interleaved ms':>16}")
    for s in scenarios:
        wall, split, interleaved = measure(s, args.rounds)
        print(f"{s.name:<26}{wall * 1e3:>9.2f}{sum(split) * 1e3:>11.2f}{sum(split) / wall:>7.0%}  "
              + "".join(f"{x * 1e6:>11.0f}" for x in split) + f"{interleaved * 1e3:>16.2f}", flush=True)


if __name__ == "__main__":
    main()
