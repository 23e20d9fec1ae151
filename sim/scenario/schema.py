"""Scenario files: pydantic models of the YAML, and loading with one-line errors.

Durations carry units (``90d``, ``12h``, ``2w``, ``1y``, ``30m``, or sums
such as ``1d12h``); a bare number is refused. Random quantities are distributions: ``{exp: 30d}``,
``{uniform: [1d, 3d]}``, ``{lognormal: {median: 30d, sigma: 0.5}}``,
``{normal: {mean: 2y, sd: 90d}}`` (truncated at 0), ``{fixed: 2d}``, or a bare
duration meaning fixed. Times are days from the scenario start.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

from ..model import Argon2Cost

_UNITS = {"m": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "y": 365.0}
_PART = r"(\d+(?:\.\d*)?|\.\d+)\s*(m|h|d|w|y)"
_DURATION = re.compile(rf"^\s*(?:{_PART}\s*)+$")
MAX_HORIZON_DAYS = 100 * 365.0  # 100y: a longer horizon would make a run that never ends
MAX_ARGON2_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
MAX_ARGON2_PASSES = 1000
MAX_ARGON2_LANES = 2**24 - 1  # what Argon2id (RFC 9106, and cryptography) accepts
MAX_SEED = 2**63 - 1  # seeds are stored as int64 (the sweep table's seed column)
# Names the simulation gives to things itself: replacements are named ``p#2``, ``p#3``;
# the escrow admins' chain is the user ``escrow-admins`` (sim.protocol.EA_USER).
RESERVED_USER = "escrow-admins"


class ScenarioError(Exception):
    """A scenario that cannot be used; ``str()`` is one line: file: path: problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        super().__init__(f"{file}: {path}: {problem}" if path else f"{file}: {problem}")


def parse_duration(value: Any) -> float:
    """``"90d"`` → 90.0 (days)."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"duration {value!r} has no unit (write e.g. '{value}d'; units m h d w y)")
        raise ValueError(f"expected a duration like '30d', found {value!r}")
    if value.strip().startswith("-"):
        raise ValueError(f"duration {value!r} is negative")
    if not _DURATION.match(value):
        raise ValueError(f"expected a duration like '30d' or '1d12h' (units m h d w y), found {value!r}")
    days = sum(float(n) * _UNITS[u] for n, u in re.findall(_PART, value))
    if not math.isfinite(days):
        raise ValueError(f"the duration is too large (found {value[:20]!r}…)")
    return days


def duration_text(days: float) -> str:
    """90.0 → ``"90d"``; the shortest whole number of d, h or m when there is one, else
    exact days (``parse_duration`` reads it back to the same float)."""
    for unit in ("d", "h", "m"):
        n = days / _UNITS[unit]
        if n == round(n) and round(n) * _UNITS[unit] == days:
            return f"{round(n)}{unit}"
    return f"{format(Decimal(repr(float(days))), 'f')}d"  # exact round trip, no exponent


# What the parser accepts, as a JSON Schema (ECMA 262 regex) for editors
DURATION_JSON_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": _DURATION.pattern,
    "description": "a duration with units m h d w y (1y = 365d), e.g. '90d', '12h', '1d12h'"}

Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_JSON_SCHEMA)]
Probability = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.#+-]+$")]


def _no_hash(name: str) -> str:
    if "#" in name:
        raise ValueError(f"'#' is reserved for replacement devices (p#2, p#3), found {name!r}")
    return name


def _not_reserved_user(name: str) -> str:
    if name == RESERVED_USER:
        raise ValueError(f"{RESERVED_USER!r} is reserved for the escrow admins' chain")
    return name


def _file_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name) or len(name) > 100:
        raise ValueError("the name is used as a folder name: give 1 to 100 letters, digits, "
                         f"'_', '.' or '-', not starting with '.' (found {name!r})")
    return name


DeviceName = Annotated[Name, AfterValidator(_no_hash)]  # a device the scenario creates
UserName = Annotated[Name, AfterValidator(_not_reserved_user)]
FileName = Annotated[str, AfterValidator(_file_name),
                     WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
                                     "maxLength": 100})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- distributions


class Fixed(_Model):
    fixed: Duration

    def sample(self, rng: np.random.Generator) -> float:
        return self.fixed

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.fixed)


class Exp(_Model):
    exp: Duration = Field(description="mean")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.exp))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.exp, n)


class Uniform(_Model):
    uniform: tuple[Duration, Duration]

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.uniform[1] < self.uniform[0]:
            raise ValueError("uniform: the upper bound is below the lower bound")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(*self.uniform))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(*self.uniform, n)


class _LogNormal(_Model):
    median: Duration
    sigma: StrictFloat = Field(gt=0, le=10, description="at most 10 (one sigma: e¹⁰ ≈ 22 000 times the median)")


class LogNormal(_Model):
    lognormal: _LogNormal

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.sample_many(rng, 1)[0])

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.lognormal.median * np.exp(rng.normal(0.0, self.lognormal.sigma, n))


class _Normal(_Model):
    mean: Duration
    sd: Duration


class Normal(_Model):
    """Truncated at zero."""

    normal: _Normal

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.sample_many(rng, 1)[0])

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Negative draws are drawn again (the mean is not negative: at most half are)."""
        x = rng.normal(self.normal.mean, self.normal.sd, n)
        while (neg := x < 0).any():
            x[neg] = rng.normal(self.normal.mean, self.normal.sd, int(neg.sum()))
        return x


