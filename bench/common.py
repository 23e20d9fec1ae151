"""Shared pieces of the benchmarks: scenarios, unit costs of the cryptography,
the bare SimPy loop, and the floor a run is compared against."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import simpy
import yaml

from sim.model.crypto import Argon2Cost, Crypto
from sim.results import Result
from sim.results import run as run_scenario
from sim.scenario import Scenario, validate

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent / "scenarios"


def large_data(users: int, horizon: str | None = None, post_quantum: bool = False) -> dict[str, Any]:
    """The raw mapping of bench/large.yaml with ``users`` copies of its one person."""
    data = yaml.safe_load((HERE / "large.yaml").read_text())
    person = data["users"][0]
    data["users"] = [dict(copy.deepcopy(person), name=f"u{i}") for i in range(users)]
    if horizon:
        data["horizon"] = horizon
    data["post_quantum"] = post_quantum
    return data


def large(users: int, horizon: str | None = None, post_quantum: bool = False) -> Scenario:
    """bench/large.yaml with ``users`` copies of its one person."""
    return validate(large_data(users, horizon, post_quantum), "bench/large.yaml")


COMPANY = SCENARIOS / "company.yaml"


def population(users: int, horizon: str | None = None) -> tuple[dict[str, Any], str]:
    """(raw mapping, name) of a population of ``users`` people: scenarios/company.yaml with
    its one pattern of users counted ``users`` times, or bench/large.yaml with ``users``
    copies of its person where there is no company.yaml."""
    if not COMPANY.exists():
        return large_data(users, horizon), f"bench/large.yaml ({users} users)"
    from sim.scenario import apply_overrides, read_yaml

    data = apply_overrides(read_yaml(COMPANY), {"users.0.count": users, **({"horizon": horizon} if horizon else {})})
    return data, f"scenarios/company.yaml ({users} users)"


# Per-message operations: what the key-distribution floor leaves out (with decrypt:
# generations, the probes remain, and count here).
CONTENT_OPS = frozenset({"content_seal", "content_open", "content_seal_pq", "content_open_pq"})

POOL = 64  # unit costs are measured on a pool of different keys, as a run uses, not one hot key


class UnitProbe:
    """Unit costs of the operations a run performs, sampled *during* the run.

    Each ``sample()`` makes one untimed call of one operation kind (the kinds taken in
    turn) and then times ``batch`` more, as a microbenchmark's warm loop would, each call
    on the next key of a pool of :data:`POOL`; a unit cost is the mean over all samples
    of its kind. Sampled through the runs, the unit costs see the same machine (clock
    speed, neighbours) as the runs themselves: this machine's speed drifts by tens of
    percent within seconds, so unit costs measured before or after a run are not
    comparable with it. ``crypto`` is the class whose operations are called."""

    def __init__(self, argon2: Argon2Cost, kinds: Iterable[str], batch: int = 6,
                 crypto: type[Crypto] = Crypto) -> None:
        c = crypto(b"bench/0", argon2=argon2)
        pq = crypto(b"bench/1", post_quantum=True)
        calls = _key_calls(c, "") | _key_calls(pq, "_pq")
        devs = [c.new_device_keys() for _ in range(POOL)]
        payloads = [b"%d" % i + b"x" * 400 for i in range(POOL)]  # about a link's size
        sigs = [c.sign(d.signing, p) for d, p in zip(devs, payloads, strict=True)]
        texts = [c.new_backup_string() for _ in range(POOL)]
        calls["sign"] = lambda i: c.sign(devs[i].signing, payloads[i])
        calls["verify"] = lambda i: c.verify(devs[i].verify_key, sigs[i], payloads[i])
        calls["argon2id"] = lambda i: c.backup_seed(texts[i], "u")
        self.calls = [(k, calls[k]) for k in sorted(kinds)]
        self.batch = batch
        self.spent: Counter[str] = Counter()
        self.count: Counter[str] = Counter()
        self._turn = 0
        self.run_calls = 0  # the runs' cryptographic calls so far (see :func:`interleaved_run`)

    def sample(self) -> None:
        kind, call = self.calls[self._turn % len(self.calls)]
        first = self._turn * (self.batch + 1)
        self._turn += 1
        call(first % POOL)  # untimed: it brings the operation's code and tables into cache
        t = time.perf_counter()
        for i in range(first + 1, first + 1 + self.batch):
            call(i % POOL)
        self.spent[kind] += time.perf_counter() - t
        self.count[kind] += self.batch

    def units(self) -> dict[str, float]:
        """Seconds per operation, by counter name."""
        while len(self.count) < len(self.calls):  # every kind sampled at least once
            self.sample()
        return {k: self.spent[k] / self.count[k] for k, _ in self.calls}


def _key_calls(c: Crypto, sfx: str) -> dict[str, Callable[[int], Any]]:
    devs = [c.new_device_keys() for _ in range(POOL)]
    gens = [c.new_generation() for _ in range(POOL)]
    seeds = [bytes([i]) * 32 for i in range(POOL)]
    boxes = [c.seal_box(seeds[i], devs[i].kem_public, b"b") for i in range(POOL)]
    cts = [c.seal_content(b"m%d" % i, gens[i].email.public, b"c") for i in range(POOL)]
    return {
        "box_seal" + sfx: lambda i: c.seal_box(seeds[i], devs[i].kem_public, b"b"),
        "box_open" + sfx: lambda i: c.open_box(boxes[i], devs[i].kem, b"b"),
        "content_seal" + sfx: lambda i: c.seal_content(b"m%d" % i, gens[i].email.public, b"c"),
        "content_open" + sfx: lambda i: c.open_content(cts[i], gens[i].email, b"c"),
        "device_keygen" + sfx: lambda i: c.device_keys_from_seed(seeds[i]),
        "generation_derive" + sfx: lambda i: c.generation_keys(seeds[i]),
    }


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


def interleaved_run(scenario: Scenario | None, probe: UnitProbe, every: int = 100,
                    call: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Run ``scenario`` once (or ``call()``), pausing for ``probe.sample()`` after every ``every``-th
    cryptographic call (counted across the runs of one probe), and once before the run.
    Spaced by operations, not by time, the samples weigh every operation alike: spaced by
    time, a slow spell of the machine would hold more samples, each dear, and raise the floor.

    Returns the run's wall time without the pauses, the time the run spent inside its own
    cryptographic calls (timed where they happen: the "in situ" cost), and its result."""
    clock = time.perf_counter
    state = {"inside": 0.0, "paused": 0.0, "probing": False}
    originals = {name: getattr(Crypto, name) for name in CRYPTO_METHODS}

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if state["probing"]:
                return fn(*args, **kwargs)
            t = clock()
            out = fn(*args, **kwargs)
            end = clock()
            state["inside"] += end - t
            probe.run_calls += 1
            if probe.run_calls % every == 0:
                state["probing"] = True
                probe.sample()
                state["probing"] = False
                state["paused"] += clock() - end
            return out
        return call

    probe.sample()
    for name, fn in originals.items():
        setattr(Crypto, name, timed(fn))
    try:
        if call is None:
            assert scenario is not None
            wall, result = plain_run(scenario)
        else:
            t = clock()
            result = call()
            wall = clock() - t
    finally:
        for name, fn in originals.items():
            setattr(Crypto, name, fn)
    return {"wall_s": wall - state["paused"], "in_situ_s": state["inside"], "result": result}


