"""Scenario files that must be refused when read, each with one line naming file, place and
problem (exit status 2, no traceback), and the JSON Schema of scenario files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from helpers import SCENARIOS
from sim.cli import main
from sim.scenario import ScenarioError, json_schema, load, parse_duration, validate

HEAD = "horizon: 30d\n"
USERS = "users: [{name: a, devices: [{name: p}]}]\n"


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


BAD = {
    # the basics: unknown keys, wrong types, durations, references, YAML
    "unknown key": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, colour: red}]}]\n",
                    "users[0].devices[0].colour: unknown key"),
    "wrong type": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\npost_quantum: maybe\n",
                   "post_quantum: Input should be a valid boolean"),
    "negative duration": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, joins_at: -3d}]}]\n",
                          "users[0].devices[0].joins_at.fixed: duration '-3d' is negative"),
    "unit-less duration": ("horizon: 30\nusers: [{name: a, devices: [{name: p}]}]\n",
                           "horizon: duration 30 has no unit"),
    "unknown device": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\n"
                       "timeline: [{at: 1d, action: lose, user: a, device: tablet}]\n",
                       "timeline[0].device: unknown device 'tablet' of a"),
    "probability above 1": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\n"
                            "behaviour: {approval: {probability: 1.5}}\n",
                            "behaviour.approval.probability: Input should be less than or equal to 1"),
    "malformed YAML": ("horizon: [30d\nusers: {\n", "line 2, column 6: malformed YAML"),
    "empty file": ("", "the file is empty"),
    "endless replacement": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, fate: {stolen: 0d}, "
                            "replacement: {after: 0d}}]}]\n",
                            "users[0].devices[0]: replacement: with the fate and the replacement both after 0 days"),
    "traffic that never moves on": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\n"
                                    "traffic: {voicemail: {every: 0d}}\n",
                                    "traffic.voicemail: every: the gap between messages is always zero"),
    "sessions that never move on": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, "
                                    "online: {every: 0d, length: 0d}}]}]\n",
                                    "users[0].devices[0]: online: with every and length both always 0 days"),
    "yaml boolean": ("horizon: 30d\nusers: [{name: no, devices: [{name: p}]}]\n",
                     "users[0].name: Input should be a valid string (found False); YAML reads"),
    # values PyYAML cannot convert: a line and column, not a traceback
    "impossible date": (HEAD + "start_date: 2026-13-01\n" + USERS,
                        "line 2, column 13: cannot read '2026-13-01' as a date (month must be in 1..12)"),
    "impossible date as a name": ("name: 2026-02-30\n" + HEAD + USERS,
                                  "line 1, column 7: cannot read '2026-02-30' as a date"),
    "!!int": (HEAD + "seed: !!int abc\n" + USERS, "line 2, column 7: cannot read 'abc' as an integer"),
    "!!float": (HEAD + "seed: !!float abc\n" + USERS, "line 2, column 7: cannot read 'abc' as a number"),
    "!!bool": (HEAD + "seed: !!bool maybe\n" + USERS, "line 2, column 7: cannot read 'maybe' as a boolean"),
    "nesting": ("horizon: " + "[" * 5000 + "]" * 5000 + "\n", "the YAML is nested too deeply"),
    "duplicate key": (HEAD + USERS + "horizon: 40d\n", "line 3, column 1: duplicate key 'horizon' (first on line 1)"),
    "nested duplicate key": (HEAD + "users: [{name: a, devices: [{name: p, name: q}]}]\n",
                             "line 2, column 39: duplicate key 'name' (first on line 2)"),
    # files that validated but crashed `run`
    "# in a device name": (HEAD + "users: [{name: a, devices: [{name: 'p#1'}]}]\n",
                           "users[0].devices[0].name: '#' is reserved for replacement devices"),
    "# in a created device's name": (HEAD + USERS + "timeline: [{at: 1d, action: server_add_device, "
                                     "user: a, name: 'p#2'}]\n",
                                     "timeline[0].name: '#' is reserved"),
    "reserved user": (HEAD + "users: [{name: escrow-admins, devices: [{name: p}]}]\n",
                      "users[0].name: 'escrow-admins' is reserved for the escrow admins' chain"),
    "reserved device": (HEAD + "users: [{name: a, devices: [{name: escrow}]}]\n",
                        "users[0].devices[0].name: 'escrow' is reserved for the user's escrow device"),
    "EA devices sharing a name": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: [{name: x, "
                                  "devices: [{name: l}]}, {name: y, devices: [{name: l}]}]}}\n",
                                  "account.escrow.admins[1].devices[0].name: two EA devices share the name 'l'"),
    "EA device named like the EA backup": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: "
                                           "[{name: x, devices: [{name: ea-backup}]}]}}\n",
                                           "account.escrow.admins[0].devices[0].name: 'ea-backup' is reserved"),
    "zero horizon": ("horizon: 0d\n" + USERS, "horizon: the horizon must be longer than 0 days"),
    "endless horizon": ("horizon: 1000000y\n" + USERS, "horizon: the horizon is capped at 100y (36500 days)"),
    "infinite duration": ("horizon: 1" + "0" * 400 + "d\n" + USERS,
                          "horizon: the duration is too large (found '1000"),
    "Argon2 memory": (HEAD + "argon2: {memory_kib: 99999999999999}\n" + USERS,
                      "argon2.memory_kib: Input should be less than or equal to 4194304"),
    "Argon2 passes": (HEAD + "argon2: {passes: 0}\n" + USERS, "argon2.passes: Input should be greater than"),
    "Argon2 lanes": (HEAD + "argon2: {memory_kib: 8, lanes: 2}\n" + USERS,
                     "argon2: memory_kib must be at least 8 per lane"),
    # the name is a folder name
    "name escaping runs/": ("name: ../../escape\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "empty name": ("name: ''\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "name with a slash": ("name: a/b\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "hidden name": ("name: .x\n" + HEAD + USERS, "name: the name is used as a folder name"),
    # lenient input
    "boolean seed": (HEAD + "seed: true\n" + USERS, "seed: Input should be a valid integer (found True)"),
    "text boolean": (HEAD + "post_quantum: 'yes'\n" + USERS, "post_quantum: Input should be a valid boolean"),
    "text count": (HEAD + USERS + "behaviour: {backup_keys: {count: '2'}}\n",
                   "behaviour.backup_keys.count: Input should be a valid integer"),
    "boolean probability": (HEAD + USERS + "behaviour: {approval: {probability: true}}\n",
                            "behaviour.approval.probability: Input should be a valid number"),
    "YAML boolean for a choice": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, online: off}]}]\n",
                                  "users[0].devices[0].online: Input should be 'always', 'daily', 'weekly', "
                                  "'rare' or 'never' (found False); YAML reads yes/no/on/off as booleans"),
    "number as a date": (HEAD + "start_date: 20260101\n" + USERS, "start_date: expected a date"),
    "a field the action does not use": (HEAD + USERS + "timeline: [{at: 1d, action: lose, user: a, "
                                        "device: p, by: p}]\n",
                                        "timeline[0].by: lose does not use by (it uses user, device)"),
    "a user for an EA action": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: [{name: x, "
                                "devices: [{name: l}]}]}}\ntimeline: [{at: 2d, action: compromise_ea_device, "
                                "user: a, device: l}]\n",
                                "timeline[0].user: compromise_ea_device does not use user"),
    # the file's sweep section
    "bad sweep.vary value": (HEAD + USERS + "sweep: {vary: {behaviour.backup_keys.count: [1, -1]}}\n",
                             "sweep.vary.behaviour.backup_keys.count[1]: Input should be greater than or equal to 0"),
    "bad sweep.vary path": (HEAD + USERS + "sweep: {vary: {users.5.name: [b]}}\n",
                            "sweep.vary.users.5.name: no list item '5'"),
    "sweep.vary value deep inside": (HEAD + USERS + "sweep: {vary: {users.0.devices.0.fate: [{lost: 3}]}}\n",
                                     "sweep.vary.users.0.devices.0.fate[0]: users[0].devices[0].fate.lost.fixed: "
                                     "duration 3 has no unit"),
    "duplicate sweep.vary value": (HEAD + USERS + "sweep: {vary: {horizon: [1d, 24h]}}\n",
                                   "sweep.vary: grid points {horizon: 1d} and {horizon: 24h} are the same scenario"),
    "empty sweep.vary list": (HEAD + USERS + "sweep: {vary: {horizon: []}}\n",
                              "sweep.vary.horizon: List should have at least 1 item"),
    "varied sweep section": (HEAD + USERS + "sweep: {vary: {sweep.reps: [1]}}\n",
                             "sweep.vary.sweep.reps: the sweep section cannot be varied"),
    "varied seed": (HEAD + USERS + "sweep: {vary: {seed: [1, 2]}}\n",
                    "sweep.vary.seed: replications already draw independent seeds; give the root seed with --seed"),
    # scenario-wide defaults are blamed where they are written
    "default mail to nobody": (HEAD + USERS + "traffic: {mail: {every: 1d, to: [bob]}}\n",
                               "traffic.mail.to[0]: unknown user 'bob'"),
    "default backup maker unknown": (HEAD + USERS + "behaviour: {backup_keys: {by: laptop}}\n",
                                     "behaviour.backup_keys.by: unknown device 'laptop' of a"),
    # gaps so short that the run would never end
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
    "infinite sigma": (HEAD + USERS + "traffic: {voicemail: {every: {lognormal: {median: 1d, sigma: .inf}}}}\n",
                       "sigma: Input should be less than or equal to 10"),
    "lost escrow device": (HEAD + USERS + "account: {escrow: {enabled_at: 0d, admins: [{name: x, devices: "
                           "[{name: e}]}]}}\ntimeline: [{at: 3d, action: lose, user: a, device: escrow}]\n",
                           "timeline[0].device: lose: the escrow device is not in the user's hands"),
    "scripted name of a later device": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}, {name: l, "
                                        "joins_at: 5d}]}]\ntimeline: [{at: 1d, action: server_add_device, "
                                        "user: a, name: l}]\n",
                                        "timeline[0].name: 'l' is the name of one of a's devices"),
    "lost paper of a device": (HEAD + USERS + "timeline: [{at: 1d, action: paper_lost, user: a, device: p}]\n",
                               "timeline[0].device: paper_lost is for a backup key's string: 'p' is a device"),
    # settings the simulation would ignore
    "voicemail to someone": (HEAD + USERS + "traffic: {voicemail: {every: 2d, to: [a]}}\n",
                             "traffic.voicemail.to: voicemail is the user's own: to is for mail"),
    "scripted voicemail to someone": (HEAD + "users: [{name: a, devices: [{name: p}]}, {name: b, devices: [{name: q}]}]\n"
                                      "timeline: [{at: 1d, action: send, user: a, app: voicemail, to: b}]\n",
                                      "timeline[0].to: voicemail is the user's own: to is for mail"),
    "event naming the escrow device": (HEAD + USERS + "timeline: [{at: 1d, action: create_backup_key, user: a, "
                                       "by: p, name: escrow}]\n",
                                       "timeline[0].name: 'escrow' is reserved"),
    "thousands of backup keys": (HEAD + USERS + "behaviour: {backup_keys: {count: 1001}}\n",
                                 "behaviour.backup_keys.count: Input should be less than or equal to 1000"),
    "replaced EA device": (HEAD + USERS + "account: {escrow: {enabled_at: 1d, admins: [{name: x, devices: "
                           "[{name: e, fate: {lost: 5d}, replacement: {after: 1d}}]}]}}\n",
                           "account.escrow.admins[0].devices[0].replacement: EA devices are not replaced"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_refused_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    text, expected = BAD[case]
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    code, out, err = invoke(command, str(f), *(["--out", str(tmp_path / "out")] if command == "run" else []))
    assert code == 2, err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0].removeprefix("dmesim: ")  # run says who is speaking; validate lists files
    assert line.startswith(f"{f}: ") and expected in line, line
    assert "Traceback" not in err + out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_file_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path, special: str) -> None:
    """/dev/zero would be read until memory runs out, a pipe would wait for ever."""
    path = special
    if special == "fifo":
        path = str(tmp_path / "pipe.yaml")
        os.mkfifo(path)
    code, out, err = invoke("validate", path)
    assert (code, out, err) == (2, "", f"{path}: not a regular file\n")


def test_validate_goes_on_after_a_file_yaml_cannot_convert(tmp_path: Path) -> None:
    files = []
    for i, text in enumerate([HEAD + "start_date: 2026-13-01\n" + USERS, HEAD + "seed: !!int x\n" + USERS,
                              HEAD + USERS, HEAD + USERS + "horizon: 2d\n"]):
        files.append(tmp_path / f"{i}.yaml")
        files[-1].write_text(text)
    code, out, err = invoke("validate", *map(str, files))
    assert code == 2
    assert out.splitlines() == [f"{files[2]}: ok"]
    assert [line.split(":")[0] for line in err.splitlines()] == [str(files[i]) for i in (0, 1, 3)]


def test_accepted_inputs_stay_accepted(tmp_path: Path) -> None:
    ok = {"name": "my-run_2.v1", "horizon": "100y", "seed": 3, "post_quantum": True,
          "start_date": "2026-01-01", "argon2": {"memory_kib": 4194304, "passes": 1, "lanes": 4},
          "behaviour": {"approval": {"probability": 1}},  # an integer probability is a number
          "users": [{"name": "a", "devices": [{"name": "p", "fate": {"lost": "60d"},
                                               "replacement": {"after": "1d"}}]}],
          "timeline": [{"at": "65d", "action": "lose", "user": "a", "device": "p#2"},
                       {"at": "66d", "action": "revoke", "user": "a", "device": "p#2", "by": "web"}],
          "sweep": {"vary": {"behaviour.backup_keys.count": [0, 1]}}}
    s = validate(ok)
    assert s.horizon == 36500 and s.start_date is not None and s.start_date.isoformat() == "2026-01-01"
    # YAML anchors and merge keys may override what they merge
    f = tmp_path / "merge.yaml"
    f.write_text("horizon: 30d\nusers: [{name: a, devices: [{<<: &d {name: p, kind: phone}, kind: laptop}, "
                 "{<<: *d, name: q}]}]\n")
    s = load(f)
    assert [(d.name, d.kind) for d in s.users[0].devices] == [("p", "laptop"), ("q", "phone")]


def test_every_included_scenario_still_validates() -> None:
    for f in sorted(SCENARIOS.glob("*.yaml")):
        load(f)


def test_the_readme_example_scenario_validates() -> None:
    readme = (SCENARIOS.parent / "README.md").read_text()
    example = readme.split("## Scenario files", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    s = validate(yaml.safe_load(example), "README.md")
    assert [u.name for u in s.users] == ["alice", "bob"] and s.timeline


def test_scenario_error_is_raised_from_python_too() -> None:
    data: dict[str, Any] = yaml.safe_load(HEAD + USERS) | {"sweep": {"vary": {"post_quantum": [False, 1]}}}
    with pytest.raises(ScenarioError) as exc:
        validate(data, "f.yaml")
    assert exc.value.path == "sweep.vary.post_quantum[1]" and "valid boolean" in exc.value.problem


# ---------------------------------------------------------------- the JSON Schema


def test_schema_types_durations_as_strings_with_the_parser_pattern() -> None:
    import re

    schema = json_schema()
    horizon = schema["properties"]["horizon"]
    assert horizon["type"] == "string"
    pattern = re.compile(horizon["pattern"])
    for text in ("90d", "1d12h", "2w", "1y", "30m", " 1.5d ", ".5h"):
        assert pattern.search(text), text
        parse_duration(text)
    for text in ("90", "-3d", "3 days", ""):
        assert not pattern.search(text), text
    joins_at = schema["$defs"]["DeviceSpec"]["properties"]["joins_at"]
    assert joins_at["oneOf"][0]["type"] == "string" and joins_at["default"] == "0d"
    assert schema["$defs"]["Sessions"]["properties"]["length"]["default"] == "1h"
    assert "number" not in json.dumps(schema["$defs"]["Uniform"])


def test_every_included_scenario_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    code, out, _ = invoke("schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) == 21
    for f in files:
        # as an editor sees the file: dates are text
        data = json.loads(json.dumps(yaml.safe_load(f.read_text()), default=str))
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, (f.name, errors[:3])
    bad = {"horizon": 30, "users": [{"name": "a", "devices": [{"name": "p", "joins_at": "3"}]}]}
    assert len(list(validator.iter_errors(bad))) == 2
