"""sim.behaviour.recovery: the backup keys people make, and recovery when stranded."""

from __future__ import annotations

from helpers import events, run


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
