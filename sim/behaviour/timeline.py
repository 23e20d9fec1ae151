"""The scripted timeline (docs/model.md §14 Behaviour): each event of the scenario's
``timeline`` is carried out at its time, before what the behaviour schedules later at the
same instant. An action the protocol refuses is recorded in the log as ``refused``, with
the reason, and the run goes on.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..model import EA_USER, PHYSICAL, ProtocolError
from ..scenario import Event
from . import approvals, attacks, devices, recovery
from .escrow_admins import confirmed_ea_devices, ea_changed
from .people import Person, Proc, World
from .record import Send

CAUSES = {"lose": "lost", "steal": "stolen", "wipe": "wiped", "decommission": "decommissioned"}


def script(world: World, timeline: list[Event], horizon: float) -> Proc:
    """A process that, when it starts, makes one timeout per event, in timeline order (so
    at one instant the script acts before what is scheduled later)."""
    for event in timeline:
        if event.at < horizon:  # the run stops at the horizon before anything due then
            world.later(event.at, partial(perform, world, event))
    yield from ()


def perform(world: World, e: Event) -> None:
    """Carry out one timeline event; a refusal by the protocol is recorded."""
    acc, now = world.account, world.now
    if e.action == "compromise_ea_device":
        world.attempt(EA_USER, e.action, lambda: world.adversaries.compromise_ea(str(e.device), now))
        return
    if e.action == "revoke_ea_device":
        _revoke_ea_device(world, e)
        return
    person = world.people[str(e.user)]
    if e.action == "send":
        send(world, person.name, str(e.app), e.to)
        return
    if person.name not in acc.users:
        acc.log.add(now, person.name, "refused", e.device, detail=f"{e.action}: user has no device yet")
        return
    refusal = _not_possible(world, person, e)
    if refusal is not None:
        device, why = refusal
        acc.log.add(now, person.name, "refused", device, detail=f"{e.action}: {why}")
        return
    for name in _used(e):  # the person uses the device now: it is online at this instant
        if name in person.devices:
            person.devices[name].schedule.used(now)
    try:
        world.attempt(person.name, e.action, partial(_act, world, person, e))
    except KeyError as exc:
        acc.log.add(now, person.name, "refused", e.device, detail=f"{e.action}: unknown device {exc}")
    world.notify(person)


def _revoke_ea_device(world: World, e: Event) -> None:
    """An EA device revoked by another one still with the admins (by default the first)."""
    acc, now = world.account, world.now
    others = [d for d in confirmed_ea_devices(world) if d != e.device] if acc.ea else []
    by = e.by or (others[0] if others else None)

    def revoke() -> None:
        if by is None:
            raise ProtocolError("no other confirmed EA device is with the admins to sign it")
        if acc.ea is not None and by in acc.ea.devices and not acc.available(EA_USER, by):
            raise ProtocolError(f"EA device {by} is not with the admins")
        acc.revoke_ea_device(by, str(e.device), now)
    world.attempt(EA_USER, e.action, revoke)
    ea_changed(world)


# The fields of each action that name one of the user's devices (for revoke, ``by`` may
# also be web/admin/self; for recover_backup, ``by`` names a backup key's paper).
DEVICE_FIELDS = {"approve": ("by",), "rotate": ("by",), "create_backup_key": ("by",),
                 "enroll_escrow": ("by",), "revoke": ("device", "by"), "recover_backup": ("device",),
                 "escrow_recover": ("device",), "paper_lost": ("device",), "leak_backup": ("device",),
                 "lose": ("device",), "steal": ("device",), "wipe": ("device",),
                 "decommission": ("device",), "online": ("device",), "offline": ("device",),
                 "mitm": ("device",)}


def _day(t: float) -> str:
    return f"day {t:g}"


def _not_possible(world: World, person: Person, e: Event) -> tuple[str, str] | None:
    """(device, why) when the event names a device that is not there yet, or has the user
    act with a physical device no longer in their hands; None when the protocol decides."""
    u = world.account.users[person.name]
    for field in DEVICE_FIELDS.get(e.action, ()):
        name = getattr(e, field)
        if name is None or (field == "by" and name in ("web", "admin", "self")):
            continue
        if name not in u.devices:
            joins = world.joins_at.get((person.name, name))
            if joins is not None and joins > world.now:
                return name, f"{name} has not joined yet (joins on {_day(joins)})"
            return name, f"{person.name} has no device {name!r} (yet)"
        d = u.devices[name]
        if field == "by" and d.kind == PHYSICAL and not world.in_hand(person, name):
            why = (f"revoked on {_day(d.revoked_at)}" if d.revoked_at is not None
                   else f"{d.gone_cause} on {_day(d.gone_at)}" if d.gone_at is not None else "without keys")
            return name, f"{name} is not in the user's hands ({why})"
    return None


def _used(e: Event) -> list[str]:
    """The devices a scripted action is done on: the signer, or the one a string is typed into."""
    if e.action in ("approve", "revoke", "rotate", "create_backup_key", "enroll_escrow"):
        return [e.by] if e.by is not None else []
    if e.action in ("recover_backup", "escrow_recover"):
        return [e.device] if e.device is not None else []
    return []


def _act(world: World, person: Person, e: Event) -> Any:
    acc, now, user = world.account, world.now, person.name
    u = acc.users[user]
    match e.action:
        case "approve":
            return approvals.approve(world, person, str(e.by))
        case "server_add_device":
            return attacks.server_device(world, person, str(e.name))
        case "mitm":
            return world.adversaries.arm_mitm(user, str(e.device), now)
        case "leak_backup":
            return world.adversaries.leak_backup(user, str(e.device), now)
        case "revoke" if e.by in ("web", "admin", "self"):
            return u.revoke_unsigned([str(e.device)], now, str(e.by))
        case "revoke":
            if e.by is None:
                raise ProtocolError("revoke needs by: a device, or web/admin/self")
            return u.revoke(e.by, [str(e.device)], now)
        case "lose" | "steal" | "wipe" | "decommission":
            return devices.go(world, person, str(e.device), CAUSES[e.action])
        case "online" | "offline":
            return person.devices[str(e.device)].schedule.set(now, e.action == "online")
        case "create_backup_key":
            return recovery.create_backup(world, person, str(e.by),
                                          e.name or world.fresh_name(person, "backup"))
        case "paper_lost":
            return recovery.lose_paper(world, person, str(e.device))
        case "recover_backup":
            name = e.by or next(iter(person.papers), None)
            if name is None or name not in person.papers:
                raise ProtocolError("the user holds no backup-key string")
            return acc.recover_with_backup(user, person.papers[name], str(e.device), now)
        case "enroll_escrow":
            return acc.enroll_escrow(user, str(e.by), now)
        case "escrow_recover":
            ea = e.by or recovery.ea_device_for(world, person)
            if ea is None:
                raise ProtocolError("no available EA device holds the escrow generation")
            return acc.escrow_recover(user, ea, str(e.device), now)
        case "rotate":
            return u.rotate(str(e.by), now)
    raise ProtocolError(f"unknown action {e.action}")


def send(world: World, sender: str, app: str, to: str | None) -> None:
    """A scripted message now, to the latest generation: mail to the recipient and the
    sender's own copy. A generation a later event of this instant creates (a revocation
    after the send, say) is too late."""
    users = world.account.users
    for user in ([to] if to is not None and to != sender and to in users else []) + (
            [sender] if sender in users else []):
        world.sends.append(Send(world.now, user, len(users[user].generations), app, sender))
