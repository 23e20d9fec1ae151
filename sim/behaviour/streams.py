"""The random streams of a replication: one numpy ``Generator`` (PCG64) per purpose,
seeded by ``SeedSequence(seed, spawn_key=(rep, purpose, *extra))``.

A small run makes only a few streams, but each is made cold, between other work, where
numpy's ``SeedSequence`` took about 160 µs a stream (27 µs in a warm loop; its state
words go through numpy scalars and arrays). :class:`SpawnedSeed` computes the same state
words with Python integers, as numpy's algorithm defines them
(``numpy/random/bit_generator.pyx``), and hands them to PCG64 through numpy's
``ISeedSequence`` interface (60–80 µs a stream in a run): the draws are numpy's own, bit
for bit (``tests/test_simulation.py`` checks against ``SeedSequence``). It does not
spawn children: each stream is named instead.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

# Named child streams, one per purpose of a draw: a new kind of draw gets a new index and
# shifts no other stream, and varying one policy leaves the draws of every other alone.
# Index 0 is the keys': drawn by BLAKE2b from :func:`key_entropy`, not by numpy.
STREAMS = {"keys": 0, "escrow_admins": 1, "traffic": 2, "sessions": 3, "fates": 4, "approval": 5,
           "fingerprint": 6, "revocation": 7, "notice": 8, "backup": 9, "recovery": 10, "escrow": 11,
           "mitm": 12, "leak": 13, "server": 14, "ea_attack": 15}

# numpy's SeedSequence constants (pool of 4 words of 32 bits)
_POOL = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_M32 = 0xFFFFFFFF


def _words(n: int) -> list[int]:
    """A non-negative integer as 32-bit words, least significant first (at least one)."""
    n = operator.index(n)
    if n < 0:
        raise ValueError("seed and spawn key must be non-negative")
    out = [n & _M32]
    n >>= 32
    while n:
        out.append(n & _M32)
        n >>= 32
    return out


def _hashmix(value: int, h: int) -> tuple[int, int]:
    """numpy's ``hashmix``: (the mixed value, the next hash constant)."""
    value ^= h
    h = (h * _MULT_A) & _M32
    value = (value * h) & _M32
    return value ^ (value >> 16), h


def _mix(x: int, y: int) -> int:
    r = (_MIX_L * x - _MIX_R * y) & _M32
    return r ^ (r >> 16)


@functools.lru_cache(maxsize=1024)
def _pool(words: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The pool (and hash constant) once ``words`` (at least :data:`_POOL`) are absorbed.

    Kept for the prefixes of the words of the streams made lately: the streams of a
    replication share their seed's and replication's words, so each new stream mixes in
    only its own. A pure function: the cache changes no state word."""
    pool, h = [], _INIT_A
    if len(words) == _POOL:
        for w in words:
            value, h = _hashmix(w, h)
            pool.append(value)
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    value, h = _hashmix(pool[src], h)
                    pool[dst] = _mix(pool[dst], value)
    else:
        before, h = _pool(words[:-1])
        pool = list(before)
        for dst in range(_POOL):
            value, h = _hashmix(words[-1], h)
            pool[dst] = _mix(pool[dst], value)
    return tuple(pool), h


class SpawnedSeed(ISeedSequence):
    """``SeedSequence(entropy, spawn_key=spawn_key)``'s state, in Python integers."""

    def __init__(self, entropy: int, spawn_key: tuple[int, ...]) -> None:
        run = _words(entropy)
        run += [0] * (_POOL - len(run))  # numpy pads it when spawned (unspawned, it mixes in zeros alike)
        self.pool = list(_pool((*run, *(w for k in spawn_key for w in _words(k))))[0])

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        wide = np.dtype(dtype) == np.uint64
        if not wide and np.dtype(dtype) != np.uint32:
            raise ValueError("only support uint32 or uint64")
        h, out = _INIT_B, []
        for i in range(n_words * 2 if wide else n_words):
            value = self.pool[i % _POOL] ^ h
            h = (h * _MULT_B) & _M32
            value = (value * h) & _M32
            out.append(value ^ (value >> 16))
        if wide:
            out = [lo | hi << 32 for lo, hi in zip(out[::2], out[1::2], strict=True)]
        return np.array(out, dtype=dtype)


def stream(seed: int, rep: int, name: str, *extra: int) -> np.random.Generator:
    """The random stream ``name`` of replication ``rep`` (per user, device… when ``extra`` is given)."""
    seed_seq = SpawnedSeed(seed, (rep, STREAMS[name], *extra))
    return np.random.Generator(np.random.PCG64(seed_seq))  # type: ignore[arg-type]  # (stubs omit ISeedSequence)


def key_entropy(seed: int, rep: int) -> bytes:
    """What every key of replication ``rep`` is drawn from (:meth:`sim.crypto.Crypto.random`):
    key material needs bytes, not a numpy stream, whose making costs more than the draws."""
    return hashlib.blake2b(b"%d/%d" % (seed, rep), digest_size=32, person=b"dmesim/entropy").digest()


def streams(seed: int, rep: int, *extra: int) -> Callable[..., np.random.Generator]:
    """``(name, *more) → stream(seed, rep, name, *extra, *more)``: the streams of a
    replication keyed by ``extra`` (a user's name, say)."""
    def make(name: str, *more: int) -> np.random.Generator:
        return stream(seed, rep, name, *extra, *more)
    return make
