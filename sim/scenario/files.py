"""Scenario files as data: reading the YAML, overriding dotted paths, one-line YAML text.

A scenario file is plain YAML: mappings, lists and scalars, read as a tree (nothing in two
places) that does not depend on the process's hash seed. Reading a file, or a ``--vary``
value, refuses with the line and column what :func:`yaml.safe_load` would raise on or
silently accept:

- **Anchors, and aliases only in merges.** An anchor (``&name``) is allowed. An alias
  (``*name``) is allowed only as the value of a merge key, ``<<: *name`` or
  ``<<: [*a, *b]``, which copies the keys of the mapping it names into this one (keys
  written next to it win). Any other alias is refused (``aliases are not allowed except
  as a merge, <<: *name``), and so is an alias inside the node it names. A merge copies:
  overriding one copy (``--vary``) leaves the others as they were.
- **Merges may not make the data large or deep.** Written out in full (each mapping, list
  and scalar counting one, plus the characters of each scalar), the data may not exceed
  10 MiB, the size a file may have; and it may not nest more than 32 levels. A "billion
  laughs" of nested merges is refused (``merges make the data too large: …``).
- **Only the tags of plain data.** ``!!str``, ``!!int``, ``!!float``, ``!!bool``,
  ``!!null``, ``!!timestamp``, ``!!seq`` and ``!!map`` may be written; any other tag is
  refused, naming it (``the tag !!set is not allowed: a scenario file holds plain
  mappings, lists and scalars``): ``!!set`` (its order would follow the hash seed),
  ``!!omap``, ``!!pairs``, ``!!binary``, ``!!python/…``, ``!local`` and ``!<uri>`` tags.
- **At most 32 levels of nesting**, each mapping, list and scalar being one level
  (``the YAML is nested too deeply: more than 32 levels``); a scenario needs about 10.
- **No key twice in one mapping** (``duplicate key 'horizon' (first on line 1)``), and no
  value its tag cannot convert (``2026-13-01``, ``!!int abc``).

The file itself must be a regular file of at most 10 MiB. Each refusal is one line,
``FILE: line L, column C: PROBLEM``. What is read is checked afterwards by :mod:`.checks`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .checks import ScenarioError

MAX_FILE_BYTES = 10 * 2**20
MAX_EXPANDED = MAX_FILE_BYTES  # merges written out: see the rules above


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
    """``text`` read as scenario files are (the rules above); :class:`ScenarioError` naming
    ``file`` and the line for bad YAML, an alias, a tag, a repeated key, nesting too deep,
    merges too large, or a value its tag cannot convert."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ScenarioError(file, *yaml_problem(exc)) from None
    except RecursionError:  # not expected (nesting is capped): a last resort
        raise ScenarioError(file, "", "the YAML is nested too deeply") from None


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """(``line L, column C`` or "", the problem) of a YAML error, each on one line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if not isinstance(exc, yaml.constructor.ConstructorError | _Refused):
        problem = f"malformed YAML: {problem}"
    return where, problem


MAX_DEPTH = 32  # levels of nesting: a scenario needs about 10
_YAML = "tag:yaml.org,2002:"
_MERGE = _YAML + "merge"
# The tags of plain data, which a file may write explicitly (``!!int 3``)
PLAIN_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map"))
_TAG_WORDS = {"timestamp": "a date", "int": "an integer", "float": "a number", "bool": "a boolean"}


class _Refused(yaml.MarkedYAMLError):
    """What a scenario file may not hold, though YAML allows it (an alias, a tag, ...)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def tag_text(tag: str) -> str:
    """A tag as a file writes it: ``!!set``, ``!foo``."""
    if tag.startswith(_YAML):
        return "!!" + tag.removeprefix(_YAML)
    return tag if tag.startswith("!") else f"!<{tag}>"


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` with the refusals of the module's rules, each naming its line.

    Aliases, tags and nesting are refused as the document is composed (in the order of the
    file, before anything deeper is read); repeated keys and the size and depth of merges
    are checked on the composed document, before any value is constructed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # For each node being composed, outermost first: is it the value of a merge key?
        self._merging: list[bool] = []
        self._open_anchors: list[str] = []  # the anchors of the nodes being composed
        self._aliased = False  # the document has a merge of an alias

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            merged = ((isinstance(index, yaml.ScalarNode) and index.tag == _MERGE)
                      or (isinstance(parent, yaml.SequenceNode) and self._merging[-1]))
            if not merged:
                raise _Refused("aliases are not allowed except as a merge, <<: *name", event.start_mark)
            if event.anchor in self._open_anchors:
                raise _Refused(f"the alias *{event.anchor} is inside the node it names", event.start_mark)
            self._aliased = True
            return super().compose_node(parent, index)
        if len(self._merging) >= MAX_DEPTH:
            raise _Refused(f"the YAML is nested too deeply: more than {MAX_DEPTH} levels", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in PLAIN_TAGS:
            raise _Refused(f"the tag {tag_text(tag)} is not allowed: a scenario file holds plain "
                           "mappings, lists and scalars", event.start_mark)
        anchor = event.anchor if isinstance(event, yaml.CollectionStartEvent) else None
        self._merging.append(isinstance(index, yaml.ScalarNode) and index.tag == _MERGE)
        if anchor is not None:
            self._open_anchors.append(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._merging.pop()
            if anchor is not None:
                self._open_anchors.pop()

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_repeated_keys(node)
        if not self._aliased:
            return super().construct_document(node)
        _refuse_large_merges(node)
        return _tree(super().construct_document(node))

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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _refuse_large_merges(root: yaml.Node) -> None:
    """Merges that, written out in full, would make the data larger than a file may be, or
    nest it deeper than :data:`MAX_DEPTH`: each node's size (one, plus the characters of a
    scalar, plus its children's) and height are found once, children first (the composed
    document is a graph without cycles, where a merged node is the child of each merge)."""
    done: dict[int, tuple[int, int]] = {}  # id of a node: (size, height) written out
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in done:
            continue
        children = _children(node)
        if not children_done:
            stack.append((node, True))
            stack += [(c, False) for c in reversed(children) if id(c) not in done]
            continue
        size = 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
        height = 1
        for c in children:
            size += done[id(c)][0]
            height = max(height, 1 + done[id(c)][1])
        if size > MAX_EXPANDED:
            raise _Refused(f"merges make the data too large: about {size:,} characters written out "
                           f"in full, over the {MAX_EXPANDED:,} of a file", node.start_mark)
        if height > MAX_DEPTH:
            raise _Refused(f"the YAML is nested too deeply once merges are written out: more "
                           f"than {MAX_DEPTH} levels", node.start_mark)
        done[id(node)] = (size, height)


def _tree(data: Any) -> Any:
    """``data`` with no object in two places (merges share what they copy)."""
    if isinstance(data, dict):
        return {k: _tree(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_tree(v) for v in data]
    return data


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