def _no_number(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError(f"expected a date like 2026-01-01, found {value!r}")
    return value


_DIST_TAGS = {"fixed": "Fixed", "exp": "Exp", "uniform": "Uniform", "lognormal": "LogNormal",
              "normal": "Normal"}


def _bare_fixed(value: Any) -> Any:
    return {"fixed": value} if isinstance(value, str | int | float) and not isinstance(value, bool) else value


def _dist_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict) and len(value) == 1:
        return _DIST_TAGS.get(next(iter(value)))
    return None


class _OrBareDuration:
    """JSON Schema of a distribution: a bare duration (fixed) or one of the mappings."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        inner = handler(core_schema)
        return {"oneOf": [DURATION_JSON_SCHEMA, *inner.get("oneOf", [inner])]}


Dist = Annotated[
    Annotated[Fixed, Tag("Fixed")] | Annotated[Exp, Tag("Exp")] | Annotated[Uniform, Tag("Uniform")]
    | Annotated[LogNormal, Tag("LogNormal")] | Annotated[Normal, Tag("Normal")],
    Discriminator(_dist_tag, custom_error_type="distribution",
                  custom_error_message="expected a duration or one of {fixed: D}, {exp: D}, "
                  "{uniform: [D, D]}, {lognormal: {median: D, sigma: S}}, {normal: {mean: D, sd: D}}"),
    BeforeValidator(_bare_fixed), _OrBareDuration()]


# ---------------------------------------------------------------- devices and behaviour


class Sessions(_Model):
    """Online sessions: gaps between sessions and session lengths."""

    every: Dist
    length: Dist = Fixed.model_validate({"fixed": "1h"})


ONLINE_PRESETS: dict[str, Sessions | None] = {
    "always": None,
    "daily": Sessions(every=Exp.model_validate({"exp": "1d"}), length=Fixed.model_validate({"fixed": "1h"})),
    "weekly": Sessions(every=Exp.model_validate({"exp": "7d"}), length=Fixed.model_validate({"fixed": "1h"})),
    "rare": Sessions(every=Exp.model_validate({"exp": "60d"}), length=Fixed.model_validate({"fixed": "1h"})),
}


class Fate(_Model):
    """What ends a device's life in legitimate hands (at most one)."""

    lost: Dist | None = None
    stolen: Dist | None = None
    wiped: Dist | None = None
    decommissioned: Dist | None = None

    @model_validator(mode="after")
    def _one(self) -> Fate:
        given = [k for k in ("lost", "stolen", "wiped", "decommissioned") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of lost, stolen, wiped, decommissioned")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("lost", "stolen", "wiped", "decommissioned") if getattr(self, k) is not None)

    @property
    def after(self) -> Dist:
        return getattr(self, self.kind)


class Replacement(_Model):
    """After the device's fate, a new device of the same kind joins; it inherits the
    online pattern, fate and replacement, so a phone can be replaced again and again."""

    after: Dist
    probability: Probability = 1.0


def _always_zero(dist: Dist) -> bool:
    """Whether ``dist`` only ever draws 0 days (a check on 64 draws of a fixed stream)."""
    return not dist.sample_many(np.random.default_rng(0), 64).any()


def _mean(dist: Dist) -> float:
    """The mean of ``dist`` in days, estimated from the same 64 draws."""
    return float(dist.sample_many(np.random.default_rng(0), 64).mean())


# Gaps so short that a run would not end: at most this many messages per user and app, or
# online sessions per device, within the horizon (the large benchmark has ~330 messages per user),
# and at most MAX_DEVICES added devices (each new generation is boxed to every device: the
# cost grows with the square of their number)
MAX_REPEATS, MAX_DEVICES = 1_000_000, 1_000


def _too_often(horizon: float, gap: float, what: str, most: int = MAX_REPEATS) -> str | None:
    if horizon <= most * gap:
        return None
    if gap == 0:
        return f"{what} would come again and again at one instant (every gap is 0 days)"
    return f"about {horizon / gap:.3g} {what} within the horizon (at most {most:,})"


class DeviceSpec(_Model):
    name: DeviceName
    kind: str = "phone"
    joins_at: Dist = Fixed.model_validate({"fixed": "0d"})
    online: Literal["always", "daily", "weekly", "rare", "never"] | Sessions = "always"
    fate: Fate | None = None
    replacement: Replacement | None = None

    @model_validator(mode="after")
    def _replaced_in_time(self) -> DeviceSpec:
        if self.fate and self.replacement and _always_zero(self.fate.after) and _always_zero(self.replacement.after):
            raise ValueError("replacement: with the fate and the replacement both after 0 days, the device "
                             "would be replaced again and again at one instant")
        if isinstance(self.online, Sessions) and _always_zero(self.online.every) and _always_zero(self.online.length):
            raise ValueError("online: with every and length both always 0 days, sessions would never move on")
        return self

    def sessions(self) -> Sessions | None | Literal["never"]:
        if isinstance(self.online, Sessions):
            return self.online
        return "never" if self.online == "never" else ONLINE_PRESETS[self.online]


class Approval(_Model):
    """How the user answers approval prompts shown on older devices."""

    probability: Probability = 1.0
    delay: Dist = Fixed.model_validate({"fixed": "0d"})
    approver: Literal["first_online", "oldest"] = "first_online"
    fingerprint_check: Probability = 0.0


class Revocation(_Model):
    """What the user does after a device is lost, stolen or decommissioned."""

    probability: Probability = 1.0
    delay: Dist = Fixed.model_validate({"fixed": "0d"})
    signed: StrictBool = True


class BackupKeys(_Model):
    count: StrictInt = Field(1, ge=0, le=MAX_DEVICES)  # virtual devices: capped as added ones are
    at: Dist = Fixed.model_validate({"fixed": "0d"})
    by: Name | None = None
    paper_lost: Dist | None = Field(None, description="When the paper is lost, after the key is made")
    paper_lost_probability: Probability = Field(1.0, description="Chance the paper is ever lost")
    use_when_stranded: StrictBool = True
    delay: Dist = Fixed.model_validate({"fixed": "0d"})


class EscrowEnrolment(_Model):
    accept_probability: Probability = 1.0
    accept_delay: Dist = Fixed.model_validate({"fixed": "0d"})
    recover_when_stranded: StrictBool = True
    recover_delay: Dist = Fixed.model_validate({"fixed": "0d"})


class Behaviour(_Model):
    """Automatic user behaviour; every part is off unless given."""

    approval: Approval | None = None
    revocation: Revocation | None = None
    backup_keys: BackupKeys | None = None
    escrow: EscrowEnrolment | None = None
    notice: Revocation | None = Field(
        None, description="Revoking a device the server added, once the user notices it")


class Stream(_Model):
    every: Dist
    to: list[Name] = Field(default_factory=list)

    @model_validator(mode="after")
    def _moves_on(self) -> Stream:
        if _always_zero(self.every):
            raise ValueError("every: the gap between messages is always zero")
        return self


class Traffic(_Model):
    voicemail: Stream | None = None
    mail: Stream | None = None


class UserSpec(_Model):
    name: UserName
    devices: list[DeviceSpec] = Field(min_length=1)
    behaviour: Behaviour | None = None
    traffic: Traffic | None = None


# ---------------------------------------------------------------- escrow


class Admin(_Model):
    name: Name
    devices: list[DeviceSpec] = Field(min_length=1)


class Escrow(_Model):
    enabled_at: Duration
    admins: list[Admin] = Field(min_length=1)
    ea_backup_paper_lost: Dist | None = Field(
        None, description="When the EA backup key's paper is lost, after escrow is enabled")


class AccountSpec(_Model):
    members_may_create_backup_keys: StrictBool = True
    escrow: Escrow | None = None


# ---------------------------------------------------------------- timeline

ACTIONS = (
    "approve", "revoke", "lose", "steal", "wipe", "decommission", "online", "offline",
    "create_backup_key", "paper_lost", "recover_backup", "enroll_escrow",
    "escrow_recover", "revoke_ea_device", "rotate", "send",
    # adversaries (PROTOCOL §6)
    "server_add_device", "mitm", "leak_backup", "compromise_ea_device",
)


class Event(_Model):
    """One scripted event. ``device`` is the subject; ``by`` the acting device (or
    ``web``/``admin``/``self`` for an unsigned revocation)."""

    at: Duration
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    user: Name | None = None
    device: Name | None = None
    by: Name | None = None
    app: Literal["voicemail", "mail"] | None = None
    to: Name | None = None
    name: DeviceName | None = None


# ---------------------------------------------------------------- adversaries


class Chance(_Model):
    """Something that happens with ``probability``, ``after`` a delay."""

    probability: Probability
    after: Dist = Fixed.model_validate({"fixed": "0d"})


class AdversarySpec(_Model):
    """Stochastic attacks (PROTOCOL §6); scripted ones go in the timeline."""

    mitm_probability: Probability = Field(
        0.0, description="Chance the server intercepts the approval of each new device")
    server_devices: Dist | None = Field(
        None, description="Time between devices the server adds to each user")
    backup_leak: Chance | None = Field(None, description="Each backup-key string leaks, after its creation")
    ea_compromise: Chance | None = Field(None, description="The first EA device is compromised, after escrow is on")


# ---------------------------------------------------------------- sweep and scenario


class SweepSpec(_Model):
    reps: StrictInt = Field(100, ge=1)
    vary: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)


