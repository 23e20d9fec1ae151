"""The random streams of a replication (docs/model.md §15 Randomness).

Every draw comes from a numpy ``Generator`` (PCG64) named by its purpose and, where it
belongs to someone, by a user's or a device's name:
``SeedSequence(seed, spawn_key=(rep, purpose, *names))``. Draws of one purpose never shift
another's, so varying one policy in a sweep leaves every other draw of the history where
it was; streams follow names, not positions in the file, so adding a user or a device
shifts no one else's draws. Key material is drawn apart, from :func:`key_entropy`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..scenario import Dist, Fixed

# One index per purpose of a draw: a new kind of draw gets a new index and shifts no other.
# Index 0 is the keys': drawn by BLAKE2b from key_entropy, not by numpy.
STREAMS = {"keys": 0, "escrow_admins": 1, "traffic": 2, "sessions": 3, "fates": 4, "approval": 5,
           "fingerprint": 6, "revocation": 7, "notice": 8, "backup": 9, "recovery": 10, "escrow": 11,
           "mitm": 12, "leak": 13, "server": 14, "ea_attack": 15, "correspondents": 16}


def name_key(name: str) -> int:
    """A stable number for a user's or a device's name, to key its streams."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


def stream(seed: int, rep: int, purpose: str, *extra: int) -> np.random.Generator:
    """The random stream for ``purpose`` of replication ``rep`` (per user, device… when
    ``extra`` is given)."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(rep, STREAMS[purpose], *extra))))


def streams(seed: int, rep: int, *extra: int) -> Callable[..., np.random.Generator]:
    """``(purpose, *more) → stream(seed, rep, purpose, *extra, *more)``: the streams of a
    replication keyed by ``extra`` (a user's name, say)."""
    def make(purpose: str, *more: int) -> np.random.Generator:
        return stream(seed, rep, purpose, *extra, *more)
    return make


def key_entropy(seed: int, rep: int) -> bytes:
    """What every key of replication ``rep`` is drawn from (the model's ``Crypto.random``):
    key material needs bytes, not a numpy stream."""
    return hashlib.blake2b(b"%d/%d" % (seed, rep), digest_size=32, person=b"dmesim/entropy").digest()


@dataclass
class Draws:
    """Random streams made on first use, one per purpose (``stream(purpose, *extra)`` makes
    one), and draws from them."""

    stream: Callable[..., np.random.Generator]
    _rngs: dict[tuple[Any, ...], np.random.Generator] = field(default_factory=dict, kw_only=True)

    def rng(self, purpose: str, *extra: int) -> np.random.Generator:
        key = (purpose, *extra)
        if key not in self._rngs:
            self._rngs[key] = self.stream(purpose, *extra)
        return self._rngs[key]

    def draw(self, dist: Dist, purpose: str, *extra: int) -> float:
        """One draw, in days (a fixed duration makes no stream)."""
        return dist.fixed if isinstance(dist, Fixed) else dist.sample(self.rng(purpose, *extra))

    def chance(self, p: float, purpose: str, *extra: int) -> bool:
        """True with probability ``p``: one draw, none when the outcome is certain."""
        return p >= 1.0 or (p > 0.0 and bool(self.rng(purpose, *extra).random() < p))
