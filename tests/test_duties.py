"""sim.behaviour.duties: deferred rotation, escrow re-key and escrow enrolment, by the first device online."""

from __future__ import annotations

from helpers import exposed, run, window
from sim.results import run as run_scenario
from sim.scenario import validate


def test_escrow_re_key_waits_for_a_device_of_the_escrow_devices_class() -> None:
    """After the EA rotation the laptop (never approved, outside the escrow device's class)
    may not re-key: it would box the escrow device less than it held. The member stays
    un-re-keyed and the compromised EA device keeps reading; approving the laptop first
    puts it in the class, and its re-key closes the window."""
    data = {"horizon": "40d", "argon2": {"memory_kib": 8, "passes": 1},
            "account": {"escrow": {"enabled_at": "1d", "admins": [
                {"name": "a", "devices": [{"name": "ea0"}, {"name": "ea1", "joins_at": "1d"}]}]}},
            "behaviour": {"escrow": {"accept_probability": 1.0, "recover_when_stranded": False}},
            "users": [{"name": "alice", "devices": [{"name": "phone"}, {"name": "laptop", "joins_at": "5d"}],
                       "traffic": {"mail": {"every": "2d"}}}],
            "timeline": [{"at": "10d", "action": "lose", "user": "alice", "device": "phone"},
                         {"at": "10d", "action": "revoke", "user": "alice", "device": "phone", "by": "laptop"},
                         {"at": "15d", "action": "compromise_ea_device", "device": "ea0"},
                         {"at": "16d", "action": "revoke_ea_device", "device": "ea0", "by": "ea1"}]}
    r = run_scenario(validate(data))
    assert "escrow_rekey" not in set(r.events["event"])
    assert window(r, "ea:ea0")["window_end"] is None
    assert set(exposed(r, "ea:ea0")["sent_at"]) >= set(r.messages.loc[r.messages["sent_at"] > 16, "sent_at"])
    data["timeline"].insert(0, {"at": "6d", "action": "approve", "user": "alice", "by": "phone"})
    r = run_scenario(validate(data))
    rekey = r.events[r.events["event"] == "escrow_rekey"]
    assert rekey["time"].tolist() == [16.0] and rekey["detail"].tolist() == ["by laptop"]
    assert window(r, "ea:ea0")["window_end"] == 16.0


def test_the_first_device_in_hand_to_come_online_rotates_then_enrols_in_escrow() -> None:
    """The phone is revoked from the web on day 5 (the per-user key is stale); alice
    accepts escrow two days after it is enabled on day 10. No device is online until the
    laptop on day 15: it does both duties then, the rotation first."""
    r = run("""
account: {escrow: {enabled_at: 10d, admins: [{name: admin, devices: [{name: a1}]}]}}
behaviour: {escrow: {accept_probability: 1.0, accept_delay: 2d}}
users:
  - name: alice
    devices: [{name: phone, online: never}, {name: laptop, online: never}]
timeline:
  - {at: 5d, action: revoke, user: alice, device: phone, by: web}
  - {at: 15d, action: online, user: alice, device: laptop}
""")
    mine = r.events[(r.events["user"] == "alice") & (r.events["time"] > 5)]
    assert list(zip(mine["time"], mine["event"], mine["device"], mine["detail"], strict=True)) == [
        (15.0, "rotate", "laptop", ""), (15.0, "generation", "laptop", ""),
        (15.0, "device_add_and_approve", "escrow", "escrow by laptop")]
    assert r.generations[r.generations["user"] == "alice"]["generation"].tolist() == [1, 2, 3]
