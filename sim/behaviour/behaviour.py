"""SimPy processes and timeouts: when devices join, go online, approve, get lost, revoke,
make and use backup keys, enrol in escrow and send messages. What waits once is a
timeout with a callback (:meth:`sim.simulation.Environment.later`); what waits again
and again (for a device online, a prompt, a duty) is a process.

They decide *when* things happen and call the protocol model
(:mod:`sim.protocol`) to make them happen. Each user draws from their own
random streams, so adding a user does not change the others' histories.
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from ..model import (
    BACKUP,
    EA_USER,
    ESCROW,
    PHYSICAL,
    BackupKeyError,
    ChainError,
    ProtocolError,
    User,
)
from ..scenario import (
    Behaviour,
    DeviceSpec,
    Dist,
    Fixed,
    Sessions,
    Traffic,
)
from .online import OnlineSchedule

if TYPE_CHECKING:
    from .simulation import Simulation

Proc = Generator[simpy.Event, Any, Any]


@functools.lru_cache(maxsize=4096)
def name_key(name: str) -> int:
    """A stable number for a user's or a device's name: streams follow names, not positions
    in the file, so inserting a user or a device shifts no one else's draws."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


@dataclass
class DeviceState:
    """What the behaviour layer knows of a device beyond the protocol: the spec it
    came from and when it is online."""

    name: str
    spec: DeviceSpec
    schedule: OnlineSchedule
    generation: int = 1  # 1 for the original, 2 for its first replacement…


@dataclass
class Draws:
    """Random streams made on first use, one per purpose of a draw (see
    :data:`sim.streams.STREAMS`; ``stream(purpose, *extra)`` makes one), and draws from
    them: draws of one purpose never shift those of another, so that varying one policy
    in a sweep leaves every other draw of the history where it was."""

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


@dataclass
class Person(Draws):
    """One user's behaviour: their devices' runtime state, random streams (a device's fates,
    approvals, revocations, backup keys…: :class:`Draws`), backup papers."""

    name: str
    behaviour: Behaviour
    traffic: Traffic
    devices: dict[str, DeviceState] = field(default_factory=dict)
    papers: dict[str, str] = field(default_factory=dict)  # backup name → string still held
    changed: simpy.Event | None = None
    duties: set[str] = field(default_factory=set)  # pending duties with a process waiting
    recovering: bool = False
    escrow_accepted: bool = False


