"""People and their devices as the behaviour layer sees them, and the collaborators every
process acts through (:class:`World`): the SimPy environment, the protocol's account, the
adversaries and what the run records. Processes get a ``World`` passed in; none of them
holds the simulation.

A device is *in hand* when it is physical and the protocol counts it available
(``Account.available``: on the chain, not revoked, not gone from the user, with keys).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from ..model import PHYSICAL, Account, Adversaries, BackupKeyError, ChainError, ProtocolError, User
from ..scenario import AdversarySpec, Behaviour, DeviceSpec, Traffic
from .online import OnlineSchedule
from .record import Send
from .streams import Draws

Proc = Generator[simpy.Event, Any, Any]


@dataclass
class DeviceState:
    """What the behaviour layer knows of a device beyond the protocol: the spec it came
    from, when it is online, and which replacement it is (1 for the original, 2 for its
    first replacement…)."""

    name: str
    spec: DeviceSpec
    schedule: OnlineSchedule
    replacement: int = 1


@dataclass
class Person(Draws):
    """One user: their devices' state, random streams (:class:`Draws`), backup-key papers
    and what they are waiting for."""

    name: str
    behaviour: Behaviour
    traffic: Traffic
    devices: dict[str, DeviceState] = field(default_factory=dict)
    papers: dict[str, str] = field(default_factory=dict)  # backup name → string still held
    changed: simpy.Event | None = None
    on_duty: bool = False  # a process waits to do the pending duties
    recovering: bool = False
    escrow_accepted: bool = False


@dataclass
class World:
    """What every process acts on. ``take_up_duties`` is what a person does when something
    changes for them (sim.behaviour.duties), passed in by the simulation."""

    env: simpy.Environment
    account: Account
    adversaries: Adversaries
    attacks: AdversarySpec
    people: dict[str, Person]
    planned_names: dict[str, set[str]]  # per user, device names the scenario will use
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    sends: list[Send] = field(default_factory=list)  # scripted sends
    joins_at: dict[tuple[str, str], float] = field(default_factory=dict)  # (user, device) → when it joins
    take_up_duties: Callable[[Person], None] = lambda person: None

    @property
    def now(self) -> float:
        return self.env.now

    def later(self, delay: float, action: Callable[[], Any]) -> None:
        """Do ``action`` after ``delay``: one timeout and its callback, where a process that
        waits once takes three events."""
        self.env.timeout(delay).callbacks.append(lambda _: action())

    def attempt(self, user: str, what: str, action: Callable[[], Any]) -> Any:
        """Run a protocol action; a refusal is recorded in the log, not raised."""
        try:
            return action()
        except (ProtocolError, BackupKeyError, ChainError) as exc:
            self.account.log.add(self.now, user, "refused", None, detail=f"{what}: {exc}")
            return None

    # ------------------------------------------------------------ a person's devices
    def protocol_user(self, person: Person) -> User | None:
        return self.account.users.get(person.name)

    def in_hand(self, person: Person, name: str) -> bool:
        """A physical device of the person that the protocol counts available."""
        u = self.protocol_user(person)
        return (u is not None and name in u.devices and u.devices[name].kind == PHYSICAL
                and self.account.available(person.name, name))

    def devices_in_hand(self, person: Person) -> list[str]:
        u = self.protocol_user(person)
        return [] if u is None else [d.name for d in u.active() if self.in_hand(person, d.name)]

    def fresh_name(self, person: Person, prefix: str) -> str:
        """``prefix-N`` with the smallest N that no device of the person's chain has and
        that no device of the scenario will take later."""
        u = self.protocol_user(person)
        planned = self.planned_names[person.name]
        n = 1
        while (u is not None and f"{prefix}-{n}" in u.devices) or f"{prefix}-{n}" in planned:
            n += 1
        return f"{prefix}-{n}"

    # ------------------------------------------------------------ waiting
    def notify(self, person: Person) -> None:
        """Something changed for this person: wake their waiting processes, take up duties."""
        if person.changed is not None and not person.changed.triggered:
            person.changed.succeed()
        person.changed = None
        self.take_up_duties(person)

    def wait_change(self, person: Person) -> simpy.Event:
        if person.changed is None:
            person.changed = self.env.event()
        return person.changed

    def wait_online(self, person: Person, candidates: Callable[[], list[str]]) -> Proc:
        """Wait until one of ``candidates()`` is online; return its name, or None once
        there are no candidates left."""
        while True:
            names = candidates()
            if not names:
                return None
            now = self.now
            best: tuple[float, str] | None = None
            for n in names:
                t = person.devices[n].schedule.next_online(now)
                if t is not None and (best is None or t < best[0]):
                    best = (t, n)
            if best is not None and best[0] <= now:
                return best[1]
            change = self.wait_change(person)
            yield change if best is None else (self.env.timeout(best[0] - now) | change)
