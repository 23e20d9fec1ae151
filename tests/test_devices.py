"""sim.behaviour.devices: devices joining, meeting their fate, replaced."""

from __future__ import annotations

from helpers import device_history, events, run


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
