"""sim.behaviour.attacks: when adversaries strike: server devices, men in the middle, leaks, EA compromise."""

from __future__ import annotations

from typing import Any

from helpers import events, run
from sim.results import Result


def windows(r: Result) -> dict[str, Any]:
    """Each adversary's name → (since, kind)."""
    return {w["adversary"]: (w["since"], w["kind"]) for w in r.summary["adversaries"]}


def test_the_server_adds_a_device_again_and_again_once_the_user_has_one() -> None:
    """Every 20 days; nothing happens at the horizon (day 60)."""
    r = run("""
adversary: {server_devices: 20d}
users:
  - name: alice
    devices: [{name: phone}]
  - name: bob
    devices: [{name: pc, joins_at: 30d}]
""")
    added = r.events[r.events["event"] == "server_device"]
    assert list(zip(added["time"], added["user"], added["device"], strict=True)) == [
        (20.0, "alice", "server-1"), (40.0, "alice", "server-2"), (40.0, "bob", "server-1")]
    assert windows(r) == {"server:alice/server-1": (20.0, "server_device"),
                          "server:alice/server-2": (40.0, "server_device"),
                          "server:bob/server-1": (40.0, "server_device")}


def test_a_man_in_the_middle_strikes_when_a_later_device_joins() -> None:
    """The server forks the chain for the laptop (not for the first device), and the
    phone's approval a day later goes to the fork."""
    story = """
adversary: {mitm_probability: %s}
behaviour: {approval: {probability: 1.0, delay: 1d}}
users:
  - name: alice
    devices: [{name: phone}, {name: laptop, joins_at: 3d}]
"""
    r = run(story % 1.0)
    assert events(r, "mitm_fork") == [(3.0, "laptop", "server shows a forked chain")]
    assert events(r, "mitm_approved") == [(4.0, "laptop", "phone boxed 2 generations to the attacker")]
    assert windows(r) == {"mitm:alice/laptop": (4.0, "mitm")}
    r = run(story % 0.0)
    assert events(r, "mitm_fork") == [] and windows(r) == {}
    assert events(r, "batch_approve") == [(4.0, "phone", "laptop")]


def test_a_backup_key_leaks_some_time_after_it_is_written_down() -> None:
    story = """
adversary: {backup_leak: {probability: %s, after: 10d}}
behaviour: {backup_keys: {count: 1, at: 5d}}
users:
  - name: alice
    devices: [{name: phone}]
"""
    assert windows(run(story % 1.0)) == {"leak:alice/backup-1": (15.0, "leaked_backup")}
    assert windows(run(story % 0.0)) == {}


def test_the_first_ea_device_is_compromised_some_time_after_escrow_is_enabled() -> None:
    story = """
adversary: {ea_compromise: {probability: %s, after: 30d}}
account: {escrow: {enabled_at: 10d, admins: [{name: admin, devices: [{name: a1}, {name: a2}]}]}}
users:
  - name: alice
    devices: [{name: phone}]
"""
    assert windows(run(story % 1.0)) == {"ea:a1": (40.0, "ea_compromise")}
    assert windows(run(story % 0.0)) == {}