class Scenario(_Model):
    """A whole scenario file."""

    name: FileName = "scenario"
    description: str = ""
    seed: StrictInt = Field(0, ge=0, le=MAX_SEED)
    horizon: Duration
    start_date: Annotated[dt.date | None, BeforeValidator(_no_number)] = None
    post_quantum: StrictBool = False
    argon2: Argon2CostSpec = Field(default_factory=lambda: Argon2CostSpec())
    account: AccountSpec = Field(default_factory=lambda: AccountSpec())
    behaviour: Behaviour = Field(default_factory=lambda: Behaviour())
    traffic: Traffic = Field(default_factory=lambda: Traffic())
    users: list[UserSpec] = Field(min_length=1)
    timeline: list[Event] = Field(default_factory=list)
    adversary: AdversarySpec = Field(default_factory=lambda: AdversarySpec())
    sweep: SweepSpec | None = None

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, days: float) -> float:
        if not days > 0:
            raise ValueError("the horizon must be longer than 0 days")
        if days > MAX_HORIZON_DAYS:
            raise ValueError(f"the horizon is capped at 100y ({MAX_HORIZON_DAYS:g} days), "
                             f"found {duration_text(days)}")
        return days

    def behaviour_of(self, user: UserSpec) -> Behaviour:
        """The scenario-wide behaviour, with the user's own sections taking precedence."""
        if user.behaviour is None:
            return self.behaviour
        return self.behaviour.model_copy(update={k: getattr(user.behaviour, k)
                                                 for k in user.behaviour.model_fields_set})

    def traffic_of(self, user: UserSpec) -> Traffic:
        if user.traffic is None:
            return self.traffic
        return self.traffic.model_copy(update={k: getattr(user.traffic, k)
                                               for k in user.traffic.model_fields_set})


