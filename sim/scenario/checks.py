"""Checking a scenario: what makes one unusable, said in one line.

:func:`validate_one` turns parsed YAML into a :class:`~.schema.Scenario` or raises
:class:`ScenarioError` naming the place (``users[0].devices[1].name``) and the problem.
Pydantic checks each value on its own (:mod:`.schema`); the semantic checks here see what
it cannot: references between sections (a timeline event's user and devices, EA devices,
mail recipients), names the simulation reserves for itself, fields an action does not use,
and settings so frequent that a run would not end.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

from pydantic import ValidationError

from ..model import EA_BACKUP, ESCROW_DEVICE
from .durations import DIST_TAGS, sample_mean
from .schema import (
    MAX_DEVICES,
    MAX_REPEATS,
    Correspondents,
    Scenario,
    Sessions,
    UserSpec,
    json_schema,
)

MAX_SHOWN = 10  # problems of one file shown at most; a last line counts the rest


class ScenarioError(Exception):
    """A scenario that cannot be used: ``str()`` is one line per problem, ``file: path:
    problem`` (at most :data:`MAX_SHOWN`, then a line with how many more); ``path`` and
    ``problem`` are the first's."""

    def __init__(self, file: str, path: str, problem: str,
                 more: list[tuple[str, str]] | None = None) -> None:
        self.file, self.path, self.problem = file, path, problem
        self.problems = [(path, problem), *(more or [])]
        lines = [f"{file}: {p}: {q}" if p else f"{file}: {q}" for p, q in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            lines.append(f"{file}: … and {len(self.problems) - MAX_SHOWN} more problems")
        super().__init__("\n".join(lines))


def error_path(loc: tuple[Any, ...]) -> str:
    """A place in a scenario as a file would name it: ``("users", 0, "name")`` →
    ``users[0].name`` (pydantic's names for the members of a union are left out)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) in {*DIST_TAGS.values(), "Sessions", "Correspondents", "str"} or "[" in str(part):
            continue  # pydantic's names for union members
        else:
            out += ("." if out else "") + str(part)
    return out


def validate_one(data: Any, file: str) -> Scenario:
    """Parsed YAML as one scenario (its sweep grid is not looked at); :class:`ScenarioError`
    with every problem, from pydantic (one per place) or else from the semantic checks."""
    if data is None:
        raise ScenarioError(file, "", "the file is empty")
    if not isinstance(data, dict):
        raise ScenarioError(file, "", f"expected a mapping at the top, found {type(data).__name__}")
    try:
        s = Scenario.model_validate(data)
    except ValidationError as exc:
        found: dict[str, str] = {}  # place → its first problem (a union's members fail alike)
        for err in exc.errors():
            found.setdefault(error_path(tuple(err["loc"])), _problem(err))
        first, *more = found.items()
        raise ScenarioError(file, *first, more=more) from None
    problems = semantic_checks(s)
    if problems:
        raise ScenarioError(file, *problems[0], more=problems[1:])
    return s


def _problem(err: Any) -> str:
    """One pydantic error in words: an unknown key with the key it most looks like."""
    found = err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, _keys(), n=1, cutoff=0.6)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if err["type"] == "missing":
        return "required key is missing"
    if not isinstance(found, dict | list) and "found" not in msg:
        msg += f" (found {found!r})"
        if isinstance(found, bool) and err["type"] in ("string_type", "literal_error"):
            msg += "; YAML reads yes/no/on/off as booleans: quote the value"
    return msg


@functools.cache
def _keys() -> tuple[str, ...]:
    """Every key a scenario file may write, anywhere: what an unknown key may be a typo of."""
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(json_schema())
    return tuple(sorted(keys))


# ---------------------------------------------------------------- the semantic checks

_NEEDS = {"approve": "by", "revoke": "device", "lose": "device", "steal": "device",
          "wipe": "device", "decommission": "device", "create_backup_key": "by",
          "paper_lost": "device", "recover_backup": "device", "enroll_escrow": "by",
          "escrow_recover": "device", "rotate": "by", "send": "app", "online": "device",
          "offline": "device", "revoke_ea_device": "device", "server_add_device": "name",
          "mitm": "device", "leak_backup": "device", "compromise_ea_device": "device"}
# The fields each action reads (besides at and action); any other field is refused.
_USES = {
    **dict.fromkeys(("lose", "steal", "wipe", "decommission", "online", "offline", "paper_lost",
                     "mitm", "leak_backup"), {"user", "device"}),
    **dict.fromkeys(("approve", "enroll_escrow", "rotate"), {"user", "by"}),
    **dict.fromkeys(("revoke", "recover_backup", "escrow_recover"), {"user", "device", "by"}),
    "create_backup_key": {"user", "by", "name"}, "send": {"user", "app", "to"},
    "server_add_device": {"user", "name"},
    "revoke_ea_device": {"device", "by"}, "compromise_ea_device": {"device"},
}
_EVENT_FIELDS = ("user", "device", "by", "app", "to", "name")
# Actions on a device in the user's hands (the escrow device never is)
_HELD_DEVICE_ACTIONS = ("lose", "steal", "wipe", "decommission", "online", "offline", "mitm")


def _where(i: int, u: UserSpec, section: str, key: str, rest: str) -> str:
    """Where user ``i``'s setting is written: its own, or the scenario-wide default."""
    own = getattr(u, section) is not None and key in getattr(u, section).model_fields_set
    return f"users[{i}].{section}.{key}{rest}" if own else f"{section}.{key}{rest}"


def _too_often(horizon: float, gap: float, what: str, most: int = MAX_REPEATS) -> str | None:
    if horizon <= most * gap:
        return None
    if gap == 0:
        return f"{what} would come again and again at one instant (every gap is 0 days)"
    return f"about {horizon / gap:.3g} {what} within the horizon (at most {most:,})"


def semantic_checks(s: Scenario) -> list[tuple[str, str]]:
    """(place, problem) for each reference or setting that pydantic cannot check."""
    problems: list[tuple[str, str]] = []
    users = s.people()  # every person's name → their entry
    problems += _name_clashes(s)
    groups = s.groups()
    ea_devices: set[str] = set()
    for i, a in enumerate(s.account.escrow.admins if s.account.escrow else []):
        for j, d in enumerate(a.devices):
            where = f"account.escrow.admins[{i}].devices[{j}].name"
            if d.name in ea_devices:
                problems.append((where, f"two EA devices share the name {d.name!r} (the admins "
                                        "share one chain)"))
            if d.name == EA_BACKUP:
                problems.append((where, f"{EA_BACKUP!r} is reserved for the EA backup key"))
            if d.replacement is not None:
                problems.append((f"account.escrow.admins[{i}].devices[{j}].replacement",
                                 "EA devices are not replaced automatically: list the next EA device "
                                 "with its own joins_at"))
            ea_devices.add(d.name)
    voicemail_to = "voicemail is the user's own: to is for mail"
    if s.traffic.voicemail is not None and s.traffic.voicemail.to:
        problems.append(("traffic.voicemail.to", voicemail_to))
    for i, u in enumerate(s.users):
        names = [d.name for d in u.devices]
        if len(set(names)) != len(names):
            problems.append((f"users[{i}].devices", "two devices share a name"))
        if ESCROW_DEVICE in names:
            problems.append((f"users[{i}].devices[{names.index(ESCROW_DEVICE)}].name",
                             f"{ESCROW_DEVICE!r} is reserved for the user's escrow device"))
        bk = s.behaviour_of(u).backup_keys
        if bk and bk.by and bk.by not in names:
            problems.append((_where(i, u, "behaviour", "backup_keys", ".by"), f"unknown device {bk.by!r} of {u.name}"))
        if u.traffic is not None and u.traffic.voicemail is not None and u.traffic.voicemail.to:
            problems.append((f"users[{i}].traffic.voicemail.to", voicemail_to))
        mail = s.traffic_of(u).mail
        if mail is not None and isinstance(mail.to, Correspondents):
            problems += _correspondents(mail.to, groups, u, _where(i, u, "traffic", "mail", ".to"))
        for k, to in enumerate(mail.to if mail and isinstance(mail.to, list) else []):
            if to not in users:
                problems.append((_where(i, u, "traffic", "mail", f".to[{k}]"), f"unknown user {to!r}"))
        for app in ("voicemail", "mail"):
            stream = getattr(s.traffic_of(u), app)
            if stream is not None and (problem := _too_often(s.horizon, sample_mean(stream.every), "messages")):
                problems.append((_where(i, u, "traffic", app, ".every"), problem))
        for j, d in enumerate(u.devices):
            if isinstance(d.online, Sessions) and (problem := _too_often(
                    s.horizon, sample_mean(d.online.every) + sample_mean(d.online.length), "online sessions")):
                problems.append((f"users[{i}].devices[{j}].online", problem))
            if d.fate and d.replacement and (problem := _too_often(
                    s.horizon, sample_mean(d.fate.after) + sample_mean(d.replacement.after), "replacements",
                    MAX_DEVICES)):
                problems.append((f"users[{i}].devices[{j}].replacement", problem))
    server = s.adversary.server_devices
    if server is not None and (problem := _too_often(s.horizon, sample_mean(server), "server devices per user",
                                                     MAX_DEVICES)):
        problems.append(("adversary.server_devices", problem))
    if s.sweep is not None and "seed" in s.sweep.vary:
        problems.append(("sweep.vary.seed", "replications already draw independent seeds; give the "
                                            "root seed with --seed instead"))
    problems += _timeline_checks(s, users, ea_devices, voicemail_to)
    return problems


def _name_clashes(s: Scenario) -> list[tuple[str, str]]:
    """Two people with one name: two users, or a pattern's name and another entry's (a
    pattern making one name twice is refused with its entry's name)."""
    problems: list[tuple[str, str]] = []
    first: dict[str, tuple[int, int]] = {}  # a person's name → (its entry's index, its i)
    for i, u in enumerate(s.users):
        for k, name in enumerate(u.names(), 1):
            if name not in first:
                first[name] = (i, k)
                continue
            j, kj = first[name]
            if u.count is None and s.users[j].count is None:
                problems.append(("users", "two users share a name"))
            elif u.count is None:
                problems.append((f"users[{i}].name", f"{name!r} is also the name users[{j}]'s pattern makes "
                                                     f"for i = {kj}"))
            elif s.users[j].count is None:
                problems.append((f"users[{i}].name", f"the pattern makes {name!r} for i = {k}, the name of "
                                                     f"users[{j}]"))
            else:
                problems.append((f"users[{i}].name", f"the pattern makes {name!r} for i = {k}, as users[{j}]'s "
                                                     f"does for i = {kj}"))
            break  # one problem per entry
    return problems


def _correspondents(to: Correspondents, groups: dict[str, list[str]], u: UserSpec,
                    where: str) -> list[tuple[str, str]]:
    """A group to draw correspondents from: it exists and has ``k`` people besides the sender."""
    if to.group not in groups:
        known = ", ".join(sorted(groups)) or "none: give users a group"
        return [(f"{where}.group", f"unknown group {to.group!r} (groups: {known})")]
    others = len(groups[to.group]) - (u.group == to.group)
    if to.k > others:
        besides = " besides the sender" if u.group == to.group else ""
        return [(f"{where}.k", f"{to.k} correspondents, but group {to.group!r} has {others} "
                               f"{'person' if others == 1 else 'people'}{besides}")]
    return []


def _timeline_checks(s: Scenario, users: dict[str, UserSpec], ea_devices: set[str],
                     voicemail_to: str) -> list[tuple[str, str]]:
    """The fields each scripted event gives: used by its action, and naming users and
    devices that exist."""
    problems: list[tuple[str, str]] = []
    # The names the timeline gives (backup keys, server devices), per user: an event may
    # name one given by any event of its user's. Gathered once, so the checks stay linear.
    named: dict[str | None, set[str]] = {}
    for x in s.timeline:
        if x.name:
            named.setdefault(x.user, set()).add(x.name)
    for i, e in enumerate(s.timeline):
        where = f"timeline[{i}]"
        for field in _EVENT_FIELDS:
            if getattr(e, field) is not None and field not in _USES[e.action]:
                problems.append((f"{where}.{field}", f"{e.action} does not use {field} (it uses "
                                 f"{', '.join(f for f in _EVENT_FIELDS if f in _USES[e.action])})"))
        if e.name in (ESCROW_DEVICE, EA_BACKUP):
            problems.append((f"{where}.name", f"{e.name!r} is reserved for the escrow device and the EA backup key"))
        if e.action == "send" and e.app == "voicemail" and e.to is not None:
            problems.append((f"{where}.to", voicemail_to))
        need = _NEEDS.get(e.action)
        if need and getattr(e, need) is None:
            problems.append((f"{where}.{need}", f"{e.action} needs {need}"))
        if e.action in ("revoke_ea_device", "compromise_ea_device"):
            if s.account.escrow is None:
                problems.append((where, f"{e.action} needs account.escrow"))
            for field in ("device", "by"):
                v = getattr(e, field)
                if v is not None and v not in ea_devices:
                    problems.append((f"{where}.{field}", f"unknown EA device {v!r}"))
            continue
        if e.user is None:
            problems.append((f"{where}.user", f"{e.action} needs a user"))
            continue
        if e.user not in users:
            problems.append((f"{where}.user", f"unknown user {e.user!r}"))
            continue
        known = {d.name for d in users[e.user].devices}
        if e.action in ("paper_lost", "leak_backup") and e.device in known:
            problems.append((f"{where}.device", f"{e.action} is for a backup key's string: {e.device!r} "
                             "is a device (lose, steal, wipe or decommission it)"))
        if e.action in ("server_add_device", "create_backup_key") and e.name in known:
            problems.append((f"{where}.name", f"{e.name!r} is the name of one of {e.user}'s devices"))
        if e.action in _HELD_DEVICE_ACTIONS and e.device == ESCROW_DEVICE:
            problems.append((f"{where}.device", f"{e.action}: the escrow device is not in the user's hands "
                             "(its secret is sealed to the escrow admins)"))
        if e.action == "paper_lost" and e.device == ESCROW_DEVICE:
            problems.append((f"{where}.device", "paper_lost: the escrow device has no paper (its secret "
                             "is sealed to the escrow admins)"))
        # what a device or by field may name: a device, a name the timeline gives, the escrow device
        known = known | named.get(e.user, set()) | {ESCROW_DEVICE}
        for field in ("device", "by"):
            v = getattr(e, field)
            if v is None or (field == "by" and (v in ("web", "admin", "self") or
                                                (e.action == "escrow_recover" and v in ea_devices))):
                continue
            if v not in known and v.split("#")[0] not in known and not v.startswith("backup-"):
                problems.append((f"{where}.{field}", f"unknown device {v!r} of {e.user}"))
        if e.to is not None and e.to not in users:
            problems.append((f"{where}.to", f"unknown user {e.to!r}"))
    return problems
