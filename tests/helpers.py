"""Shared test helpers: scenarios run from scenarios/ or from YAML text, cheap keys, the
dmesim command, counted crypto calls, adversaries' exposure, small sweeps."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy.stats import binomtest

from sim.cli import main
from sim.model import Account, Argon2Cost, Crypto, DeviceKeys, User
from sim.model.adversary import Adversary
from sim.results import Result
from sim.results import run as run_scenario
from sim.scenario import apply_overrides, read_yaml, validate
from sim.sweeps import runner

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

# ---------------------------------------------------------------- running scenarios


def run_file(name: str, seed: int | None = None, **overrides: Any) -> Result:
    """Run scenarios/NAME.yaml, with dotted-path overrides (``horizon="11d"``)."""
    path = SCENARIOS / f"{name}.yaml"
    data = apply_overrides(read_yaml(path), {k.replace("__", "."): v for k, v in overrides.items()})
    return run_scenario(validate(data, str(path)), seed)


def run(text: str, seed: int | None = None) -> Result:
    """Run a scenario written as YAML text: 60 days and cheap Argon2id unless it says otherwise."""
    data: dict[str, Any] = {"horizon": "60d", "argon2": {"memory_kib": 8, "passes": 1}} | yaml.safe_load(text)
    return run_scenario(validate(data), seed)


def events(r: Result, kind: str) -> list[tuple[float, str, str]]:
    """(time, device, detail) of each event of ``kind`` in the log."""
    e = r.events[r.events["event"] == kind]
    return list(zip(e["time"], e["device"].fillna(""), e["detail"].fillna(""), strict=True))


def device_history(r: Result, user: str) -> list[tuple[float, str, str]]:
    """When each of ``user``'s own devices joined and left their hands."""
    e = r.events[(r.events["user"] == user) & r.events["event"].isin(
        ["device_add", "lost", "stolen", "wiped", "decommissioned"])]
    own = ~e["device"].str.startswith(("backup", "server", "escrow"))
    return list(zip(e["time"][own], e["event"][own], e["device"][own], strict=True))


def status(r: Result) -> dict[str, str]:
    return dict(zip(r.messages["message_id"], r.messages["status"], strict=True))


def readers(r: Result, message_id: str) -> set[str]:
    row = r.messages.set_index("message_id").loc[message_id]
    return {x for x in str(row["readable_by"] or "").split(",") if x}


def device(r: Result, user: str, name: str) -> dict[str, Any]:
    d = r.devices[(r.devices["user"] == user) & (r.devices["device"] == name)]
    assert len(d) == 1, f"no device {user}/{name}"
    return d.iloc[0].to_dict()


# ---------------------------------------------------------------- adversaries


def exposed(r, name: str):  # type: ignore[no-untyped-def]
    """The messages adversary ``name`` reads."""
    m = r.messages
    return m[m["exposed_to"].str.split(",").apply(lambda xs: name in xs)]


