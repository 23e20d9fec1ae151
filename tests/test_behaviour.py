"""What the SimPy behaviour does when it decides for the user: prompts, names, scripted
sends at a tie, distributions, and refusals instead of crashes."""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml
from scipy import stats

from helpers import SCENARIOS
from sim.results import Result
from sim.results import run as run_scenario
from sim.scenario import Normal, validate


def run(text: str, seed: int | None = None) -> Result:
    data: dict[str, Any] = {"horizon": "60d", "argon2": {"memory_kib": 8, "passes": 1}} | yaml.safe_load(text)
    return run_scenario(validate(data), seed)


def events(r: Result, kind: str) -> list[tuple[float, str, str]]:
    e = r.events[r.events["event"] == kind]
    return list(zip(e["time"], e["device"].fillna(""), e["detail"].fillna(""), strict=True))


def test_a_prompt_answered_after_another_approval_approves_nothing_again() -> None:
    """phone approves laptop and tab at once on day 15; tab's prompt, answered on day 16,
    then lapses: a second BatchApprove would hand the server's device added in between
    every generation."""
    r = run("""
behaviour: {approval: {probability: 1.0, delay: 5d}}
users:
  - name: alice
    devices: [{name: phone}, {name: laptop, joins_at: 10d}, {name: tab, joins_at: 11d}]
timeline:
  - {at: 15.5d, action: server_add_device, user: alice, name: evil}
""")
    approvals = events(r, "batch_approve")
    assert approvals == [(15.0, "phone", "laptop,tab")], approvals
    assert r.devices.set_index("device").loc["evil", "generations"] == "4"  # only its own


def test_a_device_lost_before_its_approval_is_not_approved() -> None:
    r = run("""
behaviour: {approval: {probability: 1.0, delay: 9d}}
traffic: {voicemail: {every: 2d}}
users:
  - name: alice
    devices: [{name: phone}, {name: tab, joins_at: 10d, fate: {stolen: 1d}}]
""")
    assert events(r, "batch_approve") == []
    thief = r.messages[r.messages["exposed_to"] == "thief:alice/tab"]
    assert len(thief) and (thief["sent_at"] >= 10).all()  # what it read, it read as itself


def test_automatic_names_never_clash_with_devices_on_the_chain() -> None:
    """A scripted backup key without a name after a paper was lost, and a scripted server
    device named like the server's next automatic one: each gets a fresh name."""
    r = run("""
adversary: {server_devices: {fixed: 20d}}
users:
  - name: alice
    devices: [{name: phone}]
timeline:
  - {at: 1d, action: create_backup_key, user: alice, by: phone}
  - {at: 5d, action: paper_lost, user: alice, device: backup-1}
  - {at: 10d, action: create_backup_key, user: alice, by: phone}
  - {at: 15d, action: server_add_device, user: alice, name: server-1}
""")
    kinds = r.devices.set_index("device")["kind"].to_dict()
    assert {k: kinds[k] for k in ("backup-1", "backup-2", "server-1", "server-2")} == {
        "backup-1": "backup", "backup-2": "backup", "server-1": "physical", "server-2": "physical"}
    assert events(r, "refused") == []


def test_ea_actions_before_escrow_or_before_the_device_joins_are_refused() -> None:
    r = run("""
account: {escrow: {enabled_at: 20d, admins: [{name: admin, devices: [{name: a1}, {name: a2, joins_at: 40d}]}]}}
users:
  - name: alice
    devices: [{name: phone}]
timeline:
  - {at: 10d, action: compromise_ea_device, device: a1}
  - {at: 30d, action: compromise_ea_device, device: a2}
""")
    assert [(t, d) for t, _, d in events(r, "refused")] == [
        (10.0, "compromise_ea_device: a1 is not an EA device (yet)"),
        (30.0, "compromise_ea_device: a2 is not an EA device (yet)")]
    assert r.summary["adversaries"] == []


def test_automatic_names_leave_the_names_of_devices_that_join_later() -> None:
    r = run("""
users:
  - name: alice
    devices: [{name: phone}, {name: backup-1, joins_at: 5d}]
timeline:
  - {at: 1d, action: create_backup_key, user: alice, by: phone}
""")
    kinds = r.devices.set_index("device")["kind"].to_dict()
    assert (kinds["backup-1"], kinds["backup-2"]) == ("physical", "backup")
    assert events(r, "refused") == []


