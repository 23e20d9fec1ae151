"""Notes on a valid scenario: what it will do that its author may not expect. Not errors:
``dmesim run`` prints them before it starts, and the summary lists them."""

from __future__ import annotations

from .durations import sample_mean
from .schema import Scenario


def notes(s: Scenario) -> list[str]:
    """One sentence per surprise: today, users whose later devices nobody will approve."""
    approving = {e.user for e in s.timeline if e.action == "approve"}
    out = []
    for u in s.users:
        names = u.names()
        # (a replacement alone has no older device in hand to approve it anyway)
        if len(u.devices) > 1 and s.behaviour_of(u).approval is None and not approving & set(names):
            who = u.name if len(names) == 1 else f"{u.name} ({len(names)} people)"
            out.append(f"{who}: nobody will approve a later device (no behaviour.approval and no "
                       "scripted approve), so each reads only data from its own joining on")
    return out


def size(s: Scenario) -> dict[str, float]:
    """What a run of ``s`` will hold, before it starts: people, their first devices, and the
    message copies its drawn traffic sends on average (a mail to someone else is two
    copies: theirs and the sender's own; a copy for someone with no device yet is not sent,
    so this is an upper estimate)."""
    messages = 0.0
    people = s.people()
    for name, u in people.items():
        traffic = s.traffic_of(u)
        if traffic.voicemail is not None:
            messages += s.horizon / max(sample_mean(traffic.voicemail.every), 1e-9)
        if traffic.mail is not None:
            to = traffic.mail.to
            others = (1.0 if not isinstance(to, list) else  # a group of correspondents
                      sum(r != name for r in to) / len(to) if to else 0.0)
            messages += (1 + others) * s.horizon / max(sample_mean(traffic.mail.every), 1e-9)
    return {"people": len(people), "devices": sum(len(u.devices) for u in people.values()),
            "messages": round(messages)}
