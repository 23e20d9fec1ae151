"""Shared test helpers: run scenarios from the repository's scenarios/ folder."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sim.model import Crypto, User
from sim.model.adversary import Adversary
from sim.results import Result
from sim.results import run as run_scenario
from sim.scenario import apply_overrides, read_yaml, validate

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def run_file(name: str, seed: int | None = None, **overrides: Any) -> Result:
    """Run scenarios/NAME.yaml, with dotted-path overrides (``horizon="11d"``)."""
    path = SCENARIOS / f"{name}.yaml"
    data = apply_overrides(read_yaml(path), {k.replace("__", "."): v for k, v in overrides.items()})
    return run_scenario(validate(data, str(path)), seed)


def status(r: Result) -> dict[str, str]:
    return dict(zip(r.messages["message_id"], r.messages["status"], strict=True))


def readers(r: Result, message_id: str) -> set[str]:
    row = r.messages.set_index("message_id").loc[message_id]
    return {x for x in str(row["readable_by"] or "").split(",") if x}


def device(r: Result, user: str, name: str) -> dict[str, Any]:
    d = r.devices[(r.devices["user"] == user) & (r.devices["device"] == name)]
    assert len(d) == 1, f"no device {user}/{name}"
    return d.iloc[0].to_dict()



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