def test_ea_revocations_without_a_signer_are_refused_on_the_record() -> None:
    r = run("""
account: {escrow: {enabled_at: 1d, admins: [{name: admin, devices: [{name: a1}, {name: a2, joins_at: 10d}]}]}}
users:
  - name: alice
    devices: [{name: phone}]
timeline:
  - {at: 2d, action: revoke_ea_device, device: a1}
  - {at: 3d, action: revoke_ea_device, device: a1, by: a2}
""")
    assert [(t, d) for t, _, d in events(r, "refused")] == [
        (2.0, "revoke_ea_device: no other confirmed EA device is with the admins to sign it"),
        (3.0, "revoke_ea_device: escrow-admins has no device 'a2' (yet)")]


def test_a_scripted_send_takes_its_place_in_the_timeline_at_its_instant() -> None:
    """On day 52 the script sends, revokes the stolen phone (a new generation), sends again:
    the first mail goes to the generation the thief knows, the second to the new one."""
    r = run("""
users:
  - name: alice
    devices: [{name: phone, online: never}, {name: laptop, joins_at: 1d, online: never}]
timeline:
  - {at: 2d, action: approve, user: alice, by: phone}
  - {at: 50d, action: steal, user: alice, device: phone}
  - {at: 52d, action: send, user: alice, app: mail}
  - {at: 52d, action: revoke, user: alice, device: phone, by: laptop}
  - {at: 52d, action: send, user: alice, app: mail}
""")
    assert r.messages[["sent_at", "generation", "exposed_to"]].values.tolist() == [
        [52.0, 2, "thief:alice/phone"], [52.0, 3, ""]]


def test_a_drawn_send_at_the_instant_a_device_joins_goes_to_the_generation_it_adds() -> None:
    """Drawn traffic has no place in the event order: a send at an instant comes after
    every event of that instant (here, on day 14, the replacement joining)."""
    r = run("""
horizon: 20d
traffic: {voicemail: {every: 7d}}
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 10d}, replacement: {after: 4d}}]
""")
    assert r.generations["created_at"].tolist() == [0.0, 14.0]
    assert r.messages[["sent_at", "generation", "readable_by"]].values.tolist() == [
        [7.0, 1, ""], [14.0, 2, "phone#2"]]


def test_normal_durations_are_truncated_at_zero_not_clipped() -> None:
    d = Normal.model_validate({"normal": {"mean": "1d", "sd": "2d"}})
    x = d.sample_many(np.random.default_rng(0), 20000)
    assert (x > 0).all()
    truncated = stats.truncnorm(-0.5, np.inf, loc=1, scale=2)
    assert abs(x.mean() - truncated.mean()) < 0.05
    assert stats.kstest(x, truncated.cdf).pvalue > 1e-3


# ---------------------------------------------------------------- common random numbers


def device_history(r: Result, user: str) -> list[tuple[float, str, str]]:
    """When each of ``user``'s own devices joined and left their hands."""
    e = r.events[(r.events["user"] == user) & r.events["event"].isin(
        ["device_add", "lost", "stolen", "wiped", "decommissioned"])]
    own = ~e["device"].str.startswith(("backup", "server", "escrow"))
    return list(zip(e["time"][own], e["event"][own], e["device"][own], strict=True))


def test_policies_compare_on_the_same_device_histories() -> None:
    """A sweep's grid points share each replication's history: varying the backup-key
    policy, or letting the server add devices that the user revokes, moves no device's
    joining, loss or replacement."""
    base = yaml.safe_load((SCENARIOS / "risk_policy.yaml").read_text())
    base["users"][0]["devices"][0]["fate"] = {"lost": {"exp": "120d"}}  # several losses in 2 years
    for rep in range(3):
        histories = []
        for change in ({"count": 0}, {"count": 1}, {"count": 2},
                       {"adversary": {"server_devices": {"exp": "60d"}}}):
            data = base | {"sweep": None}
            if "count" in change:
                data = data | {"behaviour": base["behaviour"] | {
                    "backup_keys": base["behaviour"]["backup_keys"] | change}}
            else:
                data = data | change | {"behaviour": base["behaviour"] | {"notice": {"delay": "3d"}}}
            histories.append(device_history(run_scenario(validate(data), rep=rep), "alice"))
        assert len(histories[0]) > 2
        assert all(h == histories[0] for h in histories), rep