class Argon2CostSpec(_Model):
    memory_kib: StrictInt = Field(65536, ge=8, le=MAX_ARGON2_MEMORY_KIB,
                                  description="at most 4 GiB, and at least 8 per lane")
    passes: StrictInt = Field(3, ge=1, le=MAX_ARGON2_PASSES)
    lanes: StrictInt = Field(1, ge=1, le=MAX_ARGON2_LANES)

    @model_validator(mode="after")
    def _memory_per_lane(self) -> Argon2CostSpec:
        if self.memory_kib < 8 * self.lanes:
            raise ValueError(f"memory_kib must be at least 8 per lane (8 × {self.lanes} lanes = "
                             f"{8 * self.lanes}), found {self.memory_kib}")
        return self

    def cost(self) -> Argon2Cost:
        return Argon2Cost(self.memory_kib, self.passes, self.lanes)


Scenario.model_rebuild()


# ---------------------------------------------------------------- loading


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) in {*_DIST_TAGS.values(), "Sessions", "str"} or "[" in str(part):
            continue  # pydantic's names for union members
        else:
            out += ("." if out else "") + str(part)
    return out


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
# Device names the simulation gives itself: a member's escrow device, the EA backup key
_ESCROW_DEVICE, EA_BACKUP = "escrow", "ea-backup"


