"""Notes on a valid scenario: what it will do that its author may not expect. Not errors:
``dmesim run`` prints them before it starts, and the summary lists them."""

from __future__ import annotations

from .schema import Scenario


def notes(s: Scenario) -> list[str]:
    """One sentence per surprise: today, a user whose later devices nobody will approve."""
    approving = {e.user for e in s.timeline if e.action == "approve"}
    out = []
    for u in s.users:
        # (a replacement alone has no older device in hand to approve it anyway)
        if len(u.devices) > 1 and s.behaviour_of(u).approval is None and u.name not in approving:
            out.append(f"{u.name}: nobody will approve a later device (no behaviour.approval and no "
                       "scripted approve), so each reads only data from its own joining on")
    return out
