"""Duties a person's devices take up when something changes (docs/model.md, *Revocation*
and *Escrow*): the first suitable device in hand to come online rotates the per-user key
after an unsigned revocation, re-keys the escrow device after the escrow admins rotated,
and enrols in escrow once the person accepted it. Also the person's acceptance of escrow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .people import Person, Proc, World
from .recovery import check_stranded


def take_up_duties(world: World, person: Person) -> None:
    """Start a process for each duty now pending and not yet waited for."""
    u = world.protocol_user(person)
    if u is None:
        return
    acc = world.account
    esc = acc.escrow_device(person.name) if acc.ea else None
    if u.stale:
        _duty(world, person, "rotate", lambda: world.devices_in_hand(person),
              lambda by: u.rotate(by, world.now), lambda: u.stale)
    if u.escrow_stale and esc is not None:
        _duty(world, person, "escrow re-key",
              lambda: [n for n in world.devices_in_hand(person) if n in u.approval_class(esc.name)],
              lambda by: acc.rekey_escrow(person.name, by, world.now),
              lambda: u.escrow_stale)
    if person.escrow_accepted and esc is None and acc.ea is not None:
        _duty(world, person, "escrow enrolment", lambda: world.devices_in_hand(person),
              lambda by: acc.enroll_escrow(person.name, by, world.now),
              lambda: acc.escrow_device(person.name) is None)


def _duty(world: World, person: Person, what: str, candidates: Callable[[], list[str]],
          act: Callable[[str], Any], pending: Callable[[], bool]) -> None:
    if what not in person.duties:
        person.duties.add(what)
        world.env.process(_do_duty(world, person, what, candidates, act, pending))


def _do_duty(world: World, person: Person, what: str, candidates: Callable[[], list[str]],
             act: Callable[[str], Any], pending: Callable[[], bool]) -> Proc:
    by = yield from world.wait_online(person, candidates)
    person.duties.discard(what)
    if by is not None and pending():
        world.attempt(person.name, what, lambda: act(by))
        if not pending():  # done; a refused duty waits for the next change, not this instant
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