def _where(i: int, u: UserSpec, section: str, key: str, rest: str) -> str:
    """Where user ``i``'s setting is written: its own, or the scenario-wide default."""
    own = getattr(u, section) is not None and key in getattr(u, section).model_fields_set
    return f"users[{i}].{section}.{key}{rest}" if own else f"{section}.{key}{rest}"


def _semantic_checks(s: Scenario) -> list[tuple[str, str]]:
    """References that pydantic cannot see: device, user and EA device names."""
    problems: list[tuple[str, str]] = []
    users = {u.name: u for u in s.users}
    if len(users) != len(s.users):
        problems.append(("users", "two users share a name"))
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
        if _ESCROW_DEVICE in names:
            problems.append((f"users[{i}].devices[{names.index(_ESCROW_DEVICE)}].name",
                             f"{_ESCROW_DEVICE!r} is reserved for the user's escrow device"))
        bk = s.behaviour_of(u).backup_keys
        if bk and bk.by and bk.by not in names:
            problems.append((_where(i, u, "behaviour", "backup_keys", ".by"), f"unknown device {bk.by!r} of {u.name}"))
        if u.traffic is not None and u.traffic.voicemail is not None and u.traffic.voicemail.to:
            problems.append((f"users[{i}].traffic.voicemail.to", voicemail_to))
        mail = s.traffic_of(u).mail
        for k, to in enumerate(mail.to if mail else []):
            if to not in users:
                problems.append((_where(i, u, "traffic", "mail", f".to[{k}]"), f"unknown user {to!r}"))
        for app in ("voicemail", "mail"):
            stream = getattr(s.traffic_of(u), app)
            if stream is not None and (problem := _too_often(s.horizon, _mean(stream.every), "messages")):
                problems.append((_where(i, u, "traffic", app, ".every"), problem))
        for j, d in enumerate(u.devices):
            if isinstance(d.online, Sessions) and (problem := _too_often(
                    s.horizon, _mean(d.online.every) + _mean(d.online.length), "online sessions")):
                problems.append((f"users[{i}].devices[{j}].online", problem))
            if d.fate and d.replacement and (problem := _too_often(
                    s.horizon, _mean(d.fate.after) + _mean(d.replacement.after), "replacements", MAX_DEVICES)):
                problems.append((f"users[{i}].devices[{j}].replacement", problem))
    server = s.adversary.server_devices
    if server is not None and (problem := _too_often(s.horizon, _mean(server), "server devices per user",
                                                     MAX_DEVICES)):
        problems.append(("adversary.server_devices", problem))
    if s.sweep is not None and "seed" in s.sweep.vary:
        problems.append(("sweep.vary.seed", "replications already draw independent seeds; give the "
                                            "root seed with --seed instead"))
    for i, e in enumerate(s.timeline):
        where = f"timeline[{i}]"
        for field in _EVENT_FIELDS:
            if getattr(e, field) is not None and field not in _USES[e.action]:
                problems.append((f"{where}.{field}", f"{e.action} does not use {field} (it uses "
                                 f"{', '.join(f for f in _EVENT_FIELDS if f in _USES[e.action])})"))
        if e.name in (_ESCROW_DEVICE, EA_BACKUP):
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
        if e.action in _HELD_DEVICE_ACTIONS and e.device == _ESCROW_DEVICE:
            problems.append((f"{where}.device", f"{e.action}: the escrow device is not in the user's hands "
                             "(its secret is sealed to the escrow admins)"))
        known |= {x.name for x in s.timeline if x.name and x.user == e.user} | {"escrow"}
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