def test_inserting_a_user_changes_no_other_users_history() -> None:
    alice = {"name": "alice", "devices": [
        {"name": "phone", "online": "daily", "fate": {"lost": {"exp": "60d"}}, "replacement": {"after": {"exp": "3d"}}},
        {"name": "laptop", "joins_at": {"exp": "20d"}, "online": "weekly"}]}
    bob = {"name": "bob", "devices": [{"name": "tab", "online": "daily", "fate": {"lost": {"exp": "30d"}}}]}
    base = {"horizon": "200d", "seed": 3, "argon2": {"memory_kib": 8, "passes": 1},
            "behaviour": {"approval": {"delay": {"exp": "2d"}}, "revocation": {"delay": {"exp": "1d"}}},
            "traffic": {"voicemail": {"every": {"exp": "7d"}}}}

    def alice_of(users: list[dict[str, Any]]) -> tuple[Any, ...]:
        r = run_scenario(validate(base | {"users": users}))
        e, m = r.events[r.events["user"] == "alice"], r.messages[r.messages["user"] == "alice"]
        return (e[["time", "event", "device", "detail"]].values.tolist(),
                m[["sent_at", "generation", "status"]].values.tolist())

    alone = alice_of([alice])
    assert alice_of([alice, bob]) == alone
    assert alice_of([bob, alice]) == alone


def test_a_scripted_loss_brings_the_replacement_too() -> None:
    r = run("""
users:
  - name: alice
    devices: [{name: phone, replacement: {after: 2d}}]
timeline:
  - {at: 10d, action: lose, user: alice, device: phone}
""")
    assert device_history(r, "alice") == [(0.0, "device_add", "phone"), (10.0, "lost", "phone"),
                                          (12.0, "device_add", "phone#2")]


def test_backup_keys_wait_for_the_device_that_makes_them() -> None:
    r = run("""
behaviour: {backup_keys: {count: 1, at: 10d, by: laptop}}
users:
  - name: alice
    devices: [{name: phone}, {name: laptop, joins_at: 20d}]
""")
    made = events(r, "device_add_and_approve")
    assert made == [(20.0, "backup-1", "backup by laptop")]


def test_backup_keys_whose_maker_is_gone_are_refused_on_the_record() -> None:
    r = run("""
behaviour: {backup_keys: {count: 1, at: 10d, by: phone}}
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 5d}}, {name: laptop}]
""")
    assert events(r, "refused") == [(10.0, "phone", "create backup key: phone is no longer in the user's hands")]


def test_stranded_recovery_asks_escrow_for_what_the_backup_key_lacks() -> None:
    """The backup key was made by the laptop, which never held generation 1; the escrow
    device holds it: the stranded user asks the escrow admins."""
    r = run("""
horizon: 100d
account: {escrow: {enabled_at: 1d, admins: [{name: admin, devices: [{name: a1}]}]}}
behaviour:
  escrow: {recover_when_stranded: true}
  backup_keys: {at: 10d, by: laptop, use_when_stranded: true}
traffic: {voicemail: {every: 1d}}
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 20d}}, {name: laptop, joins_at: 5d}]
""")
    assert events(r, "escrow_recover") == [(20.0, "laptop", "EA a1")]
    assert (r.messages["status"] == "readable").all()


def test_the_first_ea_device_joins_when_escrow_is_enabled_and_its_fate_counts_from_then() -> None:
    r = run("""
horizon: 100d
account: {escrow: {enabled_at: 50d, admins: [{name: admin, devices: [
  {name: a1, joins_at: 100d, fate: {lost: 10d}}, {name: a2}]}]}}
users:
  - name: alice
    devices: [{name: phone}]
""")
    ea = r.devices[r.devices["user"] == "escrow-admins"].set_index("device")
    assert (ea.loc["a1", "added_at"], ea.loc["a1", "lost_at"]) == (50.0, 60.0)


def test_admins_without_an_ea_device_recover_with_the_ea_backup_key() -> None:
    """e1 is lost before e2 joins: nobody confirmed is left to approve e2, so the admins
    type the EA backup key into it (a BatchApprove signed by the backup), revoke e1 from
    e2, and alice, stranded later, recovers through escrow with e2."""
    r = run("""
account: {escrow: {enabled_at: 1d, admins: [{name: a, devices: [{name: e1, fate: {lost: 20d}},
                                                                {name: e2, joins_at: 25d}]}]}}
behaviour: {escrow: {accept_probability: 1.0, recover_when_stranded: true, recover_delay: 1d}}
traffic: {mail: {every: 3d}}
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 30d}, replacement: {after: 2d}}]
""")
    assert events(r, "backup_recover") == [(25.0, "e2", "ea-backup")]
    assert events(r, "revoke")[0] == (25.0, "e1", "signed by e2")
    assert events(r, "escrow_recover") == [(33.0, "phone#2", "EA e2")]
    assert set(r.messages["status"]) == {"readable"}
    m = r.messages[r.messages["sent_at"] < 30]
    assert len(m) and m["readable_by"].eq("phone#2").all()


