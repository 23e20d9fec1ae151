"""The record of one replication: a plain account of what happened, from which every
result is read (sim.results). Nothing in it refers back to the simulation that made it.

Message copies are kept as columns (:class:`Copies`), not an object per copy: a sweep
reads its answer from counts per (user, generation, app), and a population sends
hundreds of thousands of copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ..model import Account, Adversaries, Sealed
from ..scenario import Scenario

# Message apps (docs/model.md §11): a copy's ``app`` indexes this, and the order numbers a
# person's traffic streams (changing it would shift their draws).
APPS = ("voicemail", "mail")


class Send(NamedTuple):
    """One copy of a message sent: to ``user``'s key of ``generation`` (the latest when it
    was sent), by ``sender`` through ``app``."""

    at: float
    user: str
    generation: int
    app: str
    sender: str


class Copies(NamedTuple):
    """Every copy of a message sent in one replication, as columns in time order: copy
    ``n`` (from 0) is message ``m{n+1}``, to ``names[user[n]]``'s key of ``generation[n]``,
    sent at ``at[n]`` by ``names[sender[n]]`` through ``APPS[app[n]]``."""

    at: np.ndarray          # float64, days
    user: np.ndarray        # int64, into names
    generation: np.ndarray  # int64
    app: np.ndarray         # int64, into APPS
    sender: np.ndarray      # int64, into names
    names: tuple[str, ...]

    @classmethod
    def of(cls, parts: Iterable[tuple[np.ndarray, ...]], names: Iterable[str]) -> Copies:
        """Copies from columns (at, user, generation, app, sender) in parts, ordered by send
        time; copies sent at one time keep the order of the parts (stable)."""
        columns = [np.concatenate(c) for c in zip(*parts, strict=True)] or [np.empty(0)] * 5
        at = columns[0].astype(np.float64)
        order = np.argsort(at, kind="stable")
        user, generation, app, sender = (c.astype(np.int64)[order] for c in columns[1:])
        return cls(at[order], user, generation, app, sender, tuple(names))

    @staticmethod
    def of_sends(sends: list[Send], names: dict[str, int]) -> tuple[np.ndarray, ...]:
        """The columns of ``sends`` (scripted ones), adding their people to ``names``."""
        def code(name: str) -> int:
            return names.setdefault(name, len(names))

        return (np.array([s.at for s in sends], np.float64), np.array([code(s.user) for s in sends], np.int64),
                np.array([s.generation for s in sends], np.int64),
                np.array([APPS.index(s.app) for s in sends], np.int64),
                np.array([code(s.sender) for s in sends], np.int64))

    def key(self, n: int) -> tuple[str, int, str]:
        """(user, generation, app) of copy ``n``: what its group shares."""
        return self.names[self.user[n]], int(self.generation[n]), APPS[self.app[n]]

    def message_ids(self) -> list[str]:
        return [f"m{n}" for n in range(1, len(self.at) + 1)]

    def groups(self) -> Groups:
        """The copies grouped by (user, generation, app)."""
        key = (self.user * (int(self.generation.max(initial=0)) + 1) + self.generation) * len(APPS) + self.app
        order = np.argsort(key, kind="stable")
        starts = np.flatnonzero(np.diff(key[order], prepend=-1))  # where each group begins in order
        size = np.diff(starts, append=len(order))
        of = np.empty(len(order), np.int64)
        of[order] = np.repeat(np.arange(len(starts)), size)
        return Groups(of, size, [order[a:a + n] for a, n in zip(starts.tolist(), size.tolist(), strict=True)])


class Groups(NamedTuple):
    """Copies grouped by (user, generation, app), in that order: each copy's group, each
    group's number of copies, and each group's copies in time order."""

    of: np.ndarray
    size: np.ndarray
    members: list[np.ndarray]


DECRYPT = ("messages", "generations")  # what is sealed and opened for real: each message,
# or one probe per (user, generation, app) whose outcome every message of it takes


class RunRecord(NamedTuple):
    """What one replication of ``scenario`` for (``seed``, ``rep``) left behind."""

    scenario: Scenario
    seed: int
    rep: int
    account: Account          # the protocol's final state; its log is the events table
    adversaries: Adversaries  # what each adversary holds
    labels: dict[tuple[str, str], str]  # (user, device) → the label the scenario gave it
    copies: Copies            # every message copy sent, in time order
    groups: Groups            # the copies grouped by (user, generation, app)
    decrypt: str              # one of DECRYPT
    sealed: list[Sealed]      # decrypt "messages": each copy sealed for real, in the copies' order
    probes: dict[tuple[str, int, str], Sealed]  # decrypt "generations": (user, generation, app) → its probe
    simpy_events: int         # events the SimPy loop processed
