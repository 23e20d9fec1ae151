"""Actions by devices no longer in hand, and the duties a device does when it acts
(sim.model.account, sim.behaviour.duties, sim.behaviour.timeline)."""

from __future__ import annotations

from typing import Any

import yaml

import sim
from sim.results import Result
from sim.scenario import validate


def story(text: str) -> Result:
    return sim.run(validate(yaml.safe_load(text)))


def refusals(r: Result) -> list[str]:
    ev = r.events
    return list(ev[ev["event"] == "refused"]["detail"])


BACKUP_STORY = """
horizon: 40d
argon2: {memory_kib: 64, passes: 1}
users:
  - name: alice
    devices:
      - {name: phone, online: never}
      - {name: laptop, joins_at: 10d, online: never}
      - {name: tablet, joins_at: 10d, online: never}
timeline:
  - {at: 1d, action: send, user: alice, app: voicemail}
  - {at: 2d, action: create_backup_key, user: alice, by: phone, name: paper}
  - {at: 11d, action: %s, user: alice, device: laptop}
  - {at: 12d, action: recover_backup, user: alice, device: laptop, by: paper}
"""


def test_a_backup_key_typed_into_a_device_no_longer_in_hand_is_refused() -> None:
    for fate in ("lose", "steal", "wipe"):
        r = story(BACKUP_STORY % fate)
        assert any("alice/laptop is not in the user's hands" in d for d in refusals(r)), fate
        assert "backup_recover" not in set(r.events["event"])
        # the backup's approval reached no device: generation 1 stays with the phone alone
        gens = r.devices.set_index("device")["generations"]
        assert gens["tablet"] == "3" and gens["laptop"] == "2,3"


def test_a_backup_key_typed_into_a_device_in_hand_recovers_it() -> None:
    r = story(BACKUP_STORY % "online")  # the scripted online changes nothing of its hands
    assert "backup_recover" in set(r.events["event"])
    assert r.devices.set_index("device")["generations"]["laptop"] == "1,2,3"


ESCROW_STORY = """
horizon: 40d
argon2: {memory_kib: 64, passes: 1}
account:
  escrow: {enabled_at: 1d, admins: [{name: admin, devices: [{name: ea-laptop}]}]}
users:
  - name: alice
    devices:
      - {name: phone, online: never}
      - {name: laptop, joins_at: 10d, online: never}
timeline:
  - {at: 0d, action: send, user: alice, app: voicemail}
  - {at: 2d, action: enroll_escrow, user: alice, by: phone}
  - {at: 11d, action: %s, user: alice, device: laptop}
  - {at: 12d, action: escrow_recover, user: alice, device: laptop}
"""


def test_escrow_recovery_into_a_device_no_longer_in_hand_is_refused() -> None:
    r = story(ESCROW_STORY % "decommission")
    assert "escrow_recover: alice/laptop is not in the user's hands (decommissioned)" in refusals(r)
    assert "escrow_recover" not in set(r.events["event"])
    r = story(ESCROW_STORY % "online")
    assert "escrow_recover" in set(r.events["event"])


def test_the_escrow_device_has_no_paper_to_lose() -> None:
    """Refused when the file is read, as lose and steal on it are; and by the protocol."""
    import pytest

    from helpers import cheap
    from sim.model import Account, ProtocolError
    from sim.scenario import ScenarioError

    text = (ESCROW_STORY % "online").replace("  - {at: 12d, action: escrow_recover",
                                             "  - {at: 5d, action: paper_lost, user: alice, device: escrow}\n"
                                             "  - {at: 12d, action: escrow_recover")
    with pytest.raises(ScenarioError, match=r"timeline\[3\]\.device: paper_lost: the escrow device has no paper"):
        validate(yaml.safe_load(text))
    account = Account(cheap(1))
    account.user("alice").add_device("phone", 0.0)
    account.enable_escrow("ea", 0.0)
    account.enroll_escrow("alice", "phone", 1.0)
    with pytest.raises(ProtocolError, match="alice/escrow is a escrow device: it has no paper to lose"):
        account.users["alice"].gone("escrow", 2.0, "paper_lost")
    assert account.available("alice", "escrow")


DUTY_STORY = """
horizon: 60d
argon2: {memory_kib: 64, passes: 1}
users:
  - name: alice
    devices:
      - {name: phone, online: never}
      - {name: laptop, joins_at: 5d, online: never}
      - {name: tablet, joins_at: 6d, online: never}
timeline:
  - {at: 10d, action: revoke, user: alice, device: tablet, by: web}
  - {at: 20d, action: %s, user: alice, by: phone}
"""


def created(r: Result, user: str = "alice") -> list[tuple[float, str]]:
    g = r.generations[r.generations["user"] == user]
    return list(zip(g["created_at"], g["created_by"], strict=True))


def test_a_deferred_rotation_is_done_by_the_first_device_the_person_uses() -> None:
    """After an unsigned revocation the key is stale; no device comes online by itself,
    but the phone that signs an approval on day 20 is online then, and rotates."""
    r = story(DUTY_STORY % "approve")
    assert created(r)[-1] == (20.0, "phone") and len(created(r)) == 4
    # without any action, the rotation waits for ever
    quiet = story(DUTY_STORY.replace("  - {at: 20d, action: %s, user: alice, by: phone}\n", ""))
    assert [t for t, _ in created(quiet)] == [0.0, 5.0, 6.0]


BOTH_DUTIES = """
horizon: 60d
argon2: {memory_kib: 64, passes: 1}
account:
  escrow: {enabled_at: 1d, admins: [{name: admin, devices: [{name: ea1}, {name: ea2, joins_at: 2d}]}]}
users:
  - name: alice
    devices:
      - {name: phone, online: never}
      - {name: tablet, joins_at: 3d, online: never}
timeline:
  - {at: 4d, action: enroll_escrow, user: alice, by: phone}
  - {at: 10d, action: %s}
  - {at: 11d, action: %s}
  - {at: 20d, action: approve, user: alice, by: phone}
"""
EA_REVOKE = "revoke_ea_device, device: ea2"
WEB_REVOKE = "revoke, user: alice, device: tablet, by: web"


def test_both_duties_pending_make_one_generation_whichever_became_pending_first() -> None:
    """An escrow re-key (the admins revoked an EA device) and a rotation (an unsigned
    revocation) both pending: the phone re-keys first, and the re-key's rotation is the
    rotation: one new generation, in either order of the two causes."""
    for first, second in ((EA_REVOKE, WEB_REVOKE), (WEB_REVOKE, EA_REVOKE)):
        r = story(BOTH_DUTIES % (first, second))
        alice: Any = r.events[r.events["user"] == "alice"]
        at20 = alice[alice["time"] == 20.0]
        assert list(at20["event"]).count("generation") == 1, list(at20["event"])
        assert "escrow_rekey" in set(at20["event"])
        assert created(r)[-1] == (20.0, "phone")
