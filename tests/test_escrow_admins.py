"""sim.behaviour.escrow_admins: EA devices joining, approved, lost and revoked; the EA backup key."""

from __future__ import annotations

from helpers import events, run


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