def window(r, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The summary's exposure window of adversary ``name``."""
    return next(w for w in r.summary["adversaries"] if w["adversary"] == name)


# ---------------------------------------------------------------- the protocol model on cheap keys

CHEAP = Argon2Cost(memory_kib=1024, passes=1, lanes=1)
# the message app sealed to the email key (APP_KEY)
MAIL = "mail"


def cheap(seed: int, post_quantum: bool = False) -> Crypto:
    return Crypto(b"test/%d" % seed, post_quantum=post_quantum, argon2=CHEAP)


def keys_of(u: User, name: str) -> DeviceKeys:
    keys = u.devices[name].keys
    assert keys is not None
    return keys


def knows(u: User, name: str) -> set[int]:
    return set(u.knows(name))


def small_account(seed: int, post_quantum: bool = False) -> Account:
    """alice with three devices, an approval, a backup key, a revocation, escrow and a
    rotation; bob with one device."""
    acc = Account(cheap(seed, post_quantum))
    u = acc.user("alice")
    for i, n in enumerate(["a", "b", "c"]):
        u.add_device(n, float(i))
    u.batch_approve("a", 3.0)
    acc.create_backup_key("alice", "a", "backup", 4.0)
    u.revoke("a", ["c"], 5.0)
    acc.enable_escrow("ea1", 6.0)
    acc.enroll_escrow("alice", "a", 7.0)
    u.rotate("b", 8.0)
    acc.user("bob").add_device("pc", 9.0)
    return acc


def secrets(n: int, seed: int = 0) -> list[bytes]:
    """``n`` backup-key secrets (16 bytes each)."""
    rng = np.random.default_rng(seed)
    return [rng.bytes(16) for _ in range(n)]


def substitute(text: str, pos: int, char: str) -> str:
    """Replace the ``pos``-th backup-key character (dashes not counted)."""
    chars = list(text.replace("-", ""))
    chars[pos] = char
    s = "".join(chars)
    return "-".join(s[i:i + 4] for i in range(0, 32, 4))


# ---------------------------------------------------------------- counted cryptographic operations


def deriving_party() -> str:
    """Who is deriving a generation's keys: the user's device or the adversary whose
    ``generation_keys`` called the Crypto one (a fresh generation's creator: its new seed
    makes the derivation unique anyway)."""
    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "generation_keys" and isinstance(owner, User):
            return f"{owner.id}/{frame.f_locals['device']}"
        if frame.f_code.co_name == "generation_keys" and isinstance(owner, Adversary):
            return owner.name
        if frame.f_code.co_name == "_new_generation" and isinstance(owner, User):
            return f"{owner.id}/{frame.f_locals['creator']}"
        frame = frame.f_back
    return ""


# What identifies the result of each operation of Crypto: the same inputs under the same
# key (for a derivation, by the same party). The tests count by it that no run repeats one.
IDENTITY: dict[str, Callable[..., tuple[Any, ...]]] = {
    "hpke_seal": lambda op, plaintext, to, info: (op, plaintext, to.raw, info),
    "hpke_open": lambda op, ciphertext, key, info: (op, ciphertext, key.public.raw, info),
    "sign": lambda key, message: (key.private_bytes_raw(), message),
    "verify": lambda verify_key, signature, message: (verify_key, signature, message),
    "device_keys_from_seed": lambda seed: (seed,),
    "generation_keys": lambda seed: (seed, deriving_party()),
    "backup_seed": lambda text, user_id: (text, user_id),
}

# derivations are left out: the same key derived again by another party is a new operation
COUNTED = [name for name in IDENTITY if name not in ("device_keys_from_seed", "backup_seed")]


@contextmanager
def crypto_calls() -> Iterator[Counter[tuple[Any, ...]]]:
    """Count each open, seal, signature, verification and generation derivation by its
    identity while the block runs (a count above 1 is a repeated operation)."""
    calls: Counter[tuple[Any, ...]] = Counter()
    originals = {name: getattr(Crypto, name) for name in COUNTED}

    def counted(name: str) -> Any:
        fn, identity = originals[name], IDENTITY[name]

        def call(self: Crypto, *args: Any) -> Any:
            calls[(name, *identity(*args))] += 1
            return fn(self, *args)
        return call

    for name in COUNTED:
        setattr(Crypto, name, counted(name))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(Crypto, name, fn)


def repeated(calls: Counter[tuple[Any, ...]]) -> dict[str, int]:
    return dict(Counter(k[0] for k, n in calls.items() if n > 1))


def derived_again(adversaries: Any, calls: Counter[tuple[Any, ...]]) -> list[str]:
    """Adversaries that derived a generation's keys the device they took had derived. (A man
    in the middle took no device: its keys are its own, under the real device's name, and
    that device deriving the same seed is another party's derivation.)"""
    by_seed: dict[bytes, set[str]] = {}
    for op, *identity in calls:
        if op == "generation_keys":
            seed, party = identity
            by_seed.setdefault(seed, set()).add(party)
    return [adv.name for adv in adversaries.all if adv.kind != "mitm"
            and any({adv.name, f"{adv.user}/{adv.device}"} <= parties for parties in by_seed.values())]


# ---------------------------------------------------------------- the dmesim command


def invoke(*args: str) -> tuple[int, str, str]:
    """``dmesim ARGS`` in this process: (exit code, stdout, stderr)."""
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


# A scenario file's first line and a user with one device, for files that must be refused
HEAD = "horizon: 30d\n"
USERS = "users: [{name: a, devices: [{name: p}]}]\n"
# A whole scenario file that is fine, and the help article's
GOOD = "horizon: 30d\nusers:\n  - name: alice\n    devices:\n      - {name: phone}\n"
HELP = str(SCENARIOS / "help_article.yaml")


def refused_with_one_line(tmp_path: Path, text: str, expected: str, command: str) -> None:
    """``dmesim COMMAND`` on a file holding ``text`` exits with status 2 and one line naming
    the file and ``expected``, no traceback, and writes nothing."""
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    code, out, err = invoke(command, str(f), *(["--out", str(tmp_path / "out")] if command == "run" else []))
    assert code == 2, err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0].removeprefix("dmesim: ")  # run says who is speaking; validate lists files
    assert line.startswith(f"{f}: ") and expected in line, line
    assert "Traceback" not in err + out
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- sweeps

