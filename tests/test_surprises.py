"""sim.scenario.surprises: what a valid scenario will do that its author may not expect."""

from __future__ import annotations

import yaml

from helpers import SCENARIOS
from sim.scenario import load, notes, validate


def scenario(extra: str) -> list[str]:
    return notes(validate(yaml.safe_load("""
horizon: 30d
users:
  - name: alice
    devices: [{name: phone}, {name: laptop, joins_at: 5d}]
  - name: bob
    devices: [{name: phone, fate: {lost: 5d}, replacement: {after: 1d}}]
""" + extra)))


def test_a_user_whose_later_devices_nobody_approves_is_noted() -> None:
    assert scenario("") == ["alice: nobody will approve a later device (no behaviour.approval and no "
                            "scripted approve), so each reads only data from its own joining on"]


def test_an_approval_behaviour_or_a_scripted_approval_is_enough() -> None:
    assert scenario("behaviour: {approval: {probability: 0.5}}\n") == []
    assert scenario("timeline: [{at: 6d, action: approve, user: alice, by: phone}]\n") == []


def test_no_included_scenario_surprises() -> None:
    assert all(not notes(load(f)) for f in SCENARIOS.glob("*.yaml"))