def test_the_ea_attack_and_the_ea_paper_move_no_ea_device_loss() -> None:
    base = {"horizon": "2y", "argon2": {"memory_kib": 8, "passes": 1},
            "users": [{"name": "alice", "devices": [{"name": "phone"}]}],
            "account": {"escrow": {"enabled_at": "10d", "admins": [{"name": "admin", "devices": [
                {"name": "ea1", "fate": {"lost": {"exp": "200d"}}},
                {"name": "ea2", "joins_at": {"exp": "30d"}, "fate": {"lost": {"exp": "300d"}}}]}]}}}

    def ea_losses(extra: dict[str, Any]) -> list[Any]:
        data = base | extra
        if "ea_backup_paper_lost" in extra:
            data = base | {"account": {"escrow": base["account"]["escrow"] | extra}}
        r = run_scenario(validate(data))
        ea = r.devices[(r.devices["user"] == "escrow-admins") & (r.devices["kind"] == "ea")]
        return ea[["device", "added_at", "lost_at"]].values.tolist()

    alone = ea_losses({})
    assert ea_losses({"adversary": {"ea_compromise": {"probability": 0.5, "after": {"exp": "90d"}}}}) == alone
    assert ea_losses({"ea_backup_paper_lost": {"exp": "1y"}}) == alone


def test_a_scripted_event_goes_before_a_drawn_fate_at_the_same_instant() -> None:
    """Scripted events are scheduled at the start, a device's fate when it joins: at one
    instant the script acts first (the phone makes its backup key, then is lost)."""
    r = run("""
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 10d}}]
timeline:
  - {at: 10d, action: create_backup_key, user: alice, by: phone, name: paper}
""")
    log = list(zip(r.events["time"], r.events["event"], r.events["device"], strict=True))
    made = log.index((10.0, "device_add_and_approve", "paper"))
    lost = log.index((10.0, "lost", "phone"))
    assert made < lost and "refused" not in set(r.events["event"])


def test_a_stranded_member_recovers_through_escrow_once_the_admins_have_a_device_again() -> None:
    """The only EA device is lost on day 18; alice's only phone on day 30 (its replacement
    joins on day 31, stranded, with no EA device to co-sign). On day 40 the admins type the
    EA backup key into a new EA device: alice is looked at again and recovers through escrow."""
    r = run("""
horizon: 120d
account:
  escrow:
    enabled_at: 2d
    admins: [{name: admin, devices: [{name: ea1, fate: {lost: 18d}}, {name: ea2, joins_at: 40d}]}]
behaviour: {escrow: {accept_probability: 1.0, recover_when_stranded: true, recover_delay: 1d}}
traffic: {voicemail: {every: 5d}}
users:
  - name: alice
    devices: [{name: phone, online: always, replacement: {after: 1d}}]
timeline:
  - {at: 30d, action: lose, user: alice, device: phone}
""")
    assert events(r, "escrow_recover") == [(41.0, "phone#2", "EA ea2")]
    assert set(r.messages["status"]) == {"readable"}


def test_a_backup_key_lost_with_its_paper_cannot_be_typed_in() -> None:
    """Losing a backup key loses its string: the recovery on day 12 is refused, and
    generation 1 is lost on day 6, with the phone, its last available holder."""
    r = run("""
users:
  - name: alice
    devices: [{name: phone, online: never}, {name: tablet, joins_at: 10d, online: never}]
timeline:
  - {at: 1d, action: send, user: alice, app: voicemail}
  - {at: 2d, action: create_backup_key, user: alice, by: phone, name: bk}
  - {at: 5d, action: lose, user: alice, device: bk}
  - {at: 6d, action: lose, user: alice, device: phone}
  - {at: 12d, action: recover_backup, user: alice, device: tablet, by: bk}
""")
    assert events(r, "backup_recover") == []
    assert events(r, "refused") == [(12.0, "", "recover_backup: the user holds no backup-key string")]
    m1 = r.messages.set_index("message_id").loc["m1"]
    assert (m1["status"], m1["lost_at"]) == ("lost", 6.0)


def test_an_ea_device_out_of_the_admins_hands_signs_nothing() -> None:
    """ea1 is lost on day 2: the scripted revocation it would sign on day 10 is refused,
    as a member's device out of the user's hands is."""
    r = run("""
account:
  escrow:
    enabled_at: 1d
    ea_backup_paper_lost: 1d
    admins: [{name: admin, devices: [{name: ea1, fate: {lost: 2d}}, {name: ea2, joins_at: 5d}]}]
users:
  - name: alice
    devices: [{name: phone, online: never}]
timeline:
  - {at: 10d, action: revoke_ea_device, device: ea2, by: ea1}
""")
    assert events(r, "refused") == [(10.0, "", "revoke_ea_device: EA device ea1 is not with the admins")]
    assert "ea2" not in set(r.events[r.events["event"] == "revoke"]["device"])
