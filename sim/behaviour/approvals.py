"""Approvals as people make them (docs/model.md §6 Approval): when a device joins, the
older devices in hand show a prompt; the person acts on it (or never), from the first of
them to come online, after a delay. An approval is a BatchApprove by that device: it
boxes every generation the approver knows to the devices it covers. Where the server
forked the chain to slip in its own device, the person may compare fingerprints and
catch it.
"""

from __future__ import annotations

from .people import Person, Proc, World


def approvers(world: World, person: Person, new: str) -> list[str]:
    """Older devices in hand whose approval class does not yet include ``new`` (none once
    ``new`` is revoked or has left the person's hands: nobody approves a lost device)."""
    u = world.account.user(person.name)
    if u.devices[new].revoked or u.devices[new].gone_at is not None:
        return []
    seq = u.devices[new].seq
    cls = u.approval_class(new)
    older = [d.name for d in u.active() if d.seq < seq and world.in_hand(person, d.name)]
    assert person.behaviour.approval is not None
    if person.behaviour.approval.approver == "oldest":
        older = older[:1]
    return [n for n in older if n not in cls]


def prompt(world: World, person: Person, new: str) -> Proc:
    """Older devices show a prompt to approve ``new``; the person acts on it (or never)."""
    policy = person.behaviour.approval
    assert policy is not None
    if not person.chance(policy.probability, "approval"):
        world.account.log.add(world.now, person.name, "prompt_ignored", new)
        return
    while True:
        approver = yield from world.wait_online(person, lambda: approvers(world, person, new))
        if approver is None:
            return
        yield world.env.timeout(person.draw(policy.delay, "approval"))
        if approver in approvers(world, person, new):  # not approved meanwhile, still in hand
            approve(world, person, approver)


def approve(world: World, person: Person, approver: str) -> None:
    """A BatchApprove by ``approver`` - unless the server shows it a forked chain, in which
    case the person may compare fingerprints and catch it."""
    u = world.account.user(person.name)
    seq = u.devices[approver].seq
    adversaries = world.adversaries
    for (user, device), fork in sorted(adversaries.forks.items()):
        if user == person.name and u.devices[device].seq > seq and not u.devices[device].revoked:
            policy = person.behaviour.approval
            checked = policy is not None and person.chance(policy.fingerprint_check, "fingerprint")
            if adversaries.approve_on_fork(fork, approver, world.now, checked):
                world.notify(person)
                return  # the approval went to the attacker; the real device gets nothing
    world.attempt(person.name, "approve", lambda: u.batch_approve(approver, world.now))
    world.notify(person)
