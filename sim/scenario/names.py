"""Names in scenario files: the characters a name may have, and the name patterns of
populations (README, *Scenario files*): a ``users`` entry with ``count: N`` names its people
by a Python format pattern of ``i`` = 1 … N, such as ``emp{i:03}`` (``emp001``, ``emp002`` …).
"""

from __future__ import annotations

import re
import string

from ..model import EA_USER

NAME_PATTERN = r"^[A-Za-z0-9_.#+-]+$"  # a user's, a device's, a group's name
VALID_NAME = re.compile(NAME_PATTERN)


def expand(pattern: str, count: int) -> list[str]:
    """The names ``pattern`` makes for i = 1 … ``count``."""
    return [pattern.format(i=i) for i in range(1, count + 1)]


def pattern_problem(pattern: str, count: int) -> str | None:
    """What makes ``pattern`` no name pattern for ``count`` people, or None: it must use
    ``{i}`` (with a format spec or not, and no other field), make a valid name for each i,
    never the reserved ``escrow-admins``, and never the same name twice."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        return f"not a name pattern: {exc}"
    if not fields:
        return "with count, the name is a pattern: write {i} where each person's number goes, e.g. emp{i:03}"
    for f, spec, conv in fields:
        if f != "i" or conv is not None or "{" in (spec or ""):
            field = "{" + f + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            return f"a name pattern may use only {{i}} or {{i:SPEC}}, not {field}"
    try:
        names = expand(pattern, count)
    except ValueError as exc:
        return f"not a name pattern: {exc}"
    first: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        if not VALID_NAME.match(name):
            return f"makes {name!r} for i = {i}: a name is letters, digits and _ . # + -"
        if name == EA_USER:
            return f"makes {name!r} for i = {i}, reserved for the escrow admins' chain"
        if name in first:
            return f"makes {name!r} twice, for i = {first[name]} and {i}"
        first[name] = i
    return None