RISK = SCENARIOS / "risk_policy.yaml"
# small and quick: one year, two backup policies, four replications each
SMALL: dict[str, Any] = {"reps": 4, "vary": {"behaviour.backup_keys.count": [0, 2], "horizon": ["1y"]}}

# An always-online phone that nobody loses: no loss is possible.
SAFE = {"name": "safe", "horizon": "60d", "argon2": {"memory_kib": 1024, "passes": 1},
        "traffic": {"voicemail": {"every": {"exp": "5d"}}},
        "users": [{"name": "alice", "devices": [{"name": "phone"}]}]}
# The only device is certainly lost on day 10, with no backup key and no replacement.
DOOMED = apply_overrides(SAFE, {"name": "doomed", "users.0.devices.0.fate": {"lost": "10d"},
                                "traffic.voicemail.every": "2d"})


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every replication the sweep executes (serial runs in this process)."""
    ran: list[int] = []
    real = runner.run_batch

    def run_batch(*args: Any, **kwargs: Any) -> dict[str, Any]:
        ran.extend(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_batch", run_batch)
    return ran


# A made-up sweep table for charts and statistics (the ``df`` fixture of conftest.py)
HORIZON = 100.0
LOSSES = {0: [5.0, 20.0, 20.0], 1: [], 2: [1.0, 2.0, 3.0, 4.0]}  # first loss days per point
REPS = {0: 10, 1: 10, 2: 4}
COUNT = {0: 0, 1: 2, 2: 0}  # backup keys at each point


def sweep_table() -> pd.DataFrame:
    rows = []
    for p, n in REPS.items():
        for r in range(n):
            t = LOSSES[p][r] if r < len(LOSSES[p]) else None
            rows.append({"run_id": f"p{p}-r{r}", "point": p, "rep": r, "seed": 1,
                         "label": f"policy {p}", "behaviour.backup_keys.count": COUNT[p],
                         "horizon_days": HORIZON, "any_loss": t is not None,
                         "first_loss_at": np.nan if t is None else t,
                         "fraction_lost": 0.0 if t is None else (r + 1) / 10,
                         "fraction_exposed": (p * r % 3) / 4})
    return pd.DataFrame(rows)


def wilson(k: int, n: int) -> tuple[float, float]:
    """scipy's Wilson interval, to check sim.stats against."""
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return ci.low, ci.high
