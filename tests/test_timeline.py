"""sim.behaviour.timeline: scripted events at their instant, and their refusals on the record."""

from __future__ import annotations

from helpers import events, run


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


def test_a_refusal_gives_the_real_reason() -> None:
    """Each refused scripted event says why in words a user recognises, and the summary
    lists it."""
    r = run("""
users:
  - name: alice
    devices: [{name: phone, online: never}, {name: laptop, joins_at: 30d, online: never},
              {name: tablet, joins_at: 1d, online: never}]
timeline:
  - {at: 5d, action: approve, user: alice, by: laptop}
  - {at: 6d, action: lose, user: alice, device: laptop}
  - {at: 10d, action: revoke, user: alice, device: tablet, by: phone}
  - {at: 11d, action: revoke, user: alice, device: tablet, by: phone}
  - {at: 12d, action: lose, user: alice, device: phone}
  - {at: 13d, action: rotate, user: alice, by: phone}
  - {at: 14d, action: approve, user: alice, by: tablet}
""")
    assert events(r, "refused") == [
        (5.0, "laptop", "approve: laptop has not joined yet (joins on day 30)"),
        (6.0, "laptop", "lose: laptop has not joined yet (joins on day 30)"),
        (11.0, "", "revoke: alice/tablet was already revoked on day 10"),
        (13.0, "phone", "rotate: phone is not in the user's hands (lost on day 12)"),
        (14.0, "tablet", "approve: tablet is not in the user's hands (revoked on day 10)"),
    ]
    assert [(x["time"], x["why"]) for x in r.summary["refused"]] == [(t, why) for t, _, why in events(r, "refused")]
