"""sim.behaviour.timeline: scripted events at their instant, and their refusals on the record."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import events, run
from histories import scenarios
from sim.scenario import validate


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


ACTING = {"approve": "by", "rotate": "by", "create_backup_key": "by", "enroll_escrow": "by", "revoke": "by",
          "recover_backup": "device", "escrow_recover": "device"}  # the device that acts, or is typed into


DEVICES = ["phone", "laptop", "tablet"]


@st.composite
def hands(draw: Any) -> dict[str, Any]:
    """A user with three devices, a backup key and escrow, whose devices leave their hands
    while scripted actions name any of them: most actions meet a device not in hand."""
    device = st.sampled_from(DEVICES)
    day = st.integers(4, 50).map(lambda d: f"{d}d")
    event = st.one_of(
        st.builds(lambda a, d, t: {"at": t, "action": a, "device": d},
                  st.sampled_from(["lose", "steal", "wipe", "decommission"]), device, day),
        st.builds(lambda d, b, t: {"at": t, "action": "revoke", "device": d, "by": b},
                  device, st.sampled_from([*DEVICES, "web"]), day),
        st.builds(lambda a, b, t: {"at": t, "action": a, "by": b},
                  st.sampled_from(["approve", "rotate", "create_backup_key", "enroll_escrow"]), device, day),
        st.builds(lambda d, t: {"at": t, "action": "recover_backup", "device": d, "by": "paper"}, device, day),
        st.builds(lambda d, t: {"at": t, "action": "escrow_recover", "device": d}, device, day))
    timeline = [{"at": "1d", "action": "create_backup_key", "by": "phone", "name": "paper"},
                {"at": "2d", "action": "enroll_escrow", "by": "phone"},
                *draw(st.lists(event, min_size=3, max_size=10))]
    return {"horizon": "60d", "argon2": {"memory_kib": 64, "passes": 1},
            "account": {"escrow": {"enabled_at": "1d", "admins": [{"name": "a", "devices": [{"name": "ea"}]}]}},
            "users": [{"name": "alice", "devices": [{"name": d, "joins_at": f"{i}d", "online": "never"}
                                                    for i, d in enumerate(DEVICES)]}],
            "timeline": [{**e, "user": "alice"} for e in timeline]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(hands(), scenarios()))
def test_an_action_by_a_device_not_in_hand_is_refused_and_changes_nothing(data: dict[str, Any]) -> None:
    """On random histories: every scripted action a device performs, or that is typed into
    it, is refused on the record and changes nothing when that device is not in the user's
    hands; revoking a lost or stolen device from one in hand is not refused for its hands."""
    from unittest import mock

    from sim.behaviour import timeline
    from sim.behaviour.simulation import Simulation

    checked: list[str] = []
    real = timeline.perform

    def perform(world: Any, e: Any) -> None:
        field = ACTING.get(e.action)
        acting = getattr(e, field) if field else None
        u = world.account.users.get(e.user or "")
        if u is None or acting is None or acting in ("web", "admin", "self"):
            return real(world, e)
        d = u.devices.get(acting)
        out_of_hand = d is None or (d.kind == "physical" and not world.account.available(u.id, acting))
        before = state(world, e.user)
        rows = len(world.account.log.rows)
        real(world, e)
        new = world.account.log.rows[rows:]
        if out_of_hand:
            assert state(world, e.user) == before, e
            assert new and new[0][3] == "refused", (e, new)
            checked.append(e.action)
        elif e.action == "revoke" and (t := u.devices.get(str(e.device))) is not None and t.gone_cause in (
                "lost", "stolen") and not t.revoked:
            assert not any("not in the user's hands" in r[5] for r in new), (e, new)

    with mock.patch.object(timeline, "perform", perform):
        Simulation(validate(data)).run()


def state(world: Any, user: str) -> tuple[Any, ...]:
    """What an action could change of a user: chain, boxes, generations, devices, papers."""
    u = world.account.users[user]
    return (len(u.chain.links), len(u.boxes), len(u.generations),
            sorted((d.name, d.revoked_at, d.gone_at, d.gone_cause) for d in u.devices.values()),
            dict(world.people[user].papers))
