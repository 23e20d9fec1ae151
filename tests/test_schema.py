"""sim.scenario.schema: the pydantic models of scenario files, the rules on each value, the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers import GOOD, HEAD, SCENARIOS, USERS, invoke, refused_with_one_line
from sim.scenario import json_schema, load, parse_duration, validate

# A user, then an entry standing for COUNT people named by PATTERN: POP.format(PATTERN, COUNT)
POP = "users: [{{name: a, devices: [{{name: p}}]}}, {{name: '{}', count: {}, devices: [{{name: p}}]}}]\n"

# Files refused by a rule on one value (the pydantic models): one line, exit status 2
BAD = {
    "unknown key": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, colour: red}]}]\n",
                    "users[0].devices[0].colour: unknown key"),
    "wrong type": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\npost_quantum: maybe\n",
                   "post_quantum: Input should be a valid boolean"),
    "probability above 1": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\n"
                            "behaviour: {approval: {probability: 1.5}}\n",
                            "behaviour.approval.probability: Input should be less than or equal to 1"),
    "endless replacement": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, fate: {stolen: 0d}, "
                            "replacement: {after: 0d}}]}]\n",
                            "users[0].devices[0]: replacement: with the fate and the replacement both after 0 days"),
    "traffic that never moves on": ("horizon: 30d\nusers: [{name: a, devices: [{name: p}]}]\n"
                                    "traffic: {voicemail: {every: 0d}}\n",
                                    "traffic.voicemail: every: the gap between messages is always zero"),
    "sessions that never move on": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, "
                                    "online: {every: 0d, length: 0d}}]}]\n",
                                    "users[0].devices[0]: online: with every and length both always 0 days"),
    "# in a device name": (HEAD + "users: [{name: a, devices: [{name: 'p#1'}]}]\n",
                           "users[0].devices[0].name: '#' is reserved for replacement devices"),
    "# in a created device's name": (HEAD + USERS + "timeline: [{at: 1d, action: server_add_device, "
                                     "user: a, name: 'p#2'}]\n",
                                     "timeline[0].name: '#' is reserved"),
    "reserved user": (HEAD + "users: [{name: escrow-admins, devices: [{name: p}]}]\n",
                      "users[0].name: 'escrow-admins' is reserved for the escrow admins' chain"),
    "zero horizon": ("horizon: 0d\n" + USERS, "horizon: the horizon must be longer than 0 days"),
    "endless horizon": ("horizon: 1000000y\n" + USERS, "horizon: the horizon is capped at 100y (36500 days)"),
    "Argon2 memory": (HEAD + "argon2: {memory_kib: 99999999999999}\n" + USERS,
                      "argon2.memory_kib: Input should be less than or equal to 4194304"),
    "Argon2 passes": (HEAD + "argon2: {passes: 0}\n" + USERS, "argon2.passes: Input should be greater than"),
    "Argon2 lanes": (HEAD + "argon2: {memory_kib: 8, lanes: 2}\n" + USERS,
                     "argon2: memory_kib must be at least 8 per lane"),
    "name escaping runs/": ("name: ../../escape\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "empty name": ("name: ''\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "name with a slash": ("name: a/b\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "hidden name": ("name: .x\n" + HEAD + USERS, "name: the name is used as a folder name"),
    "boolean seed": (HEAD + "seed: true\n" + USERS, "seed: Input should be a valid integer (found True)"),
    "text boolean": (HEAD + "post_quantum: 'yes'\n" + USERS, "post_quantum: Input should be a valid boolean"),
    "text count": (HEAD + USERS + "behaviour: {backup_keys: {count: '2'}}\n",
                   "behaviour.backup_keys.count: Input should be a valid integer"),
    "boolean probability": (HEAD + USERS + "behaviour: {approval: {probability: true}}\n",
                            "behaviour.approval.probability: Input should be a valid number"),
    "number as a date": (HEAD + "start_date: 20260101\n" + USERS, "start_date: expected a date"),
    "empty sweep.vary list": (HEAD + USERS + "sweep: {vary: {horizon: []}}\n",
                              "sweep.vary.horizon: List should have at least 1 item"),
    "thousands of backup keys": (HEAD + USERS + "behaviour: {backup_keys: {count: 1001}}\n",
                                 "behaviour.backup_keys.count: Input should be less than or equal to 1000"),
    # populations: an entry with count, its name a pattern (README, Scenario files)
    "no people": (HEAD + POP.format("emp{i}", 0),
                  "users[1].count: Input should be greater than or equal to 1 (found 0)"),
    "negative count": (HEAD + POP.format("emp{i}", -5),
                       "users[1].count: Input should be greater than or equal to 1 (found -5)"),
    "too many people": (HEAD + POP.format("emp{i}", 100001),
                        "users[1].count: Input should be less than or equal to 100000 (found 100001)"),
    "people counted in text": (HEAD + POP.format("emp{i}", "'3'"),
                               "users[1].count: Input should be a valid integer (found '3')"),
    "count without {i}": (HEAD + POP.format("emp", 3),
                          "users[1].name: with count, the name is a pattern: write {i} where each person's number "
                          "goes, e.g. emp{i:03} (found 'emp')"),
    "a pattern making one name twice": (HEAD + POP.format("u{i:.0e}", 20),
                                        "users[1].name: makes 'u1e+01' twice, for i = 10 and 11 (found 'u{i:.0e}')"),
    "a bad format spec": (HEAD + POP.format("emp{i:q}", 3),
                          "users[1].name: not a name pattern: Unknown format code 'q' for object of type 'int' "
                          "(found 'emp{i:q}')"),
    "a field other than i": (HEAD + POP.format("emp{n}", 3),
                             "users[1].name: a name pattern may use only {i} or {i:SPEC}, not {n} (found 'emp{n}')"),
    "an unmatched brace": (HEAD + POP.format("emp{i", 3),
                           "users[1].name: not a name pattern: expected '}' before end of string (found 'emp{i')"),
    "a pattern making no name": (HEAD + POP.format("emp{i: >3}", 3),
                                 "users[1].name: makes 'emp  1' for i = 1: a name is letters, digits and _ . # + - "
                                 "(found 'emp{i: >3}')"),
    "a pattern without count": (HEAD + "users: [{name: 'emp{i}', devices: [{name: p}]}]\n",
                                "users[0].name: a name with { } is a pattern: give count, the people it stands for "
                                "(found 'emp{i}')"),
    "a name with a space": (HEAD + "users: [{name: 'a b', devices: [{name: p}]}]\n",
                            "users[0].name: a name is letters, digits and _ . # + - (found 'a b')"),
    "mail to a bare name": (HEAD + USERS + "traffic: {mail: {every: 1d, to: a}}\n",
                            "traffic.mail.to: expected a list of users, or {group: G, k: N} (found 'a')"),
    "no correspondents": (HEAD + USERS + "traffic: {mail: {every: 1d, to: {group: g, k: 0}}}\n",
                          "traffic.mail.to.k: Input should be greater than or equal to 1 (found 0)"),
    "correspondents without k": (HEAD + USERS + "traffic: {mail: {every: 1d, to: {group: g}}}\n",
                                 "traffic.mail.to.k: required key is missing"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_refused_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    refused_with_one_line(tmp_path, *BAD[case], command)


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


def test_a_seed_beyond_int64_in_the_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(f"seed: {2**64}\n{GOOD}")
    out = str(tmp_path / "out")
    for args in (["validate", str(f)], ["run", str(f), "--out", out], ["sweep", str(f), "--out", out]):
        code, stdout, err = invoke(*args)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err + stdout, err
        assert f"{f}: seed: Input should be less than or equal to 9223372036854775807" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the JSON Schema


def test_schema_is_json_schema() -> None:
    code, out, _ = invoke("schema")
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "Scenario"
    assert {"horizon", "users", "timeline", "behaviour"} <= set(schema["properties"])


def test_schema_types_durations_as_strings_with_the_parser_pattern() -> None:
    import re

    schema = json_schema()
    horizon = schema["properties"]["horizon"]
    assert horizon["type"] == "string"
    pattern = re.compile(horizon["pattern"])
    for text in ("90d", "1d12h", "2w", "1y", "30min", " 1.5d ", ".5h"):
        assert pattern.search(text), text
        parse_duration(text)
    for text in ("90", "-3d", "3 days", "", "30m", "3mo"):
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
    assert len(files) == 23
    for f in files:
        # as an editor sees the file: dates are text
        data = json.loads(json.dumps(yaml.safe_load(f.read_text()), default=str))
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, (f.name, errors[:3])
    bad = {"horizon": 30, "users": [{"name": "a", "devices": [{"name": "p", "joins_at": "3"}]}]}
    assert len(list(validator.iter_errors(bad))) == 2


def test_a_file_without_populations_keeps_its_hash() -> None:
    """count and group came later: left out of the hash while unset, so a sweep of an older
    file can still be resumed (the value below is the hash before they existed)."""
    from sim.scenario import scenario_hash

    s = validate(yaml.safe_load(GOOD + "traffic: {mail: {every: 2d, to: [alice]}}\n"))
    assert scenario_hash(s) == "ae32d248a8491c85"
    data = yaml.safe_load(GOOD)
    plain = scenario_hash(validate(data))
    data["users"][0]["group"] = "g"
    assert scenario_hash(validate(data)) != plain
