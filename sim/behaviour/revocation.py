"""Revocations the user makes later (docs/model.md §7 Revocation): after a device is lost,
stolen or decommissioned, or after they notice a device the server added. Signed from the
first device in hand to come online, or from the web when unsigned or when no device is
left in hand.
"""

from __future__ import annotations

from .people import Person, Proc, World


def revoke_later(world: World, person: Person, name: str, delay: float, signed: bool) -> Proc:
    """Revoke ``name`` after ``delay`` days."""
    yield world.env.timeout(delay)
    u = world.account.user(person.name)
    by = (yield from world.wait_online(person, lambda: world.devices_in_hand(person))) if signed else None
    if u.devices[name].revoked:
        return
    if by is not None:
        world.attempt(person.name, "revoke", lambda: u.revoke(by, [name], world.now))
    else:
        world.attempt(person.name, "revoke", lambda: u.revoke_unsigned([name], world.now, "web"))
    world.notify(person)