def plain_run(scenario: Scenario) -> tuple[float, Result]:
    """(wall time, result) of one run of ``scenario``, with no hook of the benchmark."""
    t = time.perf_counter()
    result = run_scenario(scenario)
    return time.perf_counter() - t, result


def measure(scenario: Scenario, parts: int = 3, min_seconds: float = 2.0) -> dict[str, Any]:
    """Floor ratio of ``scenario`` in this process.

    After one warm-up run, ``parts`` consecutive parts of at least one pair of runs each
    (short scenarios repeat until ``min_seconds`` of plain run time in all). A pair is a
    plain run, timed for the wall time, then a run with the benchmark's hooks
    (:func:`interleaved_run`), which samples the part's unit costs and times the run's
    calls in situ; the hooks cost the run 1–3% of its time, so the wall time is the plain
    run's. Each pair is followed by a bare SimPy loop of the run's length. ``ratio`` is
    total wall time / total floor; ``ratios`` has each part's; ``ratio_in_situ`` divides
    the hooked runs' time by their own time inside cryptography plus the loop."""
    ops = run_scenario(scenario).summary["ops"]  # warm-up; every run performs these
    parts_out = []
    for _ in range(parts):
        probe = UnitProbe(scenario.argon2.cost(), ops)
        wall = hooked = inside = loop = 0.0
        runs = 0
        while runs == 0 or wall < min_seconds / parts:
            plain, result = plain_run(scenario)
            run = interleaved_run(scenario, probe)
            summary = run["result"].summary
            assert summary["ops"] == result.summary["ops"] == ops
            wall, hooked, inside = wall + plain, hooked + run["wall_s"], inside + run["in_situ_s"]
            runs += 1
            loop += bare_simpy(summary["simpy_events"])
        units = probe.units()
        crypto = runs * sum(units[k] * v for k, v in ops.items())
        parts_out.append({"runs": runs, "wall_s": wall, "hooked_s": hooked, "in_situ_s": inside,
                          "crypto_s": crypto, "simpy_s": loop, "units": units})
    n = sum(p["runs"] for p in parts_out)
    wall, hooked, inside, crypto, loop = (sum(p[k] for p in parts_out)
                                          for k in ("wall_s", "hooked_s", "in_situ_s", "crypto_s", "simpy_s"))
    return {"scenario": scenario.name, "messages": summary["messages"], "runs": n,
            "wall_s": wall / n, "crypto_s": crypto / n, "in_situ_s": inside / n, "simpy_s": loop / n,
            "floor_s": (crypto + loop) / n,
            "ratio": wall / (crypto + loop), "ratio_in_situ": hooked / (inside + loop),
            "ratios": [p["wall_s"] / (p["crypto_s"] + p["simpy_s"]) for p in parts_out],
            "ops": ops, "units": {k: sum(p["units"][k] for p in parts_out) / parts for k in ops}}