class Behaviours:
    """All processes of one replication; ``sim`` owns env, account and records."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = weakref.proxy(sim)  # the simulation holds this: no reference back
        self.env = sim.env
        self.account = sim.account

    # ------------------------------------------------------------ helpers
    def protocol_user(self, person: Person) -> User | None:
        return self.account.users.get(person.name)

    def notify(self, person: Person) -> None:
        """Something changed for this person: wake waiting processes, take up new duties."""
        if person.changed is not None and not person.changed.triggered:
            person.changed.succeed()
        person.changed = None
        self.take_up_duties(person)

    def wait_change(self, person: Person) -> simpy.Event:
        if person.changed is None:
            person.changed = self.env.event()
        return person.changed

    def usable(self, person: Person, name: str) -> bool:
        """A physical device of the person, on the chain, in hand, with keys."""
        u = self.protocol_user(person)
        if u is None or name not in u.devices:
            return False
        d = u.devices[name]
        return d.kind == PHYSICAL and d.gone_at is None and not d.revoked and d.keys is not None

    def fresh_name(self, person: Person, prefix: str) -> str:
        """``prefix-N`` with the smallest N that no device of the person's chain has and
        that no device of the scenario will take later."""
        u = self.protocol_user(person)
        planned = self.sim.planned_names[person.name]
        n = 1
        while (u is not None and f"{prefix}-{n}" in u.devices) or f"{prefix}-{n}" in planned:
            n += 1
        return f"{prefix}-{n}"

    def usable_devices(self, person: Person) -> list[str]:
        u = self.protocol_user(person)
        return [] if u is None else [d.name for d in u.active() if self.usable(person, d.name)]

    def wait_online(self, person: Person, candidates: Callable[[], list[str]]) -> Proc:
        """Wait until one of ``candidates()`` is online; return its name, or None once
        there are no candidates left."""
        while True:
            names = candidates()
            if not names:
                return None
            now = self.env.now
            best: tuple[float, str] | None = None
            for n in names:
                t = person.devices[n].schedule.next_online(now)
                if t is not None and (best is None or t < best[0]):
                    best = (t, n)
            if best is not None and best[0] <= now:
                return best[1]
            change = self.wait_change(person)
            yield change if best is None else (self.env.timeout(best[0] - now) | change)

    def attempt(self, user: str, what: str, action: Callable[[], Any]) -> Any:
        """Run a protocol action; a refusal is recorded, not raised."""
        try:
            return action()
        except (ProtocolError, BackupKeyError, ChainError) as exc:
            self.account.log.add(self.env.now, user, "refused", None, detail=f"{what}: {exc}")
            return None

    # ------------------------------------------------------------ devices
    def joins(self, person: Person, spec: DeviceSpec, name: str, start: float, generation: int = 1) -> None:
        """Device ``name`` (of ``spec``, its ``generation``-th) joins at ``start``, or now if past."""
        self.env.later(max(0.0, start - self.env.now), partial(self._join, person, spec, name, generation))

    def _join(self, person: Person, spec: DeviceSpec, name: str, generation: int) -> None:
        pattern = spec.sessions()
        if isinstance(pattern, Sessions):
            rng = person.stream("sessions", name_key(spec.name), generation)
            schedule = OnlineSchedule(self.env.now, "sessions",
                                      lambda n: pattern.every.sample_many(rng, n),
                                      lambda n: pattern.length.sample_many(rng, n))
        else:
            schedule = OnlineSchedule(self.env.now, "never" if pattern == "never" else "always")
        person.devices[name] = DeviceState(name, spec, schedule, generation)
        u = self.account.user(person.name)
        u.add_device(name, self.env.now)
        self.sim.labels[(person.name, name)] = spec.kind
        p_mitm = self.sim.scenario.adversary.mitm_probability
        if len(u.devices) > 1 and p_mitm and person.chance(p_mitm, "mitm"):
            self.sim.adversaries.arm_mitm(person.name, name, self.env.now)
        if len(u.devices) > 1 and person.behaviour.approval is not None:
            self.env.process(self.prompt(person, name))
        if spec.fate is not None:
            self.fate(person, person.devices[name])
        self.check_stranded(person)
        self.notify(person)

    def take_up_duties(self, person: Person) -> None:
        """What the first suitable device to come online must do: a deferred rotation,
        an escrow re-key, an escrow enrolment."""
        u = self.protocol_user(person)
        if u is None:
            return
        esc = self.account.escrow_device(person.name) if self.account.ea else None
        if u.stale:
            self._duty(person, "rotate", lambda: self.usable_devices(person),
                       lambda by: u.rotate(by, self.env.now), lambda: u.stale)
        if u.escrow_stale and esc is not None:
            self._duty(person, "escrow re-key",
                       lambda: [n for n in self.usable_devices(person) if n in u.approval_class(esc.name)],
                       lambda by: self.account.rekey_escrow(person.name, by, self.env.now),
                       lambda: u.escrow_stale)
        if person.escrow_accepted and esc is None and self.account.ea is not None:
            self._duty(person, "escrow enrolment", lambda: self.usable_devices(person),
                       lambda by: self.account.enroll_escrow(person.name, by, self.env.now),
                       lambda: self.account.escrow_device(person.name) is None)

    def _duty(self, person: Person, what: str, candidates: Callable[[], list[str]],
              act: Callable[[str], Any], pending: Callable[[], bool]) -> None:
        if what not in person.duties:
            person.duties.add(what)
            self.env.process(self._do_duty(person, what, candidates, act, pending))

    def _do_duty(self, person: Person, what: str, candidates: Callable[[], list[str]],
                 act: Callable[[str], Any], pending: Callable[[], bool]) -> Proc:
        by = yield from self.wait_online(person, candidates)
        person.duties.discard(what)
        if by is not None and pending():
            self.attempt(person.name, what, lambda: act(by))
            if not pending():  # done; a refused duty waits for the next change, not this instant
                self.check_stranded(person)
                self.notify(person)

    def fate(self, person: Person, state: DeviceState) -> None:
        """The device's fate falls after a drawn time, unless it is gone by then."""
        fate = state.spec.fate
        assert fate is not None
        lineage, kind = name_key(state.spec.name), fate.kind  # lineage: the device and its replacements

        def falls() -> None:
            if self.account.user(person.name).devices[state.name].gone_at is None:
                self.go(person, state.name, kind)
        self.env.later(person.draw(fate.after, "fates", lineage), falls)

    def go(self, person: Person, name: str, cause: str) -> None:
        """A device leaves legitimate hands (or loses its keys), by its fate or scripted; the
        first time, its ``replacement`` joins later."""
        u = self.account.user(person.name)
        if cause == "stolen":
            self.sim.adversaries.thief(person.name, name, self.env.now)
        first = u.devices[name].gone_at is None
        u.gone(name, self.env.now, cause)
        person.papers.pop(name, None)  # a backup key lost or stolen: its string is gone with it
        state = person.devices.get(name)
        if first and state is not None and (rep := state.spec.replacement) is not None:
            lineage = name_key(state.spec.name)
            if person.chance(rep.probability, "fates", lineage):
                n = state.generation + 1
                start = self.env.now + person.draw(rep.after, "fates", lineage)
                self.joins(person, state.spec, f"{state.spec.name}#{n}", start, n)
        rev = person.behaviour.revocation
        if rev is not None and cause != "wiped" and person.chance(rev.probability, "revocation"):
            self.env.process(self.revoke_later(person, name, person.draw(rev.delay, "revocation"), rev.signed))
        self.check_stranded(person)
        self.notify(person)

    def revoke_later(self, person: Person, name: str, delay: float, signed: bool) -> Proc:
        """Revoke ``name`` after ``delay`` days: signed from the first usable device online,
        or from the web when unsigned or when no usable device is left."""
        yield self.env.timeout(delay)
        u = self.account.user(person.name)
        by = (yield from self.wait_online(person, lambda: self.usable_devices(person))) if signed else None
        if u.devices[name].revoked:
            return
        if by is not None:
            self.attempt(person.name, "revoke", lambda: u.revoke(by, [name], self.env.now))
        else:
            self.attempt(person.name, "revoke", lambda: u.revoke_unsigned([name], self.env.now, "web"))
        self.notify(person)

    # ------------------------------------------------------------ approvals
    def _approvers(self, person: Person, new: str) -> list[str]:
        """Older usable physical devices whose class does not yet include ``new`` (none once
        ``new`` is revoked or has left the user's hands: nobody approves a lost device)."""
        u = self.account.user(person.name)
        if u.devices[new].revoked or u.devices[new].gone_at is not None:
            return []
        seq = u.devices[new].seq
        cls = u.approval_class(new)
        older = [d.name for d in u.active() if d.seq < seq and self.usable(person, d.name)]
        assert person.behaviour.approval is not None
        if person.behaviour.approval.approver == "oldest":
            older = older[:1]
        return [n for n in older if n not in cls]

    def prompt(self, person: Person, new: str) -> Proc:
        """Older devices show a prompt to approve ``new``; the user acts on it (or never)."""
        policy = person.behaviour.approval
        assert policy is not None
        if not person.chance(policy.probability, "approval"):
            self.account.log.add(self.env.now, person.name, "prompt_ignored", new)
            return
        while True:
            approver = yield from self.wait_online(person, lambda: self._approvers(person, new))
            if approver is None:
                return
            yield self.env.timeout(person.draw(policy.delay, "approval"))
            if approver in self._approvers(person, new):  # not approved meanwhile, still at hand
                self.approve(person, approver)

    def approve(self, person: Person, approver: str) -> None:
        """A BatchApprove by ``approver`` - unless the server shows it a forked chain, in
        which case the user may compare fingerprints and catch it."""
        u = self.account.user(person.name)
        seq = u.devices[approver].seq
        for (user, device), fork in sorted(self.sim.adversaries.forks.items()):
            if user == person.name and u.devices[device].seq > seq and not u.devices[device].revoked:
                policy = person.behaviour.approval
                checked = policy is not None and person.chance(policy.fingerprint_check, "fingerprint")
                if self.sim.adversaries.approve_on_fork(fork, approver, self.env.now, checked):
                    self.notify(person)
                    return  # the approval went to the attacker; the real device gets nothing
        self.attempt(person.name, "approve", lambda: u.batch_approve(approver, self.env.now))
        self.notify(person)

    def server_device(self, person: Person, name: str) -> None:
        """The server adds a device of its own; the user may notice and revoke it."""
        self.sim.adversaries.server_device(person.name, name, self.env.now)
        self.sim.labels[(person.name, name)] = "server"
        notice = person.behaviour.notice
        if notice is not None and person.chance(notice.probability, "notice"):
            self.env.process(self.revoke_later(person, name, person.draw(notice.delay, "notice"), notice.signed))

    # ------------------------------------------------------------ backup keys and recovery
    def backup_keys(self, person: Person) -> Proc:
        spec = person.behaviour.backup_keys
        assert spec is not None
        yield self.env.timeout(person.draw(spec.at, "backup"))
        chosen = spec.by

        def makers() -> list[str]:
            return [d for d in self.usable_devices(person) if chosen is None or d == chosen]

        while (chosen not in person.devices) if chosen else not person.devices:
            yield self.wait_change(person)  # the device that makes them has not joined yet
        for _ in range(spec.count):
            by = yield from self.wait_online(person, makers)
            if by is None:
                self.account.log.add(self.env.now, person.name, "refused", chosen, detail=(
                    f"create backup key: {chosen} is no longer in the user's hands" if chosen
                    else "create backup key: no device is left in the user's hands"))
                return
            lost = spec.paper_lost if person.chance(spec.paper_lost_probability, "backup") else None
            self.create_backup(person, by, self.fresh_name(person, "backup"), lost)

    def create_backup(self, person: Person, by: str, name: str, paper_lost: Any = None) -> None:
        now = self.env.now
        text = self.attempt(person.name, "create backup key",
                            lambda: self.account.create_backup_key(person.name, by, name, now))
        if text is None:
            return
        person.papers[name] = text
        if paper_lost is not None:
            self.env.later(person.draw(paper_lost, "backup"), partial(self.paper_lost, person, name))
        leak = self.sim.scenario.adversary.backup_leak
        if leak is not None and person.chance(leak.probability, "leak"):
            self.env.later(person.draw(leak.after, "leak"), partial(self.leak, person, name))
        self.notify(person)

    def leak(self, person: Person, name: str) -> None:
        self.attempt(person.name, "leak", lambda: self.sim.adversaries.leak_backup(
            person.name, name, self.env.now))

    def server_devices(self, person: Person, every: Dist) -> Proc:
        """The server adds a device of its own to this user, again and again."""
        while True:
            yield self.env.timeout(person.draw(every, "server"))
            if self.protocol_user(person) is not None:
                self.server_device(person, self.fresh_name(person, "server"))

    def paper_lost(self, person: Person, name: str) -> None:
        person.papers.pop(name, None)
        self.account.user(person.name).gone(name, self.env.now, "paper_lost")

    def recovery_gain(self, person: Person) -> set[int]:
        """Generations an available backup or escrow device holds that no usable
        physical device does: what recovery would give back."""
        u = self.protocol_user(person)
        if u is None:
            return set()
        extra: set[int] = set()
        for d in u.active():
            if d.kind in (BACKUP, ESCROW) and self.account.available(person.name, d.name):
                extra |= u.boxed(d.name)
        for d in u.active() if extra else ():
            if self.usable(person, d.name):
                extra -= u.boxed(d.name)
        return extra

    def check_stranded(self, person: Person) -> None:
        if person.recovering or not self.recovery_gain(person):
            return
        if not any(self.usable(person, d) for d in person.devices):
            return
        person.recovering = True
        self.env.process(self.recover(person))

    def recover(self, person: Person) -> Proc:
        """Type a backup key that holds a missing generation, else ask the escrow admins if
        the escrow device holds one, on the newest usable device. If what is missing changed
        meanwhile (a partial recovery, another loss), look again."""
        missing = self.recovery_gain(person)
        try:
            bk, esc = person.behaviour.backup_keys, person.behaviour.escrow
            u = self.account.user(person.name)
            papers = [n for n in person.papers if not u.devices[n].revoked and u.boxed(n) & missing]
            escrow = self.account.escrow_device(person.name)
            if bk is not None and bk.use_when_stranded and papers:
                yield self.env.timeout(person.draw(bk.delay, "recovery"))
                target = self._newest_usable(person)
                if target is not None and papers[0] in person.papers:
                    text, now = person.papers[papers[0]], self.env.now
                    self.attempt(person.name, "backup recovery", partial(
                        self.account.recover_with_backup, person.name, text, target, now))
            elif (esc is not None and esc.recover_when_stranded and escrow is not None
                  and u.boxed(escrow.name) & missing):
                yield self.env.timeout(person.draw(esc.recover_delay, "recovery"))
                target = self._newest_usable(person)
                ea = self._ea_device_for(person)
                if target is not None and ea is not None:
                    self.attempt(person.name, "escrow recovery", lambda: self.account.escrow_recover(
                        person.name, ea, target, self.env.now))
        finally:
            person.recovering = False
        self.notify(person)
        if self.recovery_gain(person) != missing:
            self.check_stranded(person)

    def _newest_usable(self, person: Person) -> str | None:
        usable = self.usable_devices(person)
        return usable[-1] if usable else None

    def _ea_device_for(self, person: Person) -> str | None:
        ea, esc = self.account.ea, self.account.escrow_device(person.name)
        if ea is None or esc is None or esc.escrow_blob is None:
            return None
        for h in ea.holders(esc.escrow_blob.ea_generation):
            if ea.devices[h].kind != BACKUP and self.account.available(EA_USER, h):
                return h
        return None

    # ------------------------------------------------------------ escrow
    def escrow_accept(self, person: Person, enabled_at: float) -> Proc:
        spec = person.behaviour.escrow
        assert spec is not None
        if not person.chance(spec.accept_probability, "escrow"):
            return
        yield self.env.timeout(max(0.0, enabled_at - self.env.now) + person.draw(spec.accept_delay, "escrow"))
        person.escrow_accepted = True
        self.notify(person)

    # ------------------------------------------------------------ scripted messages
    def send(self, sender: str, app: str, to: str | None) -> None:
        """A message to the latest generation: mail to the recipient and the sender's copy."""
        users = self.account.users
        if to is not None and to != sender and to in users:
            self.sim.send(to, app, sender)
        if sender in users:
            self.sim.send(sender, app, sender)
