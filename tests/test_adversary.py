"""sim.model.adversary: what each adversary holds and reads (PROTOCOL §6), by real decryption with its keys."""

from __future__ import annotations

import pytest
import yaml

from helpers import SCENARIOS, crypto_calls, derived_again, exposed, run_file, window
from sim.behaviour.simulation import Simulation
from sim.results import build_result
from sim.results import run as run_scenario
from sim.scenario import load, validate


def test_server_added_device_reads_only_between_joining_and_the_rotation_after_revocation() -> None:
    r = run_file("server_device")
    m = r.messages
    hit = exposed(r, "server:alice/ghost")
    assert len(hit) == len(m[(m["sent_at"] >= 30) & (m["sent_at"] < 40)]) > 0
    assert hit["sent_at"].min() >= 30 and hit["sent_at"].max() < 40
    w = window(r, "server:alice/ghost")
    assert (w["since"], w["window_end"]) == (30.0, 40.0)
    assert r.summary["exposed"] == len(hit)
    # the server's device is not the user's: it never reads on her behalf
    assert not m["readable_by"].str.contains("ghost").any()
    assert r.devices.set_index("device").loc["ghost", "revoked_at"] == 40.0


def test_mitm_without_fingerprint_check_exposes_all_history() -> None:
    r = run_scenario(load(SCENARIOS / "mitm.yaml"))
    m = r.messages
    before = m[m["sent_at"] < 50]
    assert len(before) and set(exposed(r, "mitm:alice/laptop")["message_id"]) >= set(before["message_id"])
    # exposed until the rotation on day 65, not after
    after = m[m["sent_at"] > 65]
    assert len(after) and (after["exposed_to"] == "").all()
    # the real laptop never got the old generations: the approval went to the fork
    assert (before["readable_by"] == "phone").all()
    assert "mitm_approved" in set(r.events["event"])


def test_mitm_is_caught_by_fingerprint_check_and_nothing_older_is_exposed() -> None:
    sim = Simulation(load(SCENARIOS / "mitm_checked.yaml"))
    captured = {}
    adversaries = sim.world.adversaries
    real_approve = adversaries.approve_on_fork

    def spy(fork, approver, at, checked):  # type: ignore[no-untyped-def]
        captured["fingerprints"] = adversaries.fingerprints(fork)
        captured["fork"] = fork
        return real_approve(fork, approver, at, checked)

    adversaries.approve_on_fork = spy  # type: ignore[method-assign]
    r = build_result(sim.run())
    real_fp, fork_fp = captured["fingerprints"]
    assert real_fp != fork_fp and len(real_fp.split()) == 16
    assert captured["fork"].chain.links[-1].kind == "device_revoke"  # impostor revoked on the fork
    assert r.summary["exposed"] == 0 and r.summary["adversaries"] == []
    assert "mitm_detected" in set(r.events["event"])
    old = r.messages[r.messages["sent_at"] < 50]
    assert (old["readable_by"] == "phone,laptop").all()  # the real laptop was approved instead


def test_stolen_phone_revoked_from_web_reads_new_mail_until_a_device_rotates() -> None:
    r = run_file("web_revoke")
    m = r.messages
    hit = exposed(r, "thief:alice/phone")
    window_mail = m[(m["sent_at"] > 51) & (m["sent_at"] < 70)]
    assert len(window_mail) and set(window_mail["message_id"]) <= set(hit["message_id"])
    assert (m[m["sent_at"] > 70]["exposed_to"] == "").all()
    assert window(r, "thief:alice/phone")["window_end"] == 70.0


def test_signed_revocation_ends_the_thiefs_window_at_once() -> None:
    r = run_file("stolen_signed")
    m = r.messages
    hit = exposed(r, "thief:alice/phone")
    assert hit["sent_at"].max() < 51  # only what it already had
    assert (m[m["sent_at"] > 51]["exposed_to"] == "").all()
    assert window(r, "thief:alice/phone")["window_end"] == 51.0
    # the thief keeps every generation it knew: all mail sent before the revocation
    assert set(hit["message_id"]) == set(m[m["sent_at"] < 51]["message_id"])


def test_leaked_backup_key_exposes_every_generation_it_holds() -> None:
    r = run_file("leaked_backup")
    backup_gens = {int(g) for g in r.devices.set_index("device").loc["backup-1", "generations"].split(",")}
    m = r.messages
    hit = exposed(r, "leak:alice/backup-1")
    assert set(hit["message_id"]) == set(m[m["generation"].isin(backup_gens)]["message_id"])
    assert len(hit) == len(m)  # made by the oldest device and never revoked: everything
    assert window(r, "leak:alice/backup-1")["window_end"] is None


