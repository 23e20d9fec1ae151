"""sim.scenario.checks: what pydantic cannot check, and every refusal as one line (ScenarioError)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import HEAD, USERS, refused_with_one_line
from sim.scenario import ScenarioError, validate

# Files refused by a semantic check (or as empty, or with YAML's yes/no pitfall): one line, exit status 2
BAD = {
    "unknown device": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\n"
                       "timeline: [{at: 1d, action: lose, user: a, device: tablet}]\n",
                       "timeline[0].device: unknown device 'tablet' of a"),
    "empty file": ("", "the file is empty"),
    "yaml boolean": ("horizon: 30d\nusers: [{name: no, devices: [{name: p}]}]\n",
                     "users[0].name: Input should be a valid string (found False); YAML reads"),
    "reserved device": (HEAD + "users: [{name: a, devices: [{name: escrow}]}]\n",
                        "users[0].devices[0].name: 'escrow' is reserved for the user's escrow device"),
    "EA devices sharing a name": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: [{name: x, "
                                  "devices: [{name: l}]}, {name: y, devices: [{name: l}]}]}}\n",
                                  "account.escrow.admins[1].devices[0].name: two EA devices share the name 'l'"),
    "EA device named like the EA backup": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: "
                                           "[{name: x, devices: [{name: ea-backup}]}]}}\n",
                                           "account.escrow.admins[0].devices[0].name: 'ea-backup' is reserved"),
    "YAML boolean for a choice": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, online: off}]}]\n",
                                  "users[0].devices[0].online: Input should be 'always', 'daily', 'weekly', "
                                  "'rare' or 'never' (found False); YAML reads yes/no/on/off as booleans"),
    "a field the action does not use": (HEAD + USERS + "timeline: [{at: 1d, action: lose, user: a, "
                                        "device: p, by: p}]\n",
                                        "timeline[0].by: lose does not use by (it uses user, device)"),
    "a user for an EA action": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: [{name: x, "
                                "devices: [{name: l}]}]}}\ntimeline: [{at: 2d, action: compromise_ea_device, "
                                "user: a, device: l}]\n",
                                "timeline[0].user: compromise_ea_device does not use user"),
    "varied seed": (HEAD + USERS + "sweep: {vary: {seed: [1, 2]}}\n",
                    "sweep.vary.seed: replications already draw independent seeds; give the root seed with --seed"),
    "default mail to nobody": (HEAD + USERS + "traffic: {mail: {every: 1d, to: [bob]}}\n",
                               "traffic.mail.to[0]: unknown user 'bob'"),
    "default backup maker unknown": (HEAD + USERS + "behaviour: {backup_keys: {by: laptop}}\n",
                                     "behaviour.backup_keys.by: unknown device 'laptop' of a"),
    "traffic gap near zero": (HEAD + USERS + "traffic: {voicemail: {every: 0.0000000001d}}\n",
                              "traffic.voicemail.every: about 3e+11 messages within the horizon (at most 1,000,000)"),
    "sessions near zero": (HEAD + "users: [{name: a, devices: [{name: p, online: {every: 0.0000000001d, "
                           "length: 0.0000000001d}}]}]\n",
                           "users[0].devices[0].online: about 1.5e+11 online sessions within the horizon"),
    "server devices at one instant": (HEAD + USERS + "adversary: {server_devices: 0d}\n",
                                      "adversary.server_devices: server devices per user would come again and "
                                      "again at one instant"),
    "replacement churn": ("horizon: 100d\nusers: [{name: a, devices: [{name: p, fate: {decommissioned: 0d}, "
                          "replacement: {after: 1h}}]}]\n",
                          "users[0].devices[0].replacement: about 2.4e+03 replacements within the horizon "
                          "(at most 1,000)"),
    "lost escrow device": (HEAD + USERS + "account: {escrow: {enabled_at: 0d, admins: [{name: x, devices: "
                           "[{name: e}]}]}}\ntimeline: [{at: 3d, action: lose, user: a, device: escrow}]\n",
                           "timeline[0].device: lose: the escrow device is not in the user's hands"),
    "scripted name of a later device": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}, {name: l, "
                                        "joins_at: 5d}]}]\ntimeline: [{at: 1d, action: server_add_device, "
                                        "user: a, name: l}]\n",
                                        "timeline[0].name: 'l' is the name of one of a's devices"),
    "lost paper of a device": (HEAD + USERS + "timeline: [{at: 1d, action: paper_lost, user: a, device: p}]\n",
                               "timeline[0].device: paper_lost is for a backup key's string: 'p' is a device"),
    "voicemail to someone": (HEAD + USERS + "traffic: {voicemail: {every: 2d, to: [a]}}\n",
                             "traffic.voicemail.to: voicemail is the user's own: to is for mail"),
    "scripted voicemail to someone": (HEAD + "users: [{name: a, devices: [{name: p}]}, {name: b, devices: [{name: q}]}]\n"
                                      "timeline: [{at: 1d, action: send, user: a, app: voicemail, to: b}]\n",
                                      "timeline[0].to: voicemail is the user's own: to is for mail"),
    "event naming the escrow device": (HEAD + USERS + "timeline: [{at: 1d, action: create_backup_key, user: a, "
                                       "by: p, name: escrow}]\n",
                                       "timeline[0].name: 'escrow' is reserved"),
    # populations (README, Scenario files): names made by patterns, groups to mail within
    "a pattern making another user's name": (HEAD + "users: [{name: emp2, devices: [{name: p}]}, "
                                             "{name: 'emp{i}', count: 3, devices: [{name: p}]}]\n",
                                             "users[1].name: the pattern makes 'emp2' for i = 2, the name of users[0]"),
    "a user named as a pattern's person": (HEAD + "users: [{name: 'emp{i:02}', count: 12, devices: [{name: p}]}, "
                                           "{name: emp07, devices: [{name: p}]}]\n",
                                           "users[1].name: 'emp07' is also the name users[0]'s pattern makes for i = 7"),
    "two patterns making one name": (HEAD + "users: [{name: 'a{i}', count: 12, devices: [{name: p}]}, "
                                     "{name: 'a1{i}', count: 3, devices: [{name: p}]}]\n",
                                     "users[1].name: the pattern makes 'a11' for i = 1, as users[0]'s does for i = 11"),
    "two users sharing a name": (HEAD + "users: [{name: a, devices: [{name: p}]}, {name: a, devices: [{name: q}]}]\n",
                                 "users: two users share a name"),
    "mail to an unknown group": (HEAD + "users: [{name: 'c{i}', count: 5, group: club, devices: [{name: p}]}]\n"
                                 "traffic: {mail: {every: 7d, to: {group: clubs, k: 2}}}\n",
                                 "traffic.mail.to.group: unknown group 'clubs' (groups: club)"),
    "more correspondents than the group has": (HEAD + "users: [{name: 'c{i}', count: 5, group: club, "
                                               "devices: [{name: p}]}]\ntraffic: {mail: {every: 7d, to: "
                                               "{group: club, k: 5}}}\n",
                                               "traffic.mail.to.k: 5 correspondents, but group 'club' has 4 people "
                                               "besides the sender"),
    "an outsider's correspondents": (HEAD + "users: [{name: 'c{i}', count: 2, group: club, devices: [{name: p}]}, "
                                     "{name: x, devices: [{name: p}], traffic: {mail: {every: 7d, to: "
                                     "{group: club, k: 3}}}}]\n",
                                     "users[1].traffic.mail.to.k: 3 correspondents, but group 'club' has 2 people"),
    "a scripted event for someone nobody is": (HEAD + "users: [{name: 'c{i}', count: 5, devices: [{name: p}]}]\n"
                                               "timeline: [{at: 1d, action: lose, user: c6, device: p}]\n",
                                               "timeline[0].user: unknown user 'c6'"),
    "replaced EA device": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: [{name: x, devices: "
                           "[{name: e, fate: {lost: 5d}, replacement: {after: 1d}}]}]}}\n",
                           "account.escrow.admins[0].devices[0].replacement: EA devices are not replaced"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_refused_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    refused_with_one_line(tmp_path, *BAD[case], command)


def test_scenario_error_is_raised_from_python_too() -> None:
    data: dict[str, Any] = yaml.safe_load(HEAD + USERS) | {"sweep": {"vary": {"post_quantum": [False, 1]}}}
    with pytest.raises(ScenarioError) as exc:
        validate(data, "f.yaml")
    assert exc.value.path == "sweep.vary.post_quantum[1]" and "valid boolean" in exc.value.problem


def test_every_problem_of_a_file_is_reported_with_did_you_mean(tmp_path: Path) -> None:
    """All the file's problems at once, one line each naming file and place; an unknown
    key suggests the key it looks like; exit status 2."""
    from click.testing import CliRunner

    from sim.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("horizon: 30d\ntraffic:\n  mail: {evry: {exp: 2d}}\nbehaviour:\n  aproval: {probability: 0.5}\n"
                   "users:\n  - name: alice\n    devices: [{name: phone, joins_at: 5}]\n")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{bad}: behaviour.aproval: unknown key (did you mean 'approval'?)",
        f"{bad}: traffic.mail.every: required key is missing",
        f"{bad}: traffic.mail.evry: unknown key (did you mean 'every'?)",
        f"{bad}: users[0].devices[0].joins_at.fixed: duration 5 has no unit (write e.g. '5d'; units min h d w y)"
        " (found 5)"]


def test_at_most_ten_problems_are_shown_then_how_many_more(tmp_path: Path) -> None:
    from sim.scenario import ScenarioError, load

    bad = tmp_path / "many.yaml"
    bad.write_text("horizon: 30d\nusers:\n" + "".join(f"  - {{name: u{i}, devices: [{{name: p, jions_at: 1d}}]}}\n"
                                                   for i in range(12)))
    with pytest.raises(ScenarioError) as caught:
        load(bad)
    lines = str(caught.value).splitlines()
    assert len(caught.value.problems) == 12 and len(lines) == 11
    assert lines[0] == f"{bad}: users[0].devices[0].jions_at: unknown key (did you mean 'joins_at'?)"
    assert lines[-1] == f"{bad}: … and 2 more problems"
