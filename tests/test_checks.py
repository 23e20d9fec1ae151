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
