"""Devices over time (docs/model.md §5 Devices, §14 Behaviour): a device joins (a DeviceAdd:
it reads new data at once), comes online in sessions, meets its fate (lost, stolen, wiped,
decommissioned) and may be replaced; after a loss the person may revoke it.
"""

from __future__ import annotations

from functools import partial

from ..scenario import DeviceSpec, Sessions
from . import approvals, attacks
from .online import OnlineSchedule
from .people import DeviceState, Person, World
from .recovery import check_stranded
from .revocation import revoke_later
from .streams import name_key


def joins(world: World, person: Person, spec: DeviceSpec, name: str, start: float,
          replacement: int = 1) -> None:
    """Device ``name`` (of ``spec``; its ``replacement``-th) joins at ``start``, or now if past."""
    world.joins_at[(person.name, name)] = max(start, world.now)
    world.later(max(0.0, start - world.now), partial(join, world, person, spec, name, replacement))


def join(world: World, person: Person, spec: DeviceSpec, name: str, replacement: int) -> None:
    pattern = spec.sessions()
    if isinstance(pattern, Sessions):
        rng = person.stream("sessions", name_key(spec.name), replacement)
        schedule = OnlineSchedule(world.now, "sessions",
                                  lambda n: pattern.every.sample_many(rng, n),
                                  lambda n: pattern.length.sample_many(rng, n))
    else:
        schedule = OnlineSchedule(world.now, "never" if pattern == "never" else "always")
    person.devices[name] = DeviceState(name, spec, schedule, replacement)
    u = world.account.user(person.name)
    u.add_device(name, world.now)
    world.labels[(person.name, name)] = spec.kind
    attacks.mitm_on_join(world, person, name)
    if len(u.devices) > 1 and person.behaviour.approval is not None:
        world.env.process(approvals.prompt(world, person, name))
    if spec.fate is not None:
        fate(world, person, person.devices[name])
    check_stranded(world, person)
    world.notify(person)


def fate(world: World, person: Person, state: DeviceState) -> None:
    """The device's fate falls after a drawn time, unless it is gone by then."""
    spec = state.spec.fate
    assert spec is not None
    lineage, cause = name_key(state.spec.name), spec.kind  # lineage: the device and its replacements

    def falls() -> None:
        if world.account.user(person.name).devices[state.name].gone_at is None:
            go(world, person, state.name, cause)
    world.later(person.draw(spec.after, "fates", lineage), falls)


def go(world: World, person: Person, name: str, cause: str) -> None:
    """A device leaves legitimate hands (or loses its keys), by its fate or scripted; the
    first time, its ``replacement`` joins later, and the person may revoke it."""
    u = world.account.user(person.name)
    if cause == "stolen":
        world.adversaries.thief(person.name, name, world.now)
    first = u.devices[name].gone_at is None
    u.gone(name, world.now, cause)
    person.papers.pop(name, None)  # a backup key lost or stolen: its string is gone with it
    state = person.devices.get(name)
    if first and state is not None and (rep := state.spec.replacement) is not None:
        lineage = name_key(state.spec.name)
        if person.chance(rep.probability, "fates", lineage):
            n = state.replacement + 1
            start = world.now + person.draw(rep.after, "fates", lineage)
            joins(world, person, state.spec, f"{state.spec.name}#{n}", start, n)
    rev = person.behaviour.revocation
    if rev is not None and cause != "wiped" and person.chance(rev.probability, "revocation"):
        world.env.process(revoke_later(world, person, name, person.draw(rev.delay, "revocation"),
                                       rev.signed))
    check_stranded(world, person)
    world.notify(person)
