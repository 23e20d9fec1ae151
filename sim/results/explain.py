"""Why a device can or cannot read a message (``dmesim explain``), as a chain of facts
read from a run's tables: its generation, the generation's holders, approvals, when the
last holder vanished, which adversary reads it."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd

from ..model import PHYSICAL


class Tables(Protocol):
    """What explaining reads: a run's tables and summary (a :class:`~sim.results.Result`)."""

    summary: dict[str, Any]

    @property
    def messages(self) -> pd.DataFrame: ...
    @property
    def devices(self) -> pd.DataFrame: ...
    @property
    def generations(self) -> pd.DataFrame: ...
    @property
    def holders(self) -> pd.DataFrame: ...


def _fmt(t: Any) -> str:
    return "—" if t is None or pd.isna(t) else f"day {float(t):g}"


def explain(r: Tables, message_id: str, device: str) -> str:
    """Why ``device`` can or cannot read ``message_id``, as a chain of facts."""
    msgs = r.messages[r.messages["message_id"] == message_id]
    if msgs.empty:
        raise KeyError(f"no message {message_id!r}")
    m = msgs.iloc[0]
    user, g = m["user"], int(m["generation"])
    devs = r.devices[(r.devices["user"] == user) & (r.devices["device"] == device)]
    if devs.empty:
        raise KeyError(f"{user} has no device {device!r}")
    d = devs.iloc[0]
    readers = [x for x in str(m["readable_by"] or "").split(",") if x]
    gen = r.generations[(r.generations["user"] == user) & (r.generations["generation"] == g)].iloc[0]
    hold = r.holders[(r.holders["user"] == user) & (r.holders["generation"] == g)]
    lines = [
        f"Message {message_id} ({m['app']} for {user}, sent {_fmt(m['sent_at'])}) is sealed to "
        f"generation {g}, created by {gen['created_by']} on {_fmt(gen['created_at'])}.",
        f"Status: {m['status']}.",
    ]
    boxed = [int(x) for x in str(d["generations"] or "").split(",") if x]
    lines.append(f"{device} ({d['kind']}, added {_fmt(d['added_at'])}, data access from "
                 f"{_fmt(d['data_access'])}, approved by {d['approved_by'] or 'nobody'}) "
                 f"{'holds a' if g in boxed else 'holds no'} box for generation {g}.")
    if g not in boxed and g < min(boxed or [g + 1]):
        lines.append(f"Generation {g} predates {device}: only an approval by an older device of its "
                     f"class, a backup key or escrow could box it to {device}.")
    if pd.notna(d["revoked_at"]):
        lines.append(f"{device} was revoked on {_fmt(d['revoked_at'])}.")
    if d["lost_cause"] == "server_device":
        lines.append(f"{device} was added by the server: it was never in the user's hands.")
    elif d["lost_cause"] and d["lost_cause"] != "revoked":  # a revocation is told above
        lines.append(f"{device} left the user's hands on {_fmt(d['lost_at'])} ({d['lost_cause']}).")
    lines.append("Holders of generation {}: {}.".format(g, "; ".join(
        f"{h['holder']} ({h['kind']}, boxed {_fmt(h['boxed_at'])} by {h['boxed_by']}, "
        + (f"unavailable since {_fmt(h['unavailable_at'])}: {h['cause']})"
           if pd.notna(h["unavailable_at"]) else "available)")
        for _, h in hold.iterrows()) or "none"))
    if device in readers:
        lines.append(f"{device} decrypts it: it opened its box for generation {g} and the message "
                     "opened with that generation's key.")
    elif d["kind"] != PHYSICAL:
        lines.append(f"{device} is a {d['kind']} key, not a device that reads: "
                     + (f"a device it is recovered onto is given generation {g}." if g in boxed
                        else "recovering it gives no key to this message."))
    else:
        lines.append(f"{device} cannot decrypt it.")
    if m["exposed_to"]:
        for name in str(m["exposed_to"]).split(","):
            w = next((w for w in r.summary.get("adversaries", []) if w["adversary"] == name), None)
            window = "" if w is None else (
                f" (keys compromised {_fmt(w['since'])}, reading new data until "
                f"{_fmt(w['window_end']) if w['window_end'] is not None else 'the end of the run'}; "
                f"holds generations {w['generations']})")
            if w is not None and w["kind"] == "ea_compromise":
                lines.append(f"Exposed to {name}: it opens {user}'s escrow blob with the EA generation it "
                             f"holds, then the escrow device's box for generation {g} with the keys in the "
                             f"blob, and decrypts the message{window}.")
            else:
                lines.append(f"Exposed to {name}: it decrypts the message with generation {g} opened from a "
                             f"box sealed to its keys{window}.")
    else:
        lines.append("No adversary key decrypts it.")
    if m["status"] == "lost":
        lines.append(f"The last available holder vanished on {_fmt(m['lost_at'])} ({m['lost_cause']}): "
                     "the message is permanently lost.")
    elif m["status"] == "recoverable":
        lines.append(f"Recoverable via {m['recoverable_via']}.")
    return "\n".join(lines)