def test_compromised_ea_device_exposes_what_escrow_holds() -> None:
    r = run_file("ea_compromise")
    m = r.messages
    escrow_gens = {int(g) for g in r.devices.query("kind == 'escrow'").iloc[0]["generations"].split(",")}
    hit = exposed(r, "ea:admin-laptop")
    assert set(hit["message_id"]) == set(m[m["generation"].isin(escrow_gens)]["message_id"]) != set()


EA_DEVICES = [{"name": "admin-laptop", "kind": "laptop"}, {"name": "admin-phone", "kind": "phone", "joins_at": "6d"}]


@pytest.mark.parametrize("by", ["admin-phone", None])
def test_ea_compromise_keeps_what_it_read_after_the_revocation_and_rekey(by: str | None) -> None:
    """The server discards the boxes sealed to the escrow device's old keys, but an
    adversary holding every ciphertext does not: what the old EA generation opened stays
    exposed; the re-key and rotation on day 61 end the window. Without ``by`` the other
    confirmed EA device (not the EA backup key) revokes."""
    revoke = {"at": "61d", "action": "revoke_ea_device", "device": "admin-laptop"} | ({"by": by} if by else {})
    r = run_file("ea_compromise", account__escrow__admins=[{"name": "admin", "devices": EA_DEVICES}],
                 timeline=[{"at": "60d", "action": "compromise_ea_device", "device": "admin-laptop"}, revoke])
    m = r.messages
    assert r.devices.set_index("device").loc["admin-laptop", "revoked_at"] == 61.0
    assert set(exposed(r, "ea:admin-laptop")["message_id"]) == set(m[m["sent_at"] < 61]["message_id"]) != set()
    assert (m[m["sent_at"] > 61]["exposed_to"] == "").all()
    w = window(r, "ea:admin-laptop")
    assert w["window_end"] == 61.0 and w["generations"] == "escrow-admins 1; alice 1"


def test_ea_compromise_window_lasts_while_a_member_has_not_rekeyed() -> None:
    r = run_file("ea_compromise", account__escrow__admins=[{"name": "admin", "devices": EA_DEVICES}],
                 timeline=[{"at": "60d", "action": "compromise_ea_device", "device": "admin-laptop"},
                           {"at": "60.5d", "action": "offline", "user": "alice", "device": "phone"},
                           {"at": "61d", "action": "revoke_ea_device", "device": "admin-laptop", "by": "admin-phone"}])
    assert len(exposed(r, "ea:admin-laptop")) == len(r.messages)  # alice's phone never re-keys
    assert window(r, "ea:admin-laptop")["window_end"] is None


def test_a_leaked_string_of_a_revoked_backup_key_still_opens_its_boxes() -> None:
    """Revoking a backup key protects only what is created afterwards."""
    r = run_file("leaked_backup", timeline=[
        {"at": "1d", "action": "create_backup_key", "user": "alice", "by": "phone", "name": "backup-1"},
        {"at": "20d", "action": "paper_lost", "user": "alice", "device": "backup-1"},
        {"at": "21d", "action": "revoke", "user": "alice", "device": "backup-1", "by": "phone"},
        {"at": "30d", "action": "leak_backup", "user": "alice", "device": "backup-1"}])
    m = r.messages
    hit = exposed(r, "leak:alice/backup-1")
    assert set(hit["message_id"]) == set(m[m["sent_at"] < 21]["message_id"]) != set()
    w = window(r, "leak:alice/backup-1")
    assert (w["since"], w["window_end"]) == (30.0, 30.0)  # it reads no new data


def test_each_adversary_has_its_own_name_and_the_same_keys_count_once() -> None:
    """A second man-in-the-middle on one device holds other keys: `` (2)``. An EA device
    compromised and then stolen is one adversary, not two."""
    data = {"horizon": "20d", "argon2": {"memory_kib": 8, "passes": 1}, "users": [
        {"name": "alice", "devices": [{"name": "phone"}, {"name": "laptop", "joins_at": "5d"}],
         "traffic": {"mail": {"every": "2d"}}}],
        "account": {"escrow": {"enabled_at": "0d", "admins": [
            {"name": "x", "devices": [{"name": "ea0", "fate": {"stolen": "15d"}}, {"name": "ea1"}]}]}},
        "timeline": [
            {"at": "6d", "action": "mitm", "user": "alice", "device": "laptop"},
            {"at": "7d", "action": "approve", "user": "alice", "by": "phone"},
            {"at": "10d", "action": "rotate", "user": "alice", "by": "phone"},
            {"at": "12d", "action": "mitm", "user": "alice", "device": "laptop"},
            {"at": "13d", "action": "approve", "user": "alice", "by": "phone"},
            {"at": "14d", "action": "compromise_ea_device", "device": "ea0"}]}
    r = run_scenario(validate(data))
    windows = {w["adversary"]: w for w in r.summary["adversaries"]}
    assert sorted(windows) == ["ea:ea0", "mitm:alice/laptop", "mitm:alice/laptop (2)"]
    assert windows["ea:ea0"]["since"] == 14.0
    assert (windows["mitm:alice/laptop"]["generations"], windows["mitm:alice/laptop"]["window_end"]) == ("1,2", 10.0)
    assert windows["mitm:alice/laptop (2)"]["generations"] == "1,2,3"
    for names in r.messages["exposed_to"]:
        assert len(names.split(",")) == len(set(names.split(",")))


