"""Backup keys and recovery (docs/model.md §9 Backup keys, §10 Escrow): people write
backup keys down (and may lose the paper); a person whose devices in hand lack
generations that a backup key or their escrow device still holds types the string into
their newest device, or asks the escrow admins to recover it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..model import BACKUP, EA_USER, ESCROW
from .attacks import leak_later
from .people import Person, Proc, World


def backup_keys(world: World, person: Person) -> Proc:
    """The person's ``backup_keys`` behaviour: make ``count`` keys from a device in hand."""
    spec = person.behaviour.backup_keys
    assert spec is not None
    yield world.env.timeout(person.draw(spec.at, "backup"))
    chosen = spec.by

    def makers() -> list[str]:
        return [d for d in world.devices_in_hand(person) if chosen is None or d == chosen]

    while (chosen not in person.devices) if chosen else not person.devices:
        yield world.wait_change(person)  # the device that makes them has not joined yet
    for _ in range(spec.count):
        by = yield from world.wait_online(person, makers)
        if by is None:
            world.account.log.add(world.now, person.name, "refused", chosen, detail=(
                f"create backup key: {chosen} is no longer in the user's hands" if chosen
                else "create backup key: no device is left in the user's hands"))
            return
        lost = spec.paper_lost if person.chance(spec.paper_lost_probability, "backup") else None
        create_backup(world, person, by, world.fresh_name(person, "backup"), lost)


def create_backup(world: World, person: Person, by: str, name: str, paper_lost: Any = None) -> None:
    """Device ``by`` makes backup key ``name``; the person keeps its string on paper (and
    loses the paper after a ``paper_lost`` draw, when given)."""
    now = world.now
    text = world.attempt(person.name, "create backup key",
                         lambda: world.account.create_backup_key(person.name, by, name, now))
    if text is None:
        return
    person.papers[name] = text
    if paper_lost is not None:
        world.later(person.draw(paper_lost, "backup"), partial(lose_paper, world, person, name))
    leak_later(world, person, name)
    world.notify(person)


def lose_paper(world: World, person: Person, name: str) -> None:
    """The paper with backup key ``name`` is lost (the protocol refuses it for any other
    device)."""
    world.account.user(person.name).gone(name, world.now, "paper_lost")
    person.papers.pop(name, None)


def recovery_gain(world: World, person: Person) -> set[int]:
    """Generations an available backup key or escrow device holds that no device in hand
    does: what recovery would give back."""
    u = world.protocol_user(person)
    if u is None:
        return set()
    extra: set[int] = set()
    for d in u.active():
        if d.kind in (BACKUP, ESCROW) and world.account.available(person.name, d.name):
            extra |= u.boxed(d.name)
    for d in u.active() if extra else ():
        if world.in_hand(person, d.name):
            extra -= u.boxed(d.name)
    return extra


def check_stranded(world: World, person: Person) -> None:
    """Start a recovery if one would give something back and a device is in hand."""
    if person.recovering or not recovery_gain(world, person):
        return
    if not any(world.in_hand(person, d) for d in person.devices):
        return
    person.recovering = True
    world.env.process(recover(world, person))


def recover(world: World, person: Person) -> Proc:
    """Type a backup key that holds a missing generation, else ask the escrow admins if
    the escrow device holds one, on the newest device in hand. If what is missing changed
    meanwhile (a partial recovery, another loss), look again."""
    missing = recovery_gain(world, person)
    try:
        bk, esc = person.behaviour.backup_keys, person.behaviour.escrow
        u = world.account.user(person.name)
        papers = [n for n in person.papers if not u.devices[n].revoked and u.boxed(n) & missing]
        escrow = world.account.escrow_device(person.name)
        if bk is not None and bk.use_when_stranded and papers:
            yield world.env.timeout(person.draw(bk.delay, "recovery"))
            target = newest_in_hand(world, person)
            if target is not None and papers[0] in person.papers:
                text, now = person.papers[papers[0]], world.now
                world.attempt(person.name, "backup recovery", partial(
                    world.account.recover_with_backup, person.name, text, target, now))
        elif (esc is not None and esc.recover_when_stranded and escrow is not None
              and u.boxed(escrow.name) & missing):
            yield world.env.timeout(person.draw(esc.recover_delay, "recovery"))
            target = newest_in_hand(world, person)
            ea = ea_device_for(world, person)
            if target is not None and ea is not None:
                world.attempt(person.name, "escrow recovery", lambda: world.account.escrow_recover(
                    person.name, ea, target, world.now))
    finally:
        person.recovering = False
    world.notify(person)
    if recovery_gain(world, person) != missing:
        check_stranded(world, person)


def newest_in_hand(world: World, person: Person) -> str | None:
    devices = world.devices_in_hand(person)
    return devices[-1] if devices else None


def ea_device_for(world: World, person: Person) -> str | None:
    """An EA device still with the admins that holds the EA generation the person's escrow
    blob is sealed to."""
    acc = world.account
    ea, esc = acc.ea, acc.escrow_device(person.name)
    if ea is None or esc is None or esc.escrow_blob is None:
        return None
    for h in ea.holders(esc.escrow_blob.ea_generation):
        if ea.devices[h].kind != BACKUP and acc.available(EA_USER, h):
            return h
    return None
