"""The record of one replication: a plain account of what happened, from which every
result is read (sim.results). Nothing in it refers back to the simulation that made it.
"""

from __future__ import annotations

from typing import NamedTuple

from ..model import Account, Adversaries, Sealed
from ..scenario import Scenario


class Send(NamedTuple):
    """One copy of a message sent: to ``user``'s key of ``generation`` (the latest when it
    was sent), by ``sender`` through ``app``."""

    at: float
    user: str
    generation: int
    app: str
    sender: str


class Message(NamedTuple):
    """A copy sent, numbered ``m1, m2, …`` in time order; ``sealed`` for real after the run
    when decryption is decided per message, else None (its generation's probe decides)."""

    message_id: str
    user: str
    app: str
    generation: int
    sent_at: float
    sender: str
    sealed: Sealed | None


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
    messages: list[Message]   # in time order
    decrypt: str              # one of DECRYPT
    probes: dict[tuple[str, int, str], Sealed]  # (user, generation, app) → its probe, sealed for real
    simpy_events: int         # events the SimPy loop processed
