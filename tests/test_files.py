"""sim.scenario.files: reading scenario files, with the line and column of what YAML cannot read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import HEAD, USERS, invoke, refused_with_one_line
from sim.scenario import ScenarioError, apply_overrides

# Files YAML cannot read as scenario files do: one line with the line and column, exit status 2
BAD = {
    "malformed YAML": ("horizon: [30d\nusers: {\n", "line 2, column 6: malformed YAML"),
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
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_refused_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    refused_with_one_line(tmp_path, *BAD[case], command)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_file_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path, special: str) -> None:
    """/dev/zero would be read until memory runs out, a pipe would wait for ever."""
    path = special
    if special == "fifo":
        path = str(tmp_path / "pipe.yaml")
        os.mkfifo(path)
    code, out, err = invoke("validate", path)
    assert (code, out, err) == (2, "", f"{path}: not a regular file\n")


@pytest.mark.parametrize("command", ["run", "validate"])
def test_missing_file_and_directory(tmp_path: Path, command: str) -> None:
    code, _, err = invoke(command, str(tmp_path / "nope.yaml"))
    assert code == 2 and err.strip().endswith("nope.yaml: no such file")
    code, _, err = invoke(command, str(tmp_path))
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1


def test_overrides_set_dotted_paths_in_a_copy() -> None:
    data = {"users": [{"name": "a"}], "x": None}
    assert apply_overrides(data, {"users.0.name": "b", "behaviour.backup_keys.count": 2, "x.y": 1}) == {
        "users": [{"name": "b"}], "x": {"y": 1}, "behaviour": {"backup_keys": {"count": 2}}}
    assert data == {"users": [{"name": "a"}], "x": None}
    with pytest.raises(ScenarioError, match=r"^f\.yaml: users\.1\.name: no list item '1'$"):
        apply_overrides(data, {"users.1.name": "c"}, "f.yaml")
    with pytest.raises(ScenarioError, match=r"^f\.yaml: users\.0\.name\.z: cannot descend into 'a'$"):
        apply_overrides(data, {"users.0.name.z": "c"}, "f.yaml")
