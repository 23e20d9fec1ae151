"""Scenario files as data: reading the YAML, overriding dotted paths, one-line YAML text.

Reading refuses, with the line and column, what :func:`yaml.safe_load` would raise on or
silently accept: malformed YAML, a value its tag cannot convert (``2026-13-01``), a key
given twice in one mapping, nesting too deep; and it refuses files that are not regular
files or are too large. What is read is plain data (mappings, lists, scalars), checked
afterwards by :mod:`.checks`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .checks import ScenarioError

MAX_FILE_BYTES = 10 * 2**20


def read_yaml(path: str | Path) -> Any:
    """The data of the scenario file ``path``."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError(str(p), "", "no such file")
    if p.is_dir():
        raise ScenarioError(str(p), "", "is a directory, not a scenario file")
    if not p.is_file():  # a device such as /dev/zero, or a pipe: it may never end
        raise ScenarioError(str(p), "", "not a regular file")
    if (size := p.stat().st_size) > MAX_FILE_BYTES:
        raise ScenarioError(str(p), "", f"{size:,} bytes: too large for a scenario file "
                                        f"(at most {MAX_FILE_BYTES:,})")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(p), "", f"cannot read: {exc}") from None
    return parse_yaml(text, str(p))


def parse_yaml(text: str, file: str) -> Any:
    """``text`` read as scenario files are (:class:`_Loader`); :class:`ScenarioError` naming
    ``file`` and the line for bad YAML, a value its tag cannot convert, a repeated key or
    nesting too deep."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ScenarioError(file, *yaml_problem(exc)) from None
    except RecursionError:
        raise ScenarioError(file, "", "the YAML is nested too deeply") from None


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """(``line L, column C`` or "", the problem) of a YAML error, each on one line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if not isinstance(exc, yaml.constructor.ConstructorError):
        problem = f"malformed YAML: {problem}"
    return where, problem


_TAG_WORDS = {"timestamp": "a date", "int": "an integer", "float": "a number", "bool": "a boolean"}


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load``, with two more refusals that name their line: a value its tag
    cannot convert (``2026-13-01``, ``!!int abc``) and a key repeated in one mapping."""

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_repeated_keys(node)
        return super().construct_document(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # what a scalar constructor raises: ValueError, KeyError, …
            tag = str(node.tag).rsplit(":", 1)[-1]
            what = _TAG_WORDS.get(tag, f"!!{tag}")
            mark = node.start_mark
            explicit = mark.buffer is not None and mark.buffer[mark.pointer:mark.pointer + 1] == "!"
            detail = f" ({exc})" if tag == "timestamp" and isinstance(exc, ValueError) else ""
            hint = "" if explicit else "; quote it if it is meant as text"
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as {what}{detail}{hint}", mark) from None


def _refuse_repeated_keys(root: yaml.Node) -> None:
    """A key given twice in one mapping (``<<`` merges may be overridden, as YAML says)."""
    stack, seen_nodes = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                stack += [key, value]
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                ident = (key.tag, key.value)
                if ident in first:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key.value!r} (first on line {first[ident] + 1})",
                        key.start_mark)
                first[ident] = key.start_mark.line
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def flow_yaml(value: Any) -> str:
    """``value`` as one line of YAML flow text (``{exp: 2d}``), or as Python writes it where
    YAML would take several lines (text with a line break, ``!!binary``) or is too deeply
    nested to write."""
    try:
        text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip()
    except RecursionError:
        return repr(value)
    return repr(value) if "\n" in text else text


def apply_overrides(data: Any, overrides: dict[str, Any], file: str = "<scenario>") -> dict[str, Any]:
    """Set dotted paths (``behaviour.backup_keys.count``, ``users.0.devices.1.kind``) in a
    copy of the raw scenario data; intermediate mappings are created as needed."""
    if not isinstance(data, dict):
        raise ScenarioError(file, "", "expected a mapping at the top")
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node: Any = out
        parts = dotted.split(".")
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(file, dotted, f"no list item {part!r}")
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None:
                        node[part] = {}
                    node = node[part]
            else:
                raise ScenarioError(file, dotted, f"cannot descend into {node!r}")
    return out
