"""sim.behaviour.approvals: prompts on older devices, who approves and when, fingerprint checks."""

from __future__ import annotations

from helpers import SCENARIOS, events, run
from sim.results import run as run_scenario


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


def test_fingerprint_checks_stop_every_mitm_in_a_stochastic_history() -> None:
    from sim.scenario import apply_overrides, read_yaml, validate

    data = read_yaml(SCENARIOS / "tradeoff.yaml")
    data = apply_overrides(data, {"adversary.mitm_probability": 1.0, "adversary.backup_leak": None,
                                  "users.0.devices.0.fate": None})
    for check, expect_mitm in ((0.0, True), (1.0, False)):
        r = run_scenario(validate(apply_overrides(data, {"behaviour.approval.fingerprint_check": check})))
        kinds = {w["kind"] for w in r.summary["adversaries"]}
        assert ("mitm" in kinds) is expect_mitm
        assert ("mitm_detected" in set(r.events["event"])) is not expect_mitm