def test_the_thief_of_a_device_is_not_named_like_the_thief_of_its_replacement() -> None:
    data = {"horizon": "30d", "argon2": {"memory_kib": 8, "passes": 1}, "users": [
        {"name": "alice", "devices": [{"name": "phone", "fate": {"decommissioned": "5d"},
                                       "replacement": {"after": "1d"}}]}],
        "timeline": [{"at": "8d", "action": "steal", "user": "alice", "device": "phone#2"},
                     {"at": "14d", "action": "steal", "user": "alice", "device": "phone#3"},
                     {"at": "20d", "action": "steal", "user": "alice", "device": "phone"}]}
    r = run_scenario(validate(data))
    assert [w["adversary"] for w in r.summary["adversaries"]] == [
        "thief:alice/phone#2", "thief:alice/phone#3", "thief:alice/phone"]


def test_a_window_reopened_by_a_later_escrow_enrolment_lasts_while_it_reads() -> None:
    """ea0 is compromised on day 5, before alice has an escrow device; her never-approved
    laptop enrols escrow on day 12 with generation 2 (not generation 1, current on day 5).
    The EA generation rotates on day 20, but her escrow waits for the laptop to come online
    to re-key, which it never does: ea0 reads her new data to the end of the run."""
    data = {"horizon": "40d", "argon2": {"memory_kib": 8, "passes": 1},
            "account": {"escrow": {"enabled_at": "1d", "admins": [
                {"name": "a", "devices": [{"name": "ea0"}, {"name": "ea1"}]}]}},
            "users": [{"name": "alice", "devices": [{"name": "phone"},
                                                    {"name": "laptop", "joins_at": "10d", "online": "never"}],
                       "traffic": {"mail": {"every": "2d"}}}],
            "timeline": [{"at": "5d", "action": "compromise_ea_device", "device": "ea0"},
                         {"at": "12d", "action": "enroll_escrow", "user": "alice", "by": "laptop"},
                         {"at": "20d", "action": "revoke_ea_device", "device": "ea0", "by": "ea1"}]}
    r = run_scenario(validate(data))
    w = window(r, "ea:ea0")
    assert (w["since"], w["window_end"], w["generations"]) == (5.0, None, "escrow-admins 1; alice 2")
    hit = exposed(r, "ea:ea0")
    assert hit["sent_at"].min() == 10.0 and hit["sent_at"].max() == 38.0 and (hit["generation"] == 2).all()


@pytest.mark.parametrize("name", ["server_device", "stolen_signed", "web_revoke", "ea_compromise",
                                  "leaked_backup", "mitm"])
def test_an_adversary_uses_what_the_device_it_took_derived(name: str) -> None:
    """An adversary derives a generation's keys only if the device whose keys it holds did
    not: the same party, with the same seed, does not derive twice."""
    with crypto_calls() as calls:
        record = Simulation(load(SCENARIOS / f"{name}.yaml")).run()
    assert record.adversaries.all and not derived_again(record.adversaries, calls)


def test_a_stolen_backup_paper_is_a_leaked_backup_key() -> None:
    """The thief of the paper types the string: it reads what the backup key holds, and the
    user, who no longer has it, cannot."""
    r = run_scenario(validate(yaml.safe_load("""
horizon: 30d
argon2: {memory_kib: 8, passes: 1}
traffic: {voicemail: {every: 3d}}
users:
  - name: a
    devices: [{name: p, online: never}]
timeline:
  - {at: 1d, action: create_backup_key, user: a, by: p, name: bk}
  - {at: 2d, action: steal, user: a, device: bk}
""")))
    (w,) = r.summary["adversaries"]
    assert (w["adversary"], w["kind"], w["since"], w["generations"]) == ("leak:a/bk", "leaked_backup", 2.0, "1")
    assert set(r.messages["exposed_to"]) == {"leak:a/bk"}
    assert r.devices.set_index("device").loc["bk", "available"] == False  # noqa: E712
