"""Duties a person's devices take up when something changes (docs/model.md §7
Revocation, §10 Escrow): the first suitable device in hand to come online re-keys the escrow device
after the escrow admins rotated, rotates the per-user key after an unsigned revocation,
and enrols in escrow once the person accepted it. Also the person's acceptance of escrow.

When several duties are pending, the device does them in that fixed order (:data:`ORDER`):
an escrow re-key ends in a rotation of its own, so a rotation still pending is done by it.
A device the person uses for a scripted action is online at that instant, so its duties
run then too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from .people import Person, Proc, World
from .recovery import check_stranded

ORDER = ("escrow re-key", "rotate", "escrow enrolment")


class Duty(NamedTuple):
    what: str
    candidates: Callable[[], list[str]]  # the devices in hand that may do it
    act: Callable[[str], Any]            # done by that device
    pending: Callable[[], bool]


def pending_duties(world: World, person: Person) -> list[Duty]:
    """The person's pending duties, in :data:`ORDER`."""
    u = world.protocol_user(person)
    if u is None:
        return []
    acc = world.account
    esc = acc.escrow_device(person.name) if acc.ea else None
    duties = []
    if u.escrow_stale and esc is not None:
        duties.append(Duty(
            "escrow re-key",
            lambda: [n for n in world.devices_in_hand(person) if n in u.approval_class(esc.name)],
            lambda by: acc.rekey_escrow(person.name, by, world.now), lambda: u.escrow_stale))
    if u.stale:
        duties.append(Duty("rotate", lambda: world.devices_in_hand(person),
                           lambda by: u.rotate(by, world.now), lambda: u.stale))
    if person.escrow_accepted and esc is None and acc.ea is not None:
        duties.append(Duty("escrow enrolment", lambda: world.devices_in_hand(person),
                           lambda by: acc.enroll_escrow(person.name, by, world.now),
                           lambda: acc.escrow_device(person.name) is None))
    return duties


def take_up_duties(world: World, person: Person) -> None:
    """Wait for a device to do the pending duties, unless a wait is already on."""
    if not person.on_duty and pending_duties(world, person):
        person.on_duty = True
        world.env.process(_do_duties(world, person))


def _do_duties(world: World, person: Person) -> Proc:
    def candidates() -> list[str]:
        able = {n for duty in pending_duties(world, person) for n in duty.candidates()}
        return [n for n in world.devices_in_hand(person) if n in able]

    by = yield from world.wait_online(person, candidates)
    person.on_duty = False
    if by is None:
        return
    done = False
    for duty in pending_duties(world, person):
        if duty.pending() and by in duty.candidates():
            world.attempt(person.name, duty.what, partial(duty.act, by))
            done = done or not duty.pending()
    if done:  # a refused duty waits for the next change, not this instant
        check_stranded(world, person)
        world.notify(person)


def accept_escrow(world: World, person: Person, enabled_at: float) -> Proc:
    """The person accepts escrow (or never), some time after it is enabled; enrolling is
    then a duty."""
    spec = person.behaviour.escrow
    assert spec is not None
    if not person.chance(spec.accept_probability, "escrow"):
        return
    yield world.env.timeout(max(0.0, enabled_at - world.now) + person.draw(spec.accept_delay, "escrow"))
    person.escrow_accepted = True
    world.notify(person)
