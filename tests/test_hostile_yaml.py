"""Hostile YAML (issue 24): files that would expand without bound, depend on the hash seed,
nest too deeply or carry non-plain tags are refused when read, with one line and exit
status 2; plain files, anchors and merges keep working; validation is linear in the file."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import validate_large  # noqa: E402

from sim.cli import main  # noqa: E402
from sim.scenario import ScenarioError, load, parse_yaml, read_yaml, scenario_hash, validate  # noqa: E402

HEAD = "horizon: 30d\n"
USERS = "users: [{name: a, devices: [{name: p}]}]\n"
PLAIN = "a scenario file holds plain mappings, lists and scalars"


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


# The grid's first point (horizon 30d) is valid: hashing it dumped the whole sweep section,
# and with it every alias written out (before, the laughs below took all the memory there was).
VARY = HEAD + USERS + "sweep:\n  vary:\n    horizon:\n      - 30d\n"


def _laughs_of_aliases(levels: int = 10) -> str:
    """The billion laughs: each list holds nine aliases of the one before."""
    lines = ["      - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"      - &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return VARY + "\n".join(lines) + "\n"


def _laughs_of_merges(levels: int = 10) -> str:
    """The billion laughs with merges only: each mapping merges the one before ten times."""
    keys = "abcdefghij"
    lines = [f"      - &m0 {{{', '.join(f'{k}: lol' for k in keys)}}}"]
    lines += [f"      - &m{i} {{{', '.join(f'{k}: {{<<: *m{i - 1}}}' for k in keys)}}}" for i in range(1, levels)]
    return VARY + "\n".join(lines) + "\n"


def _chain_of_merges(levels: int = 20) -> str:
    """Each mapping merges the one before one level down: small, but deep once written out."""
    lines = ["      - &c0 {a: lol}"]
    lines += [f"      - &c{i} {{a: {{<<: *c{i - 1}}}}}" for i in range(1, levels)]
    return VARY + "\n".join(lines) + "\n"


# case: (text, the one line after "FILE: ")
HOSTILE = {
    # aliases: only a merge may use one
    "alias": (HEAD + USERS + "description: &d hello\nname: *d\n",
              "line 4, column 7: aliases are not allowed except as a merge, <<: *name"),
    "alias as a key": (HEAD + USERS + "sweep: {vary: {&k horizon: [1d], *k : [2d]}}\n",
                       "line 3, column 34: aliases are not allowed except as a merge, <<: *name"),
    "billion laughs of aliases": (_laughs_of_aliases(),
                                  "line 8, column 14: aliases are not allowed except as a merge, <<: *name"),
    "billion laughs of merges": (_laughs_of_merges(),
                                 "line 13, column 9: merges make the data too large: about 67,777,771 "
                                 "characters written out in full, over the 10,485,760 of a file"),
    "merges nested deep once written out": (_chain_of_merges(),
                                            "line 23, column 18: the YAML is nested too deeply once merges are "
                                            "written out: more than 32 levels"),
    "merge of itself": (HEAD + USERS + "sweep: {vary: {horizon: [30d, &x {<<: *x}]}}\n",
                        "line 3, column 39: the alias *x is inside the node it names"),
    # tags: only those of plain data
    "!!set": (HEAD + USERS + "traffic: {mail: {every: 1d, to: !!set {a, b}}}\n",
              f"line 3, column 33: the tag !!set is not allowed: {PLAIN}"),
    "!!set in sweep.vary": (HEAD + USERS + "sweep: {vary: !!set {horizon}}\n",
                            f"line 3, column 15: the tag !!set is not allowed: {PLAIN}"),
    "!!omap": (HEAD + USERS + "sweep: {vary: !!omap [{horizon: [1d]}, {seed: [1]}]}\n",
               f"line 3, column 15: the tag !!omap is not allowed: {PLAIN}"),
    "!!pairs": (HEAD + USERS + "sweep: {vary: !!pairs [{horizon: [1d]}]}\n",
                f"line 3, column 15: the tag !!pairs is not allowed: {PLAIN}"),
    "!!binary": (HEAD + USERS + "description: !!binary aGVsbG8=\n",
                 f"line 3, column 14: the tag !!binary is not allowed: {PLAIN}"),
    "!!python": (HEAD + "seed: !!python/object/apply:os.system [echo hi]\n" + USERS,
                 f"line 2, column 7: the tag !!python/object/apply:os.system is not allowed: {PLAIN}"),
    "local tag": (HEAD + "seed: !seed 3\n" + USERS, f"line 2, column 7: the tag !seed is not allowed: {PLAIN}"),
    "verbatim tag": (HEAD + "seed: !<tag:example.com,2026:seed> 3\n" + USERS,
                     f"line 2, column 7: the tag !<tag:example.com,2026:seed> is not allowed: {PLAIN}"),
    "tag on a key": (HEAD + USERS + "? !!binary aG9yaXpvbg==\n: 1d\n",
                     f"line 3, column 3: the tag !!binary is not allowed: {PLAIN}"),
    # nesting: at most 32 levels
    "deep nesting in sweep.vary": (HEAD + USERS + "sweep: {vary: {horizon: [30d, " + "[" * 40 + "]" * 41 + "}}\n",
                                   "line 3, column 59: the YAML is nested too deeply: more than 32 levels"),
    "deep block nesting": (HEAD + USERS + "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + "  " * 40 + "x\n",
                           "line 34, column 63: the YAML is nested too deeply: more than 32 levels"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_refused_through_the_cli_with_one_line(tmp_path: Path, case: str) -> None:
    text, expected = HOSTILE[case]
    f = tmp_path / "hostile.yaml"
    f.write_text(text)
    code, out, err = invoke("validate", str(f))
    assert (code, out, err) == (2, "", f"{f}: {expected}\n")
    code, out, err = invoke("run", str(f), "--out", str(tmp_path / "out"))
    assert (code, out, err) == (2, "", f"dmesim: {f}: {expected}\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_refused_by_load_with_a_scenario_error(tmp_path: Path, case: str) -> None:
    text, expected = HOSTILE[case]
    f = tmp_path / "hostile.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as exc:
        load(f)
    assert (exc.value.file, f"{exc.value.path}: {exc.value.problem}") == (str(f), expected)


def test_a_billion_laughs_is_refused_by_a_process_with_little_memory(tmp_path: Path) -> None:
    """In a process that cannot take 1.5 GiB, ``dmesim validate`` refuses both kinds of
    laughs (before, the first was expanded when the grid point was hashed)."""
    files = []
    for name, text in [("aliases", _laughs_of_aliases()), ("merges", _laughs_of_merges())]:
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(text)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**29, 3 * 2**29))

    r = subprocess.run([sys.executable, "-c", "from sim.cli import main; main()", "validate", *map(str, files)],
                       capture_output=True, text=True, timeout=60, preexec_fn=limit,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert [line.split(": ", 1)[0] for line in r.stderr.splitlines()] == list(map(str, files)), r.stderr
    assert "Traceback" not in r.stderr


def test_a_tag_or_an_alias_in_a_vary_value_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(HEAD + USERS)
    for value, problem in [("!!set {1d, 2d}", "the tag !!set is not allowed"),
                           ("*a", "aliases are not allowed")]:
        code, out, err = invoke("sweep", str(f), "--vary", f"horizon={value}", "--out", str(tmp_path / "out"))
        assert code == 2 and len(err.strip().splitlines()) == 1 and problem in err, err
        assert "Traceback" not in err + out and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- what keeps working


def test_anchors_without_aliases_load_as_without_anchors(tmp_path: Path) -> None:
    plain = textwrap.dedent("""\
        name: anchored
        horizon: 60d
        behaviour: {approval: {probability: 0.5, delay: {exp: 2d}}}
        users:
          - name: alice
            devices:
              - {name: phone, fate: {lost: 20d}}
              - {name: laptop, joins_at: 3d}
        timeline:
          - {at: 10d, action: approve, user: alice, by: phone}
        sweep: {vary: {behaviour.approval.probability: [0.1, 0.9]}}
        """)
    anchored = (plain.replace("users:", "users: &everyone").replace("{name: phone,", "&phone {name: phone,")
                .replace("{exp: 2d}", "&delay {exp: 2d}").replace("10d,", "&ten 10d,")
                .replace("[0.1, 0.9]", "&grid [0.1, 0.9]"))
    assert anchored.count("&") == 5
    (tmp_path / "plain.yaml").write_text(plain)
    (tmp_path / "anchored.yaml").write_text(anchored)
    assert read_yaml(tmp_path / "anchored.yaml") == read_yaml(tmp_path / "plain.yaml")
    assert scenario_hash(load(tmp_path / "anchored.yaml")) == scenario_hash(load(tmp_path / "plain.yaml"))
    code, out, err = invoke("validate", str(tmp_path / "anchored.yaml"))
    assert (code, err) == (0, "")


def test_merges_copy_what_they_merge(tmp_path: Path) -> None:
    """A merge still works, and an override of one copy leaves the others as they were
    (before, the merged mappings were one object: the override changed both devices)."""
    f = tmp_path / "merge.yaml"
    f.write_text(HEAD + "users: [{name: a, devices: [&d {name: p, fate: {lost: 10d}}, {<<: *d, name: q}, "
                 "{<<: [*d], name: r, fate: {lost: 5d}}]}]\n")
    s = load(f)
    assert [(d.name, d.fate and d.fate.lost.fixed) for d in s.users[0].devices] == [  # type: ignore[union-attr]
        ("p", 10), ("q", 10), ("r", 5)]
    s = load(f, {"users.0.devices.1.fate.lost": "20d"})
    assert [d.fate and d.fate.lost.fixed for d in s.users[0].devices] == [10, 20, 5]  # type: ignore[union-attr]
    data = parse_yaml("a: &x {k: {deep: 1}}\nb: {<<: *x}\n", "f")
    assert data == {"a": {"k": {"deep": 1}}, "b": {"k": {"deep": 1}}} and data["a"]["k"] is not data["b"]["k"]


def test_plain_tags_and_nesting_up_to_the_cap_are_read() -> None:
    assert parse_yaml("a: !!str 12\nb: !!int '3'\nc: !!float 1\nd: !!bool true\ne: !!null ''\n"
                      "f: !!map {x: !!seq [1]}\ng: !!timestamp 2026-01-01\n", "f") == {
        "a": "12", "b": 3, "c": 1.0, "d": True, "e": None, "f": {"x": [1]},
        "g": yaml.safe_load("2026-01-01")}
    deepest: list[Any] = []
    for _ in range(31):
        deepest = [deepest]
    assert parse_yaml("[" * 32 + "]" * 32, "f") == deepest
    with pytest.raises(ScenarioError, match="more than 32 levels"):
        parse_yaml("[" * 33 + "]" * 33, "f")


def _reversed_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _reversed_keys(data[k]) for k in reversed(list(data))}
    if isinstance(data, list):
        return [_reversed_keys(v) for v in data]
    return data


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "bench" / "large.yaml"],
                         ids=lambda p: p.name)
def test_the_same_scenario_with_its_keys_in_another_order_has_the_same_hash(tmp_path: Path, path: Path) -> None:
    data = read_yaml(path)
    f = tmp_path / path.name
    f.write_text(yaml.safe_dump(_reversed_keys(data), sort_keys=False))
    assert list(read_yaml(f)) == list(reversed(list(data)))
    assert scenario_hash(load(f)) == scenario_hash(load(path))


# ---------------------------------------------------------------- linear validation

EVENTS = 50_000


def _long_timeline(events: int = EVENTS) -> dict[str, Any]:
    """The benchmark's scenario (bench/validate_large.py), as data: parsing 3 MB of YAML in
    pure-Python PyYAML takes tens of seconds."""
    return validate_large.scenario_data(events)


def test_a_timeline_of_50000_events_validates() -> None:
    data = _long_timeline()
    s = validate(data, "long.yaml")
    assert len(s.timeline) == EVENTS


def test_problems_of_a_long_timeline_are_found_where_they_are() -> None:
    """The names the timeline gives are gathered once per user: any event of the user's may
    name them, earlier or later; another user's are unknown; the first problem is reported."""
    data = _long_timeline()
    data["timeline"][0] = {"at": "1d", "action": "revoke", "user": "alice", "device": "b-late", "by": "web"}
    data["timeline"][EVENTS - 1] = {"at": "2d", "action": "create_backup_key", "user": "alice", "by": "phone",
                                    "name": "b-late"}
    validate(data, "long.yaml")
    data["timeline"][EVENTS - 2] = {"at": "3d", "action": "lose", "user": "bob", "device": "b-late"}
    data["timeline"][EVENTS - 3] = {"at": "3d", "action": "lose", "user": "bob", "device": "tablet"}
    with pytest.raises(ScenarioError) as exc:
        validate(data, "long.yaml")
    assert (exc.value.path, exc.value.problem) == (f"timeline[{EVENTS - 3}].device", "unknown device 'tablet' of bob")
    data["timeline"][EVENTS - 3]["device"] = "phone"
    with pytest.raises(ScenarioError) as exc:
        validate(data, "long.yaml")
    assert (exc.value.path, exc.value.problem) == (f"timeline[{EVENTS - 2}].device", "unknown device 'b-late' of bob")


@pytest.mark.slow
def test_a_timeline_file_of_50000_events_validates(tmp_path: Path) -> None:
    """The benchmark's file, read and validated as `dmesim validate` does (pure-Python
    PyYAML parses 3 MB in tens of seconds: marked slow)."""
    f = tmp_path / "long.yaml"
    f.write_text(validate_large.scenario_yaml(EVENTS))
    assert len(load(f).timeline) == EVENTS
