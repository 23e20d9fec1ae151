"""One replication: owns the SimPy environment, the random streams, the protocol
state and the record; :func:`run` returns a :class:`~sim.analysis.Result`."""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import cached_property, partial
from typing import Any

import simpy

from ..model import EA_USER, Account, Adversaries, Crypto, ProtocolError, Sealed
from ..results.analysis import Result, build_result
from ..scenario import EA_BACKUP, Dist, Event, Scenario
from . import traffic
from .behaviour import Behaviours, Draws, Person, Proc, name_key
from .streams import key_entropy, streams


class Environment(simpy.Environment):
    """SimPy's environment, counting the events it processes (the benchmarks' floor
    includes a bare SimPy loop of the same length), and closing at the end of a run the
    processes still waiting (:meth:`close`)."""

    processed = 0

    def __init__(self) -> None:
        super().__init__()
        self._started: list[Proc] = []  # each process's generator, closed at the end

    def process(self, generator: Proc) -> simpy.Process:
        self._started.append(generator)
        return super().process(generator)

    def run(self, until: Any = None) -> Any:
        """SimPy's run (once per environment), then the count of events it processed: each
        scheduled one took the next id, and those not processed are still due."""
        try:
            return super().run(until)
        finally:
            self.processed = next(self._eid) - len(self._queue)

    def later(self, delay: float, action: Callable[[], Any]) -> None:
        """Do ``action`` after ``delay``: one timeout's callback, one event, where a
        process that waits once takes three (its start, the timeout, its end)."""
        self.timeout(delay).callbacks.append(lambda _: action())

    def close(self) -> None:
        """Close every process still waiting and drop the events still due: their frames
        and callbacks let go of the model. (A waiting process and its event refer to each
        other, so without this a finished run would stay in memory until the cyclic
        garbage collector found it.)"""
        for g in self._started:
            g.close()  # a finished one: nothing to do
        self._started.clear()
        self._queue.clear()


