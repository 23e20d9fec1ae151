"""sim.behaviour.revocation: the revocations a person makes after a loss, signed or from the web."""

from __future__ import annotations

import pandas as pd

from helpers import events, run

STORY = """
behaviour: {revocation: %s}
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 10d}}, {name: laptop, online: never},
              {name: tab, online: never, fate: {wiped: 11d}}]
timeline:
  - {at: 20d, action: online, user: alice, device: laptop}
"""


def test_a_signed_revocation_waits_for_the_first_device_in_hand_to_come_online() -> None:
    """The phone is lost on day 10 and the person revokes it two days later, from a device
    in hand: the tab, wiped on day 11, is none, and the laptop comes online on day 20.
    A wiped device is not revoked: its keys are gone."""
    r = run(STORY % "{probability: 1.0, delay: 2d, signed: true}")
    assert events(r, "revoke") == [(20.0, "phone", "signed by laptop")]
    assert r.generations["created_at"].tolist()[-1] == 20.0  # the signed revocation rotates


def test_an_unsigned_revocation_is_made_from_the_web_after_its_delay() -> None:
    r = run(STORY % "{probability: 1.0, delay: 2d, signed: false}")
    assert events(r, "revoke") == [(12.0, "phone", "unsigned via web")]


def test_a_person_who_does_not_revoke_leaves_the_lost_device_on_the_chain() -> None:
    r = run(STORY % "{probability: 0.0, delay: 2d}")
    assert events(r, "revoke") == []
    phone = r.devices.set_index("device").loc["phone"]
    assert pd.isna(phone["revoked_at"]) and phone["lost_at"] == 10.0
