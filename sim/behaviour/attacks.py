"""When adversaries strike (docs/model.md §13 Adversaries): a malicious server that adds
devices or intercepts approvals, backup-key strings that leak, an EA device compromised.
What each adversary then holds and reads is the model's (``sim.model.Adversaries``); a
thief is recorded when a device's fate is ``stolen`` (sim.behaviour.devices).
"""

from __future__ import annotations

from functools import partial

from ..scenario import Dist
from .people import Person, Proc, World
from .revocation import revoke_later
from .streams import Draws


def mitm_on_join(world: World, person: Person, name: str) -> None:
    """The server may intercept the approval of a device that is not the user's first."""
    p = world.attacks.mitm_probability
    if len(world.account.user(person.name).devices) > 1 and p and person.chance(p, "mitm"):
        world.adversaries.arm_mitm(person.name, name, world.now)


def server_device(world: World, person: Person, name: str) -> None:
    """The server adds a device of its own; the user may notice and revoke it."""
    world.adversaries.server_device(person.name, name, world.now)
    world.labels[(person.name, name)] = "server"
    notice = person.behaviour.notice
    if notice is not None and person.chance(notice.probability, "notice"):
        world.env.process(revoke_later(world, person, name, person.draw(notice.delay, "notice"),
                                       notice.signed))


def server_devices(world: World, person: Person, every: Dist) -> Proc:
    """The server adds a device of its own to this user, again and again."""
    while True:
        yield world.env.timeout(person.draw(every, "server"))
        if world.protocol_user(person) is not None:
            server_device(world, person, world.fresh_name(person, "server"))


def leak_later(world: World, person: Person, backup: str) -> None:
    """A backup key's string may leak, some time after it was written down."""
    leak = world.attacks.backup_leak
    if leak is not None and person.chance(leak.probability, "leak"):
        world.later(person.draw(leak.after, "leak"), partial(_leak, world, person.name, backup))


def _leak(world: World, user: str, backup: str) -> None:
    world.attempt(user, "leak", lambda: world.adversaries.leak_backup(user, backup, world.now))


def compromise_ea_later(world: World, admins: Draws, device: str) -> None:
    """The first EA device may be compromised, some time after escrow is enabled."""
    attack = world.attacks.ea_compromise
    if attack is not None and admins.chance(attack.probability, "ea_attack"):
        world.later(admins.draw(attack.after, "ea_attack"), partial(_compromise_ea, world, device))


def _compromise_ea(world: World, device: str) -> None:
    world.adversaries.compromise_ea(device, world.now)
