"""The escrow admins (docs/model.md §10 Escrow): they enable escrow with a first EA device
and the EA backup key (kept on paper), add EA devices over time and approve them from a
confirmed one (the EA chain is in lockdown), lose devices, and revoke the lost ones, which
rotates the EA generation: members' escrow devices then need a re-key.
"""

from __future__ import annotations

from functools import partial

from ..model import EA_USER
from ..scenario import EA_BACKUP, Dist, Escrow
from .attacks import compromise_ea_later
from .people import Proc, World
from .recovery import check_stranded
from .streams import Draws, name_key


def escrow_admins(world: World, spec: Escrow, draws: Draws) -> Proc:
    """The admins' life: escrow enabled at ``spec.enabled_at``, devices joining and going."""
    devices = [d for admin in spec.admins for d in admin.devices]

    def draw(name: str, dist: Dist) -> float:
        return draws.draw(dist, "escrow_admins", name_key(name))

    joins = [max(spec.enabled_at, draw(d.name, d.joins_at)) for d in devices]
    joins[0] = spec.enabled_at  # the first EA device enables escrow: it joins then
    yield world.env.timeout(spec.enabled_at)
    first = devices[0]
    world.account.enable_escrow(first.name, world.now, EA_BACKUP)  # its string stays on paper
    world.labels[(EA_USER, first.name)] = first.kind
    world.labels[(EA_USER, EA_BACKUP)] = "backup"
    if spec.ea_backup_paper_lost is not None:
        lost = draw(EA_BACKUP, spec.ea_backup_paper_lost)
        world.later(lost, partial(ea_device_gone, world, EA_BACKUP, "paper_lost"))
    compromise_ea_later(world, draws, first.name)
    now = world.now
    for d, at in zip(devices, joins, strict=True):
        if d is not first:
            world.later(max(0.0, at - now), partial(ea_device_joins, world, d.name, d.kind))
        if d.fate is not None:
            world.later(max(0.0, max(at, now) + draw(d.name, d.fate.after) - now),
                        partial(ea_device_gone, world, d.name, d.fate.kind))


def confirmed_ea_devices(world: World) -> list[str]:
    """EA devices still with the admins that may approve and revoke (lockdown)."""
    acc = world.account
    ea = acc.ea
    assert ea is not None
    return [d.name for d in ea.active() if d.kind == "ea" and d.name in ea.chain.confirmed
            and acc.available(EA_USER, d.name)]


def ea_device_joins(world: World, name: str, kind: str) -> None:
    """A new EA device: approved from a confirmed one, or else recovered with the EA
    backup key when no confirmed EA device is left with the admins."""
    acc = world.account
    acc.add_ea_device(name, world.now)
    world.labels[(EA_USER, name)] = kind
    approvers = confirmed_ea_devices(world)
    if approvers:
        world.attempt(EA_USER, "approve EA device",
                      lambda: acc.approve_ea_devices(approvers[0], world.now))
    elif acc.available(EA_USER, EA_BACKUP):
        # the admins type the EA backup key into the new device, whose BatchApprove
        # (signed by the backup) boxes it what the backup holds
        text = acc.backup_strings[(EA_USER, EA_BACKUP)]
        world.attempt(EA_USER, "recover EA with its backup key",
                      lambda: acc.recover_with_backup(EA_USER, text, name, world.now))
        revoke_gone_ea_devices(world)
        ea_changed(world)


def ea_device_gone(world: World, name: str, cause: str) -> None:
    ea = world.account.ea
    assert ea is not None
    if name not in ea.devices:  # the fate falls before the device joined
        return
    if cause == "stolen":
        world.adversaries.compromise_ea(name, world.now)
    ea.gone(name, world.now, cause)
    revoke_gone_ea_devices(world)


def revoke_gone_ea_devices(world: World) -> None:
    """From a confirmed EA device still with the admins, revoke every EA device lost,
    stolen or decommissioned and not yet revoked (each revocation rotates the EA
    generation, so members' escrow devices need a re-key)."""
    ea = world.account.ea
    assert ea is not None
    gone = [d.name for d in ea.active() if d.kind == "ea" and d.gone_cause in ("lost", "stolen", "decommissioned")]
    by = confirmed_ea_devices(world)
    if not gone or not by:
        return
    for name in gone:
        world.attempt(EA_USER, "revoke EA device",
                      partial(world.account.revoke_ea_device, by[0], name, world.now))
    ea_changed(world)


def ea_changed(world: World) -> None:
    """The EA chain changed: members take up new duties (an escrow re-key), and a stranded
    one may now recover through escrow (the admins have a device again)."""
    for person in world.people.values():
        world.notify(person)
        check_stranded(world, person)
