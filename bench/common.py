"""Shared pieces of the benchmarks: scenarios, unit costs of the cryptography,
the bare SimPy loop, and the floor a run is compared against."""

from __future__ import annotations

import copy
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


def _per_call(fn: Callable[[int], Any], n: int) -> float:
    """Best of 5 batches of the time per call, in seconds (the minimum is what noise on a
    shared machine disturbs least); ``fn(i)`` works on the i-th of a pool of different
    keys, as a run does, not on one hot key."""
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(n):
            fn(i % POOL)
        samples.append((time.perf_counter() - t) / n)
    return min(samples)


POOL = 64


def _key_units(c: Crypto, n: int) -> dict[str, float]:
    """Seconds per HPKE and key-derivation operation of ``c`` (X25519 or hybrid)."""
    sfx = "_pq" if c.post_quantum else ""
    devs = [c.new_device_keys() for _ in range(POOL)]
    gens = [c.new_generation() for _ in range(POOL)]
    seeds = [bytes([i]) * 32 for i in range(POOL)]
    boxes = [c.seal_box(seeds[i], devs[i].kem_public, b"b") for i in range(POOL)]
    cts = [c.seal_content(b"m%d" % i, gens[i].email.public, b"c") for i in range(POOL)]
    return {
        "box_seal" + sfx: _per_call(lambda i: c.seal_box(seeds[i], devs[i].kem_public, b"b"), n),
        "box_open" + sfx: _per_call(lambda i: c.open_box(boxes[i], devs[i].kem, b"b"), n),
        "content_seal" + sfx: _per_call(
            lambda i: c.seal_content(b"m%d" % i, gens[i].email.public, b"c"), n),
        "content_open" + sfx: _per_call(lambda i: c.open_content(cts[i], gens[i].email, b"c"), n),
        "device_keygen" + sfx: _per_call(lambda i: c.device_keys_from_seed(seeds[i]), n),
        "generation_derive" + sfx: _per_call(lambda i: c.generation_keys(seeds[i]), n),
    }


def unit_costs(argon2: Argon2Cost, n: int = 200) -> dict[str, float]:
    """Seconds per operation, for every counter name :class:`sim.crypto.Crypto` uses."""
    c = Crypto(np.random.default_rng(0), argon2=argon2)
    units = _key_units(c, n) | _key_units(Crypto(np.random.default_rng(1), post_quantum=True), n)
    dev = c.new_device_keys()
    payloads = [b"%d" % i + b"x" * 400 for i in range(POOL)]  # about a link's size
    sigs = [c.sign(dev.signing, p) for p in payloads]
    units["sign"] = _per_call(lambda i: c.sign(dev.signing, payloads[i]), n)
    units["verify"] = _per_call(lambda i: c.verify(dev.verify_key, sigs[i], payloads[i]), n)
    texts = [c.new_backup_string() for _ in range(POOL)]
    units["argon2id"] = _per_call(lambda i: c.backup_seed(texts[i], "u"), max(3, n // 50))
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


CRYPTO_METHODS = ("hpke_seal", "hpke_open", "sign", "verify", "device_keys_from_seed",
                  "generation_keys", "backup_seed")


def in_situ(scenario: Scenario) -> dict[str, Any]:
    """Run once with every cryptographic call of :class:`Crypto` timed where it happens;
    return wall time, time inside those calls and their ratio (with the bare SimPy loop)."""
    spent = [0.0]
    originals = {name: getattr(Crypto, name) for name in CRYPTO_METHODS}

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t
        return call

    for name, fn in originals.items():
        setattr(Crypto, name, timed(fn))
    try:
        t = time.perf_counter()
        result = Simulation(scenario).run()
        wall = time.perf_counter() - t
    finally:
        for name, fn in originals.items():
            setattr(Crypto, name, fn)
    loop = bare_simpy(result.summary["simpy_events"])
    return {"wall_s": wall, "crypto_in_situ_s": spent[0], "ratio_in_situ": wall / (spent[0] + loop)}


def measure(scenario: Scenario, pairs: int = 3) -> dict[str, Any]:
    """Floor ratio of ``scenario`` in this process.

    The machine's speed drifts by tens of percent over seconds, so each run is paired
    with unit costs measured just before it; the ratio reported is the median over
    ``pairs`` (run, unit costs) pairs. Every run performs the same operations."""
    rows = []
    for _ in range(pairs):
        units = unit_costs(scenario.argon2.cost(), n=100)
        t = time.perf_counter()
        result = Simulation(scenario).run()
        wall = time.perf_counter() - t
        ops = result.summary["ops"]
        crypto = sum(units[k] * v for k, v in ops.items())
        loop = bare_simpy(result.summary["simpy_events"])
        rows.append({"wall_s": wall, "crypto_s": crypto, "simpy_s": loop,
                     "floor_s": crypto + loop, "ratio": wall / (crypto + loop)})
    mid = sorted(rows, key=lambda r: r["ratio"])[len(rows) // 2]
    return {"scenario": scenario.name, "messages": result.summary["messages"], **mid,
            "ratios": [r["ratio"] for r in rows], "ops": ops}
