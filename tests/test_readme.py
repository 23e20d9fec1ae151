"""The README and docs/ against the code: the defaults table, the command table, links,
and nothing that lives outside the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
DEFAULTS_HEADER = ("field", "default", "if left out")
COMMANDS_HEADER = ("command", "what it does")
NO_DEFAULT = "—"  # the README's mark for a field without a default


# ---------------------------------------------------------------- reading Markdown tables


def cells(line: str) -> list[str]:
    """The cells of one table row; ``\\|`` inside a cell is not a separator."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def tables(text: str, header: tuple[str, ...]) -> list[list[str]]:
    """The body rows of every table whose header row is ``header``."""
    rows: list[list[str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and tuple(cells(line)) == header:
            for row in lines[i + 2:]:  # past the |---| line
                if not row.startswith("|"):
                    break
                rows.append(cells(row))
    return rows


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# ---------------------------------------------------------------- the schema, by dotted path


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from sim.scenario import json_schema

    return json_schema()


def _refs(prop: dict[str, Any]) -> list[str]:
    """The ``$defs`` names a property leads to: directly, as list items, or in a union."""
    found: list[str] = []
    for node in [prop, prop.get("items", {}), *prop.get("anyOf", []), *prop.get("oneOf", [])]:
        for n in (node, node.get("items", {})):
            if "$ref" in n:
                found.append(n["$ref"].rsplit("/", 1)[-1])
    return found


def resolve(schema: dict[str, Any], path: str) -> tuple[str, str, dict[str, Any]]:
    """``users[].devices[].kind`` → (model name, field name, the field's schema)."""
    parts = path.replace("[]", "").split(".")
    owner, node = "Scenario", schema
    for k, part in enumerate(parts):
        props = node.get("properties", {})
        assert part in props, f"{path}: {owner} has no field {part!r}"
        if k == len(parts) - 1:
            return owner, part, props[part]
        nxt = [r for r in _refs(props[part]) if parts[k + 1] in schema["$defs"][r].get("properties", {})]
        assert nxt, f"{path}: {owner}.{part} has no field {parts[k + 1]!r}"
        owner, node = nxt[0], schema["$defs"][nxt[0]]
    raise AssertionError(path)


def fields_with_defaults(schema: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(model, field) → default, for every field of every model that has one."""
    models = {"Scenario": schema, **schema["$defs"]}
    return {(m, f): p["default"] for m, d in models.items()
            for f, p in d.get("properties", {}).items() if "default" in p}


def same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # 1.0 is not 1, nor true


# ---------------------------------------------------------------- (a) the defaults table


def test_the_defaults_table_gives_every_default_of_the_schema(schema: dict[str, Any]) -> None:
    rows = tables(README.read_text(), DEFAULTS_HEADER)
    assert len(rows) > 20, "the README's defaults table (| field | default | if left out |) is missing"
    covered: set[tuple[str, str]] = set()
    wrong: list[str] = []
    for row in rows:
        paths, given = code_spans(row[0]), row[1]
        assert paths, f"a defaults row names no field: {row}"
        values = code_spans(given)
        if given != NO_DEFAULT and len(values) not in (1, len(paths)):
            wrong.append(f"{row[0]}: give one default, or one per field ({given})")
            continue
        for k, path in enumerate(paths):
            model, field, prop = resolve(schema, path)
            covered.add((model, field))
            if given == NO_DEFAULT:
                if "default" in prop:
                    wrong.append(f"{path}: the README says no default, the schema says {prop['default']!r}")
                continue
            text = values[0] if len(values) == 1 else values[k]
            if "default" not in prop:
                wrong.append(f"{path}: the README says {text}, the schema has no default")
            elif not same(yaml.safe_load(text), prop["default"]):
                wrong.append(f"{path}: the README says {text}, the schema says {json.dumps(prop['default'])}")
    missing = sorted(f"{m}.{f} = {json.dumps(d)}" for (m, f), d in fields_with_defaults(schema).items()
                     if (m, f) not in covered)
    assert not wrong, wrong
    assert not missing, f"defaults the README's table does not give: {missing}"


# ---------------------------------------------------------------- (b) the command table


def cli_help(*args: str) -> str:
    from click.testing import CliRunner

    from sim.cli import main

    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_of_the_readme_exists_with_its_options() -> None:
    rows = tables(README.read_text(), COMMANDS_HEADER)
    assert rows, "the README's command table (| command | what it does |) is missing"
    listed = cli_help().split("Commands:", 1)[1]
    commands = {line.split()[0] for line in listed.splitlines() if line.strip()}
    named = []
    for row in rows:
        for span in code_spans(row[0]):
            m = re.match(r"dmesim (\w+)(.*)", span)
            assert m, f"not a dmesim command: {span}"
            command, rest = m.groups()
            named.append(command)
            assert command in commands, f"dmesim {command} is not a command ({sorted(commands)})"
            options = cli_help(command)
            for flag in re.findall(r"--[a-z][a-z-]*", rest):
                assert re.search(rf"{flag}\b", options), f"dmesim {command} has no {flag}"
    assert set(named) == commands, f"commands missing from the README: {commands - set(named)}"


def test_the_two_commands_are_verbatim() -> None:
    text = README.read_text()
    for line in ("pip install -e . && dmesim run scenarios/quickstart.yaml",
                 "pip install -e '.[test]' && pytest"):  # .ci/run depends on the second
        assert line in text.splitlines(), line


# ---------------------------------------------------------------- (c), (d) self-contained docs


def test_nothing_refers_outside_the_repository() -> None:
    for doc in DOCS:
        text = doc.read_text()
        for needle in ("../shared", "PROTOCOL.md"):
            assert needle not in text, f"{doc.relative_to(ROOT)} refers to {needle}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_and_named_file_exists() -> None:
    bad = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists():
                bad.append(f"{doc.name}: {target}")
            elif anchor and path.suffix == ".md":
                anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}
                if anchor not in anchors:
                    bad.append(f"{doc.name}: {target} (no such heading)")
        # files named in code spans: scenarios, benchmarks, notebooks, tests, modules
        for name in re.findall(r"`((?:scenarios|bench|notebooks|tests|sim)/[\w./-]+\.(?:yaml|py|ipynb))", text):
            if not (ROOT / name).exists():
                bad.append(f"{doc.name}: {name}")
    assert not bad, bad


def test_every_module_the_architecture_names_exists() -> None:
    """A module named without its folder (``crypto.py``) must exist somewhere under sim/."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    have = {p.name for p in (ROOT / "sim").rglob("*.py")}
    missing = sorted({n for n in re.findall(r"`(\w+\.py)`", text)} - have)
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_the_readme_stays_short() -> None:
    assert len(README.read_text().splitlines()) <= 300
