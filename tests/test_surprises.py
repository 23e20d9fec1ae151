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


def test_the_size_of_a_run_is_known_before_it_starts() -> None:
    """People, first devices and the expected message copies, within the draws' noise."""
    import sim
    from sim.scenario.surprises import size

    for name in ("quickstart", "household", "tradeoff"):
        s = load(SCENARIOS / f"{name}.yaml")
        expected = size(s)
        assert expected["people"] == len(s.people())
        assert expected["devices"] == sum(len(u.devices) for u in s.people().values())
        got = sim.run(s, decrypt="generations").summary["messages"]
        assert abs(got - expected["messages"]) <= 0.1 * expected["messages"] + 10, (name, got, expected)