class Simulation:
    """One simulated history of ``scenario`` for (``seed``, ``rep``)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, rep: int = 0) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rep = rep
        self.env = Environment()
        crypto = Crypto(key_entropy(self.seed, rep), scenario.post_quantum, scenario.argon2.cost())
        self.account = Account(crypto, scenario.account.members_may_create_backup_keys)
        self.adversaries = Adversaries(self.account)
        self.labels: dict[tuple[str, str], str] = {}
        self.sealed: list[Sealed] = []
        self._scripted: list[tuple[float, str, int, str, str]] = []  # sends: (at, user, generation, app, sender)
        self.senders: list[str] = []  # of each message in self.sealed
        self.behaviours = Behaviours(self)
        self.people = {
            u.name: Person(streams(self.seed, rep, name_key(u.name)), u.name,
                           scenario.behaviour_of(u), scenario.traffic_of(u))
            for u in scenario.users
        }
        self._start()

    @cached_property
    def planned_names(self) -> dict[str, set[str]]:
        """Per user, the device names the scenario gives (its devices, its scripted events'
        names): a name the simulation makes up must not take one before its device joins."""
        names = {u.name: {d.name for d in u.devices} for u in self.scenario.users}
        for e in self.scenario.timeline:
            if e.name is not None and e.user in names:
                names[e.user].add(e.name)
        return names

    def _start(self) -> None:
        b, s = self.behaviours, self.scenario
        for u in s.users:
            person = self.people[u.name]
            for spec in u.devices:
                start = person.draw(spec.joins_at, "fates", name_key(spec.name))
                b.joins(person, spec, spec.name, start)
        if s.account.escrow is not None:
            self.env.process(self._escrow())
        for u in s.users:
            person = self.people[u.name]
            if person.behaviour.backup_keys is not None and person.behaviour.backup_keys.count:
                self.env.process(b.backup_keys(person))
            if person.behaviour.escrow is not None and s.account.escrow is not None:
                self.env.process(b.escrow_accept(person, s.account.escrow.enabled_at))
            if s.adversary.server_devices is not None:
                self.env.process(b.server_devices(person, s.adversary.server_devices))
        if s.timeline:
            self.env.process(self._script())

    def _script(self) -> Any:
        """The scripted timeline: a timeout per event, all made when the run starts, in
        timeline order (so at one instant the script acts before what is scheduled later),
        each performing its event by a callback: one SimPy event per scripted event, where
        a process each took three."""
        for event in self.scenario.timeline:
            if event.at < self.scenario.horizon:  # the run stops at the horizon before anything due then
                self.env.later(event.at, partial(self.perform, event))
        yield from ()

    # ------------------------------------------------------------ escrow admins
    def _escrow(self) -> Any:
        spec = self.scenario.account.escrow
        assert spec is not None
        devices = [d for admin in spec.admins for d in admin.devices]
        admins = Draws(streams(self.seed, self.rep))  # a stream per EA device and for the EA backup's paper

        def draw(name: str, dist: Dist) -> float:
            return admins.draw(dist, "escrow_admins", name_key(name))

        joins = [max(spec.enabled_at, draw(d.name, d.joins_at)) for d in devices]
        joins[0] = spec.enabled_at  # the first EA device enables escrow: it joins then
        yield self.env.timeout(spec.enabled_at)
        first = devices[0]
        self.account.enable_escrow(first.name, self.env.now, EA_BACKUP)  # its string stays on paper
        self.labels[(EA_USER, first.name)] = first.kind
        self.labels[(EA_USER, EA_BACKUP)] = "backup"
        if spec.ea_backup_paper_lost is not None:
            lost = draw(EA_BACKUP, spec.ea_backup_paper_lost)
            self.env.later(lost, partial(self._ea_gone, EA_BACKUP, "paper_lost"))
        attack = self.scenario.adversary.ea_compromise
        if attack is not None and admins.chance(attack.probability, "ea_attack"):
            self.env.later(admins.draw(attack.after, "ea_attack"), partial(self._compromise_ea, first.name))
        now = self.env.now
        for d, at in zip(devices, joins, strict=True):
            if d is not first:
                self.env.later(max(0.0, at - now), partial(self._ea_device, d.name, d.kind))
            if d.fate is not None:
                self.env.later(max(0.0, max(at, now) + draw(d.name, d.fate.after) - now),
                               partial(self._ea_gone, d.name, d.fate.kind))

    def _confirmed_ea_devices(self) -> list[str]:
        """EA devices still with the admins that may approve and revoke (lockdown)."""
        ea = self.account.ea
        assert ea is not None
        return [d.name for d in ea.active() if d.kind == "ea" and d.name in ea.chain.confirmed
                and self.account.available(EA_USER, d.name)]

    def _compromise_ea(self, name: str) -> None:
        self.adversaries.compromise_ea(name, self.env.now)

    def _ea_device(self, name: str, kind: str) -> None:
        ea = self.account.ea
        assert ea is not None
        ea.add_device(name, self.env.now, kind="ea")
        self.labels[(EA_USER, name)] = kind
        approvers = self._confirmed_ea_devices()
        if approvers:
            self.behaviours.attempt(EA_USER, "approve EA device",
                                    lambda: self.account.approve_ea_devices(approvers[0], self.env.now))
        elif self.account.available(EA_USER, EA_BACKUP):
            # no confirmed EA device is left with the admins: they type the EA backup key into
            # the new one, whose BatchApprove (signed by the backup) boxes it what the backup holds
            text = self.account.backup_strings[(EA_USER, EA_BACKUP)]
            self.behaviours.attempt(EA_USER, "recover EA with its backup key", lambda: self.account.recover_with_backup(
                EA_USER, text, name, self.env.now))
            self._revoke_gone_ea_devices()
            self._ea_changed()

    def _ea_gone(self, name: str, cause: str) -> None:
        ea = self.account.ea
        assert ea is not None
        if name not in ea.devices:  # the fate falls before the device joined
            return
        if cause == "stolen":
            self.adversaries.compromise_ea(name, self.env.now)
        ea.gone(name, self.env.now, cause)
        self._revoke_gone_ea_devices()

    def _revoke_gone_ea_devices(self) -> None:
        """From a confirmed EA device still with the admins, revoke every EA device lost,
        stolen or decommissioned and not yet revoked (each revocation rotates the EA
        generation, so members' escrow devices need a re-key)."""
        ea = self.account.ea
        assert ea is not None
        gone = [d.name for d in ea.active() if d.kind == "ea" and d.gone_cause in ("lost", "stolen", "decommissioned")]
        by = self._confirmed_ea_devices()
        if not gone or not by:
            return
        for name in gone:
            self.behaviours.attempt(EA_USER, "revoke EA device",
                                    partial(self.account.revoke_ea_device, by[0], name, self.env.now))
        self._ea_changed()

    def _ea_changed(self) -> None:
        """The EA chain changed: members take up new duties (an escrow re-key), and a
        stranded one may now recover through escrow (the admins have a device again)."""
        for person in self.people.values():
            self.behaviours.notify(person)
            self.behaviours.check_stranded(person)

    # ------------------------------------------------------------ messages
    def send(self, user: str, app: str, sender: str) -> None:
        """A scripted message for ``user`` now, to the generation that is the latest now: one
        a later event of this instant creates (a revocation after the send, say) is too late."""
        self._scripted.append((self.env.now, user, len(self.account.users[user].generations), app, sender))

    def _seal_sent(self) -> None:
        """Number every copy sent, scripted or drawn (:mod:`sim.traffic`), in time order
        (scripted sends first at equal times) and seal it for real. Nothing during a run
        reads message ciphertext, so the seals are made back to back here: the same seals
        to the same keys, cheaper than one between every two events."""
        drawn = traffic.drawn(self.people.values(), self.account.users, self.scenario.horizon)
        at, user, gen, app, sender = ([row[k] for row in self._scripted] + drawn[k] for k in range(5))
        order = sorted(range(len(at)), key=at.__getitem__)  # stable: scripted sends first at ties
        self.senders = [sender[i] for i in order]
        # sealed a generation at a time (its key warm), numbered and listed in time order
        by_generation: dict[tuple[str, int], list[int]] = {}
        for n, i in enumerate(order):
            by_generation.setdefault((user[i], gen[i]), []).append(n)
        sealed: list[Any] = [None] * len(order)
        for (uid, g), numbers in by_generation.items():
            u = self.account.users[uid]
            for n in numbers:
                i, mid = order[n], f"m{n + 1}"
                sealed[n] = u.seal(mid, app[i], mid.encode(), at[i], g)
        self.sealed = sealed
        self._scripted.clear()

    # ------------------------------------------------------------ scripted events
    def perform(self, e: Event) -> None:
        """Carry out one timeline event; a refusal by the protocol is recorded."""
        b, acc, now = self.behaviours, self.account, self.env.now
        person = self.people.get(e.user or "")
        if e.action == "compromise_ea_device":
            b.attempt(EA_USER, e.action, lambda: self.adversaries.compromise_ea(str(e.device), now))
            return
        if e.action == "revoke_ea_device":
            others = [d for d in self._confirmed_ea_devices() if d != e.device] if acc.ea else []
            by = e.by or (others[0] if others else None)

            def revoke() -> None:
                if by is None:
                    raise ProtocolError("no other confirmed EA device is with the admins to sign it")
                if acc.ea is not None and by in acc.ea.devices and not acc.ea.in_hand(by):
                    raise ProtocolError(f"EA device {by} is not with the admins")
                acc.revoke_ea_device(by, str(e.device), now)
            b.attempt(EA_USER, e.action, revoke)
            self._ea_changed()
            return
        assert person is not None and e.user is not None
        if e.action == "send":
            b.send(e.user, str(e.app), e.to)
            return
        if e.user not in acc.users:
            acc.log.add(now, e.user, "refused", e.device, detail=f"{e.action}: user has no device yet")
            return
        u, user = acc.users[e.user], e.user
        if e.by in u.devices and u.devices[e.by].kind == "physical" and not b.usable(person, e.by):
            acc.log.add(now, e.user, "refused", e.by, detail=f"{e.action}: {e.by} is not in the user's hands")
            return

        def run() -> Any:
            match e.action:
                case "approve":
                    return b.approve(person, str(e.by))
                case "server_add_device":
                    return b.server_device(person, str(e.name))
                case "mitm":
                    return self.adversaries.arm_mitm(user, str(e.device), now)
                case "leak_backup":
                    return self.adversaries.leak_backup(user, str(e.device), now)
                case "revoke" if e.by in ("web", "admin", "self"):
                    return u.revoke_unsigned([str(e.device)], now, str(e.by))
                case "revoke":
                    if e.by is None:
                        raise ProtocolError("revoke needs by: a device, or web/admin/self")
                    return u.revoke(e.by, [str(e.device)], now)
                case "lose" | "steal" | "wipe" | "decommission":
                    cause = {"lose": "lost", "steal": "stolen", "wipe": "wiped",
                             "decommission": "decommissioned"}[e.action]
                    return b.go(person, str(e.device), cause)
                case "online" | "offline":
                    return person.devices[str(e.device)].schedule.set(now, e.action == "online")
                case "create_backup_key":
                    return b.create_backup(person, str(e.by), e.name or b.fresh_name(person, "backup"))
                case "paper_lost":
                    return b.paper_lost(person, str(e.device))
                case "recover_backup":
                    name = e.by or next(iter(person.papers), None)
                    if name is None or name not in person.papers:
                        raise ProtocolError("the user holds no backup-key string")
                    return acc.recover_with_backup(user, person.papers[name], str(e.device), now)
                case "enroll_escrow":
                    return acc.enroll_escrow(user, str(e.by), now)
                case "escrow_recover":
                    ea = e.by or b._ea_device_for(person)
                    if ea is None:
                        raise ProtocolError("no available EA device holds the escrow generation")
                    return acc.escrow_recover(user, ea, str(e.device), now)
                case "rotate":
                    return u.rotate(str(e.by), now)
            raise ProtocolError(f"unknown action {e.action}")

        try:
            b.attempt(e.user, e.action, run)
        except KeyError as exc:
            acc.log.add(now, e.user, "refused", e.device, detail=f"{e.action}: unknown device {exc}")
        b.notify(person)

    # ------------------------------------------------------------ running
    def run(self) -> Result:
        # The run builds many long-lived objects and few reference cycles: pausing the
        # cyclic garbage collector saves its repeated scans; it resumes afterwards.
        paused = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.scenario.horizon)
            self._seal_sent()
            return build_result(self)
        finally:
            self.env.close()
            if paused:
                gc.enable()