def measure_sweep(data: dict[str, Any], file: str, parts: int = 3, reps: int = 20, first_rep: int = 0,
                  decrypt: str = "generations", warm_up: bool = True) -> dict[str, Any]:
    """Time per replication of a sweep of the scenario ``data`` against its floors, in this
    process.

    What is timed is what a sweep's worker runs (:func:`sim.sweeps.run_batch`): ``parts``
    consecutive batches of ``reps`` replications (reps ``first_rep`` on). Each batch runs
    plain, timed, then again with the hooks of :func:`interleaved_run`, which sample the
    part's unit costs, then a bare SimPy loop of as many events. The **key-distribution
    floor** prices every counted operation but the per-message content seals and opens
    (:data:`CONTENT_OPS`; with ``decrypt: generations`` the probes are content operations),
    plus the loop; the full floor prices them too. ``ratio`` is total wall time / total
    key-distribution floor, ``ratios`` each part's. ``warm_up``: one replication first, not
    counted."""
    from sim.sweeps import run_batch

    data = {**data, "decrypt": decrypt}
    cost = validate(data, file).argon2.cost()
    if warm_up:
        run_batch(data, file, {}, None, [first_rep])
    out = []
    for p in range(parts):
        batch = list(range(first_rep + p * reps, first_rep + (p + 1) * reps))
        t = time.perf_counter()
        rows = run_batch(data, file, {}, None, batch)["rows"]
        wall = time.perf_counter() - t
        ops: Counter[str] = Counter()
        for r in rows:
            ops.update({k[4:]: v for k, v in r.items() if k.startswith("ops_")})
        probe = UnitProbe(cost, ops)
        hooked = interleaved_run(None, probe, call=lambda b=batch: run_batch(data, file, {}, None, b))
        assert [r["ops_box_seal"] for r in hooked["result"]["rows"]] == [r["ops_box_seal"] for r in rows]
        events = sum(r["simpy_events"] for r in rows)
        loop = bare_simpy(events)
        units = probe.units()
        key = sum(units[k] * v for k, v in ops.items() if k not in CONTENT_OPS)
        content = sum(units[k] * v for k, v in ops.items() if k in CONTENT_OPS)
        out.append({"wall_s": wall, "key_s": key, "content_s": content, "simpy_s": loop,
                    "in_situ_s": hooked["in_situ_s"], "hooked_s": hooked["wall_s"],
                    "messages": sum(r["messages"] for r in rows), "ops": ops})
    n = parts * reps
    wall, key, content, loop = (sum(p[k] for p in out) for k in ("wall_s", "key_s", "content_s", "simpy_s"))
    return {"reps": n, "messages": sum(p["messages"] for p in out) / n, "wall_s": wall / n,
            "key_floor_s": (key + loop) / n, "floor_s": (key + content + loop) / n,
            "content_s": content / n, "simpy_s": loop / n,
            "ratio": wall / (key + loop), "ratio_full": wall / (key + content + loop),
            "ratios": [p["wall_s"] / (p["key_s"] + p["simpy_s"]) for p in out],
            "in_situ_s": sum(p["in_situ_s"] for p in out) / n,
            "ops": {k: v / n for k, v in sum((p["ops"] for p in out), Counter()).items()}}


class OtherLoad:
    """How many cores the machine's other processes used while the block ran: the CPU time
    /proc/stat counts busy, less this process's, its reaped children's and its live
    descendants' (a dask LocalCluster's workers), divided by the wall time. On a shared
    machine it bounds a parallel speed-up: 2 workers on 2 cores get at most 2 − others."""

    def __enter__(self) -> OtherLoad:
        self._start = (time.perf_counter(), _busy(), *_ours())
        return self

    def __exit__(self, *exc: object) -> None:
        t0, busy0, own0, live0 = self._start
        t1, busy1, (own1, live1) = time.perf_counter(), _busy(), _ours()
        ours = own1 - own0 + sum(v - live0.get(pid, 0.0) for pid, v in live1.items())
        self.wall = t1 - t0
        self.cores = max(0.0, (busy1 - busy0 - ours) / self.wall)


def _busy() -> float:
    """Seconds of CPU time the whole machine has spent busy (not idle, not waiting for I/O)."""
    import os

    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _ours() -> tuple[float, dict[int, float]]:
    """(CPU seconds of this process and its reaped children, {pid: CPU seconds} of its live
    descendants)."""
    import resource

    import psutil

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    live = {}
    for p in psutil.Process().children(recursive=True):
        try:
            c = p.cpu_times()
            live[p.pid] = c.user + c.system
        except psutil.Error:
            pass
    return own, live
