"""Random histories for property tests: small scenarios with every kind of device fate,
behaviour, escrow, adversaries and scripted event, which the protocol must refuse or carry
out on the record."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

days = st.integers(min_value=0, max_value=60).map(lambda d: f"{d}d")
later = st.integers(min_value=1, max_value=60).map(lambda d: f"{d}d")  # a fate at 0d and a replacement
# at 0d would replace a device endlessly at one instant: the schema refuses that
fates = st.one_of(st.none(), st.builds(
    lambda kind, after: {kind: after}, st.sampled_from(["lost", "stolen", "wiped", "decommissioned"]), days))


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    users = []
    for u in range(draw(st.integers(1, 2))):
        devices = []
        for i in range(draw(st.integers(1, 3))):
            dev: dict[str, Any] = {"name": f"d{i}", "joins_at": draw(days),
                                   "online": draw(st.sampled_from(["always", "daily", "never"]))}
            fate = draw(fates)
            if fate:
                dev["fate"] = fate
                if draw(st.booleans()):
                    dev["replacement"] = {"after": draw(later)}
            devices.append(dev)
        users.append({"name": f"u{u}", "devices": devices})
    data: dict[str, Any] = {
        "horizon": "90d",
        "seed": draw(st.integers(0, 2**16)),
        "argon2": {"memory_kib": 64, "passes": 1},
        "behaviour": {
            "approval": {"probability": draw(st.sampled_from([0.0, 0.5, 1.0])), "delay": {"exp": "2d"}},
            "revocation": {"probability": draw(st.sampled_from([0.0, 1.0])),
                           "signed": draw(st.booleans())},
            "backup_keys": {"count": draw(st.integers(0, 1)), "at": draw(days)},
        },
        "traffic": {"voicemail": {"every": {"exp": "9d"}},
                    "mail": {"every": {"exp": "9d"}, "to": [u["name"] for u in users]}},
        "users": users,
    }
    if draw(st.booleans()):  # escrow, with admins who may lose their devices
        data["account"] = {"escrow": {
            "enabled_at": draw(days),
            "admins": [{"name": "admin", "devices": [
                {"name": f"ea{i}", "joins_at": draw(days), **({"fate": f} if (f := draw(fates)) else {})}
                for i in range(draw(st.integers(1, 2)))]}],
            **({"ea_backup_paper_lost": draw(days)} if draw(st.booleans()) else {})}}
        data["behaviour"]["escrow"] = {"accept_probability": draw(st.sampled_from([0.5, 1.0])),
                                       "recover_delay": draw(days)}
    if draw(st.booleans()):  # adversaries, and the user's defences
        data["adversary"] = {
            "mitm_probability": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "server_devices": {"exp": "40d"} if draw(st.booleans()) else None,
            "backup_leak": {"probability": 0.5, "after": draw(days)},
            "ea_compromise": {"probability": 0.5, "after": draw(days)}}
        data["behaviour"]["approval"]["fingerprint_check"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
        data["behaviour"]["notice"] = {"delay": draw(days), "signed": draw(st.booleans())}
    data["timeline"] = draw(st.lists(timeline_events(data), max_size=8))
    return data


@st.composite
def timeline_events(draw: Any, data: dict[str, Any]) -> dict[str, Any]:
    """A scripted event of any action, on names the scenario has or makes (devices that
    may not have joined yet, were lost or revoked; backup-1; the escrow device): the
    protocol refuses what it must, on the record."""
    user = draw(st.sampled_from(data["users"]))
    names = [d["name"] for d in user["devices"]]
    ea = [d["name"] for a in data.get("account", {}).get("escrow", {}).get("admins", []) for d in a["devices"]]
    device, other = draw(st.sampled_from(names)), draw(st.sampled_from(names))
    at = {"at": draw(days)}
    on = {**at, "user": user["name"]}
    events = [
        {**on, "action": draw(st.sampled_from(["lose", "steal", "wipe", "decommission", "online", "offline",
                                               "mitm"])), "device": device},
        {**on, "action": draw(st.sampled_from(["approve", "rotate", "enroll_escrow"])), "by": device},
        {**on, "action": "revoke", "device": device, "by": draw(st.sampled_from([other, "web"]))},
        {**on, "action": "create_backup_key", "by": device},
        {**on, "action": draw(st.sampled_from(["paper_lost", "leak_backup"])), "device": "backup-1"},
        {**on, "action": "recover_backup", "device": device},
        {**on, "action": "escrow_recover", "device": device},
        {**on, "action": "send", "app": draw(st.sampled_from(["voicemail", "mail"]))},
        {**on, "action": "server_add_device", "name": "ghost"},
    ]
    if ea:
        events += [{**at, "action": "compromise_ea_device", "device": draw(st.sampled_from(ea))},
                   {**at, "action": "revoke_ea_device", "device": draw(st.sampled_from(ea))}]
    return draw(st.sampled_from(events))
