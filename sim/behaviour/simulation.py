"""One replication (docs/architecture.md): the SimPy environment, the protocol's account,
the people and their processes, wired together for one (scenario, seed, rep); running it
returns a :class:`~sim.behaviour.record.RunRecord`.

Sending changes no protocol state, so messages are sealed after the run, a generation at
a time: the same seals to the same keys as during the run, with each generation's key warm.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import simpy

from ..model import Account, Adversaries, Crypto, Sealed
from ..scenario import Scenario
from . import devices, duties, timeline, traffic
from .attacks import server_devices
from .escrow_admins import escrow_admins
from .people import Person, World
from .record import DECRYPT, Copies, Groups, RunRecord
from .recovery import backup_keys
from .streams import Draws, key_entropy, name_key, streams


class Simulation:
    """One simulated history of ``scenario`` for (``seed``, ``rep``)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, rep: int = 0,
                 decrypt: str = "messages") -> None:
        if decrypt not in DECRYPT:
            raise ValueError(f"decrypt must be one of {', '.join(DECRYPT)}, not {decrypt!r}")
        self.scenario = s = scenario
        self.seed = s.seed if seed is None else seed
        self.rep = rep
        self.decrypt = decrypt
        crypto = Crypto(key_entropy(self.seed, rep), s.post_quantum, s.argon2.cost())
        account = Account(crypto, s.account.members_may_create_backup_keys)
        # every person, in the order of the file: an entry with count stands for many, each
        # with their own streams (keyed by their name); they share the entry's settings
        self.specs = s.people()
        people = {}
        for u in s.users:
            behaviour, traffic_spec = s.behaviour_of(u), s.traffic_of(u)
            for name in u.names():
                people[name] = Person(streams(self.seed, rep, name_key(name)), name, behaviour, traffic_spec)
        self.world = World(simpy.Environment(), account, Adversaries(account), s.adversary, people,
                           planned_names(s))
        self.world.take_up_duties = partial(duties.take_up_duties, self.world)
        self._start()

    def _start(self) -> None:
        """Every device's join, the escrow admins, each person's processes, the script."""
        world, s = self.world, self.scenario
        env, people = world.env, world.people
        for name, u in self.specs.items():
            person = people[name]
            for spec in u.devices:
                start = person.draw(spec.joins_at, "fates", name_key(spec.name))
                devices.joins(world, person, spec, spec.name, start)
        if s.account.escrow is not None:
            env.process(escrow_admins(world, s.account.escrow, Draws(streams(self.seed, self.rep))))
        for person in people.values():
            if person.behaviour.backup_keys is not None and person.behaviour.backup_keys.count:
                env.process(backup_keys(world, person))
            if person.behaviour.escrow is not None and s.account.escrow is not None:
                env.process(duties.accept_escrow(world, person, s.account.escrow.enabled_at))
            if s.adversary.server_devices is not None:
                env.process(server_devices(world, person, s.adversary.server_devices))
        if s.timeline:
            env.process(timeline.script(world, s.timeline, s.horizon))

    def run(self, progress: Callable[[float], object] | None = None) -> RunRecord:
        """Run to the horizon (nothing due at the horizon happens), then seal the messages
        (or their generations' probes). ``progress`` is told the simulated time now and
        then (every 1,000 events) and at the horizon."""
        env, horizon = self.world.env, self.scenario.horizon
        events = 0
        while env.peek() < horizon:
            env.step()
            events += 1
            if progress is not None and events % 1000 == 0:
                progress(env.now)
        if progress is not None:
            progress(horizon)
        world = self.world
        copies = traffic.drawn(world.people.values(), world.account.users, self.scenario.horizon,
                               world.sends, self.scenario.groups())
        groups = copies.groups()
        sealed, probes = self._seal(copies, groups)
        return RunRecord(self.scenario, self.seed, self.rep, world.account, world.adversaries,
                         world.labels, copies, groups, self.decrypt, sealed, probes, events)

    def _seal(self, copies: Copies, groups: Groups) -> tuple[list[Sealed], dict[tuple[str, int, str], Sealed]]:
        """Every copy sent (scripted or drawn, in time order, scripted sends first at equal
        times) sealed for real, a generation at a time; or, deciding per generation, one
        probe per (user, generation, app) that has copies, sealed at its first send."""
        users = self.world.account.users
        sealed: list[Sealed | None] = [None] * len(copies.at) if self.decrypt == "messages" else []
        probes: dict[tuple[str, int, str], Sealed] = {}
        for members in groups.members:
            user, g, app = key = copies.key(members[0])
            u = users[user]
            if self.decrypt == "generations":
                probe = probe_id(*key)
                probes[key] = u.seal(probe, app, probe.encode(), float(copies.at[members[0]]), g)
                continue
            for n in members.tolist():
                mid = f"m{n + 1}"
                sealed[n] = u.seal(mid, app, mid.encode(), float(copies.at[n]), g)
        return sealed, probes  # type: ignore[return-value]  # every copy is sealed, or none


def probe_id(user: str, generation: int, app: str) -> str:
    """The id of the probe that stands for ``user``'s messages of ``generation`` and ``app``."""
    return f"probe:{user}/{generation}/{app}"


def planned_names(s: Scenario) -> dict[str, set[str]]:
    """Per person, the device names the scenario gives (their devices, their scripted
    events' names): a name the simulation makes up must not take one before its device
    joins. The people of one entry share a set until the timeline names one of theirs."""
    names: dict[str, set[str]] = {}
    for u in s.users:
        own = {d.name for d in u.devices}
        names.update(dict.fromkeys(u.names(), own))
    for e in s.timeline:
        if e.name is not None and e.user in names:
            names[e.user] = names[e.user] | {e.name}
    return names