def validate(data: Any, file: str = "<scenario>", *, sweep: bool = True) -> Scenario:
    """Validate parsed YAML; raise :class:`ScenarioError` (first problem) on failure.

    With ``sweep`` (the default), every grid point of the file's ``sweep.vary`` is also
    checked (a value bad on its own is reported at ``sweep.vary.PATH[k]``)."""
    s = _validate(data, file)
    if sweep and s.sweep is not None and s.sweep.vary:
        vary = s.sweep.vary
        try:
            grid_scenarios(data, vary, file)
        except GridError as exc:
            where = "sweep.vary" + ("" if exc.path is None else f".{exc.path}")
            raise ScenarioError(file, where + ("" if exc.index is None else f"[{exc.index}]"), exc.problem) from None
    return s


class GridError(Exception):
    """A grid point that is not a valid scenario: blamed on one ``path`` (and the ``index``
    of its value) when that alone is bad, else on the whole point (``path`` None)."""

    def __init__(self, problem: str, path: str | None = None, index: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.path, self.index = problem, path, index


def grid(vary: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of ``vary``, first path slowest; ``[{}]`` when nothing varies."""
    paths = list(vary)
    return [dict(zip(paths, values, strict=True)) for values in itertools.product(*vary.values())]


def grid_scenarios(data: dict[str, Any], vary: dict[str, list[Any]], file: str = "<scenario>") -> list[Scenario]:
    """The scenario of each grid point of ``vary`` set in ``data``, or :class:`GridError`
    for the first bad point, a duplicate point, or a varied ``sweep`` section."""
    for path in vary:
        if path.split(".")[0] == "sweep":
            raise GridError("the sweep section cannot be varied", path)
    out: list[Scenario] = []
    seen: dict[str, dict[str, Any]] = {}
    for point in grid(vary):
        try:
            s = _validate(apply_overrides(data, point, file), file)
        except ScenarioError as exc:
            for path, value in point.items():  # a path or a value bad on its own takes the blame
                try:
                    alone = apply_overrides(data, {path: value}, file)
                except ScenarioError as bad_path:
                    raise GridError(bad_path.problem, path) from None
                try:
                    _validate(alone, file)
                except ScenarioError as bad:
                    own = bad.path in ("", _path(tuple(int(x) if x.isdigit() else x for x in path.split("."))))
                    raise GridError(bad.problem if own else f"{bad.path}: {bad.problem}", path,
                                    vary[path].index(value)) from None
            raise GridError(f"grid point {flow_yaml(point)}: {exc.path}: {exc.problem}") from None
        digest = scenario_hash(s)
        if digest in seen:
            raise GridError(f"grid points {flow_yaml(seen[digest])} and {flow_yaml(point)} are the same "
                            "scenario (a duplicate grid point)")
        seen[digest] = point
        out.append(s)
    return out


def flow_yaml(value: Any) -> str:
    """``value`` as one line of YAML flow text (``{exp: 2d}``), or as Python writes it where
    YAML would take several lines (text with a line break, ``!!binary``) or is too deeply
    nested to write."""
    try:
        text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip()
    except RecursionError:
        return repr(value)
    return repr(value) if "\n" in text else text


def _validate(data: Any, file: str) -> Scenario:
    if data is None:
        raise ScenarioError(file, "", "the file is empty")
    if not isinstance(data, dict):
        raise ScenarioError(file, "", f"expected a mapping at the top, found {type(data).__name__}")
    try:
        s = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        found = err.get("input")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif not isinstance(found, dict | list) and "found" not in msg:
            msg += f" (found {found!r})"
            if isinstance(found, bool) and err["type"] in ("string_type", "literal_error"):
                msg += "; YAML reads yes/no/on/off as booleans: quote the value"
        raise ScenarioError(file, _path(tuple(err["loc"])), msg) from None
    problems = _semantic_checks(s)
    if problems:
        raise ScenarioError(file, *problems[0])
    return s


MAX_FILE_BYTES = 10 * 2**20


def read_yaml(path: str | Path) -> Any:
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


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, override (dotted paths) and validate a scenario file."""
    data = read_yaml(path)
    if overrides:
        data = apply_overrides(data, overrides, file=str(path))
    return validate(data, str(path))


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


def scenario_hash(s: Scenario) -> str:
    return hashlib.sha256(json.dumps(s.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


class _SchemaGenerator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, Fixed):  # a default distribution, as a file would write it
            return duration_text(dft.fixed)
        return super().encode_default(dft)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files; durations are strings such as ``"90d"``."""
    return Scenario.model_json_schema(schema_generator=_SchemaGenerator)
