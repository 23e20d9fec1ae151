"""Shared pieces of the benchmarks: scenarios, unit costs of the cryptography,
the bare SimPy loop, and the floor a run is compared against."""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import simpy
import yaml

from sim.crypto import Argon2Cost, Crypto
from sim.scenario import Scenario, validate
from sim.simulation import Simulation

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent / "scenarios"


def large(users: int, horizon: str | None = None, post_quantum: bool = False) -> Scenario:
    """bench/large.yaml with ``users`` copies of its one person."""
    data = yaml.safe_load((HERE / "large.yaml").read_text())
    person = data["users"][0]
    data["users"] = [dict(copy.deepcopy(person), name=f"u{i}") for i in range(users)]
    if horizon:
        data["horizon"] = horizon
    data["post_quantum"] = post_quantum
    return validate(data, "bench/large.yaml")


def _per_call(fn: Callable[[], Any], n: int) -> float:
    """Median over 5 batches of the time per call, in seconds."""
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    return statistics.median(samples)


def unit_costs(argon2: Argon2Cost, n: int = 200) -> dict[str, float]:
    """Seconds per operation, for every counter name :class:`sim.crypto.Crypto` uses."""
    units: dict[str, float] = {}
    for pq in (False, True):
        c = Crypto(np.random.default_rng(0), post_quantum=pq, argon2=argon2)
        sfx = "_pq" if pq else ""
        dev = c.new_device_keys()
        gen = c.new_generation()
        seed = bytes(32)
        box = c.seal_box(seed, dev.kem_public, b"b")
        units["box_seal" + sfx] = _per_call(lambda: c.seal_box(seed, dev.kem_public, b"b"), n)
        units["box_open" + sfx] = _per_call(lambda: c.open_box(box, dev.kem, b"b"), n)
        msg = gen.email.public
        ct = c.seal_content(b"m123", msg, b"c")
        units["content_seal" + sfx] = _per_call(lambda: c.seal_content(b"m123", msg, b"c"), n)
        units["content_open" + sfx] = _per_call(lambda: c.open_content(ct, gen.email, b"c"), n)
        units["device_keygen" + sfx] = _per_call(lambda: c.device_keys_from_seed(seed), n)
        units["generation_derive" + sfx] = _per_call(lambda: c.generation_keys(seed), n)
    payload = b"x" * 400  # about a link's size
    sig = c.sign(dev.signing, payload)
    units["sign"] = _per_call(lambda: c.sign(dev.signing, payload), n)
    units["verify"] = _per_call(lambda: c.verify(dev.verify_key, sig, payload), n)
    text = c.new_backup_string()
    units["argon2id"] = _per_call(lambda: c.backup_seed(text, "u"), max(3, n // 50))
    return units


def bare_simpy(events: int) -> float:
    """Seconds for SimPy to process ``events`` timeouts with nothing else to do."""
    env = simpy.Environment()

    def proc() -> Any:
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(proc())
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t


def measure(scenario: Scenario, units: dict[str, float] | None = None) -> dict[str, Any]:
    """Run once in this process; return wall time, floor and their ratio."""
    units = units or unit_costs(scenario.argon2.cost())
    t = time.perf_counter()
    result = Simulation(scenario).run()
    wall = time.perf_counter() - t
    ops = result.summary["ops"]
    crypto = sum(units[k] * v for k, v in ops.items())
    loop = bare_simpy(result.summary["simpy_events"])
    floor = crypto + loop
    return {"scenario": scenario.name, "messages": result.summary["messages"],
            "wall_s": wall, "crypto_s": crypto, "simpy_s": loop, "floor_s": floor,
            "ratio": wall / floor, "ops": ops}
