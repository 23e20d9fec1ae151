"""The schema of scenario files: one pydantic model per section of the YAML.

A scenario names its users and their devices (README *Scenario files*), the behaviour and
traffic of the users, the account's escrow, a timeline of scripted events, stochastic
adversaries (docs/model.md §13) and an optional sweep section. The models check each value on
its own; references between sections (a device a timeline event names, say) are checked
in :mod:`.checks`. Also here: the hash that identifies a scenario, and its JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema

from ..model import EA_USER, Argon2Cost
from .durations import Dist, Duration, Exp, Fixed, Section, always_zero, duration_text, fixed
from .names import NAME_PATTERN, VALID_NAME, expand, pattern_problem

MAX_HORIZON_DAYS = 100 * 365.0  # 100y: a longer horizon would make a run that never ends
MAX_ARGON2_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
MAX_ARGON2_PASSES = 1000
MAX_ARGON2_LANES = 2**24 - 1  # what Argon2id (RFC 9106, and cryptography) accepts
MAX_SEED = 2**63 - 1  # seeds are stored as int64 (the sweep table's seed column)
# Gaps so short that a run would not end: at most this many messages per user and app, or
# online sessions per device, within the horizon (the large benchmark has ~330 messages per user),
# and at most MAX_DEVICES added devices (each new generation is boxed to every device: the
# cost grows with the square of their number)
MAX_REPEATS, MAX_DEVICES = 1_000_000, 1_000
MAX_PEOPLE = 100_000  # the people one users entry may stand for (count)

# Names the simulation gives to things itself (the model's): replacements are named ``p#2``,
# ``p#3``; the escrow admins' chain is the user EA_USER; a member's escrow device is
# ESCROW_DEVICE and the EA backup key EA_BACKUP.

Probability = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(min_length=1, pattern=NAME_PATTERN)]


def _no_hash(name: str) -> str:
    if "#" in name:
        raise ValueError(f"'#' is reserved for replacement devices (p#2, p#3), found {name!r}")
    return name


def _not_reserved_user(name: str) -> str:
    if name == EA_USER:
        raise ValueError(f"{EA_USER!r} is reserved for the escrow admins' chain")
    return name


def _file_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name) or len(name) > 100:
        raise ValueError("the name is used as a folder name: give 1 to 100 letters, digits, "
                         f"'_', '.' or '-', not starting with '.' (found {name!r})")
    return name


def _no_number(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError(f"expected a date like 2026-01-01, found {value!r}")
    return value


DeviceName = Annotated[Name, AfterValidator(_no_hash)]  # a device the scenario creates
FileName = Annotated[str, AfterValidator(_file_name),
                     WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
                                     "maxLength": 100})]


# ---------------------------------------------------------------- devices and behaviour


class Sessions(Section):
    """Online sessions: gaps between sessions and session lengths."""

    every: Dist
    length: Dist = fixed("1h")


ONLINE_PRESETS: dict[str, Sessions | None] = {
    "always": None,
    "daily": Sessions(every=Exp.model_validate({"exp": "1d"}), length=fixed("1h")),
    "weekly": Sessions(every=Exp.model_validate({"exp": "7d"}), length=fixed("1h")),
    "rare": Sessions(every=Exp.model_validate({"exp": "60d"}), length=fixed("1h")),
}


class Fate(Section):
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


class Replacement(Section):
    """After the device's fate, a new device of the same kind joins; it inherits the
    online pattern, fate and replacement, so a phone can be replaced again and again."""

    after: Dist
    probability: Probability = 1.0


class DeviceSpec(Section):
    name: DeviceName
    kind: str = "phone"
    joins_at: Dist = fixed("0d")
    online: Literal["always", "daily", "weekly", "rare", "never"] | Sessions = "always"
    fate: Fate | None = None
    replacement: Replacement | None = None

    @model_validator(mode="after")
    def _replaced_in_time(self) -> DeviceSpec:
        if self.fate and self.replacement and always_zero(self.fate.after) and always_zero(self.replacement.after):
            raise ValueError("replacement: with the fate and the replacement both after 0 days, the device "
                             "would be replaced again and again at one instant")
        if isinstance(self.online, Sessions) and always_zero(self.online.every) and always_zero(self.online.length):
            raise ValueError("online: with every and length both always 0 days, sessions would never move on")
        return self

    def sessions(self) -> Sessions | None | Literal["never"]:
        if isinstance(self.online, Sessions):
            return self.online
        return "never" if self.online == "never" else ONLINE_PRESETS[self.online]


class Approval(Section):
    """How the user answers approval prompts shown on older devices."""

    probability: Probability = 1.0
    delay: Dist = fixed("0d")
    approver: Literal["first_online", "oldest"] = "first_online"
    fingerprint_check: Probability = 0.0


class Revocation(Section):
    """What the user does after a device is lost, stolen or decommissioned."""

    probability: Probability = 1.0
    delay: Dist = fixed("0d")
    signed: StrictBool = True


class BackupKeys(Section):
    count: StrictInt = Field(1, ge=0, le=MAX_DEVICES)  # virtual devices: capped as added ones are
    at: Dist = fixed("0d")
    by: Name | None = None
    paper_lost: Dist | None = Field(None, description="When the paper is lost, after the key is made")
    paper_lost_probability: Probability = Field(1.0, description="Chance the paper is ever lost")
    use_when_stranded: StrictBool = True
    delay: Dist = fixed("0d")


class EscrowEnrolment(Section):
    accept_probability: Probability = 1.0
    accept_delay: Dist = fixed("0d")
    recover_when_stranded: StrictBool = True
    recover_delay: Dist = fixed("0d")


class Behaviour(Section):
    """Automatic user behaviour; every part is off unless given."""

    approval: Approval | None = None
    revocation: Revocation | None = None
    backup_keys: BackupKeys | None = None
    escrow: EscrowEnrolment | None = None
    notice: Revocation | None = Field(
        None, description="Revoking a device the server added, once the user notices it")


class Correspondents(Section):
    """Mail within a group: each person draws ``k`` distinct correspondents from the
    group (never themselves) once, and each mail goes to one of them."""

    group: Name
    k: StrictInt = Field(ge=1, le=MAX_PEOPLE, description="correspondents per person")


def _recipients_tag(value: Any) -> str | None:
    if isinstance(value, list):
        return "list[users]"
    if isinstance(value, dict | Correspondents):
        return "Correspondents"
    return None


Recipients = Annotated[
    Annotated[list[Name], Tag("list[users]")] | Annotated[Correspondents, Tag("Correspondents")],
    Discriminator(_recipients_tag, custom_error_type="recipients",
                  custom_error_message="expected a list of users, or {group: G, k: N}")]


class Stream(Section):
    every: Dist
    to: Recipients = Field(default_factory=list)

    @model_validator(mode="after")
    def _moves_on(self) -> Stream:
        if always_zero(self.every):
            raise ValueError("every: the gap between messages is always zero")
        return self


class Traffic(Section):
    voicemail: Stream | None = None
    mail: Stream | None = None


class UserSpec(Section):
    """One entry of ``users``: a person, or with ``count`` that many people alike, named by
    the pattern ``name`` (``emp{i:03}``: ``emp001`` … for i = 1 … count), each with their own
    random streams (docs/model.md §15)."""

    # count comes before name: the name's check reads it (a pattern, or a name)
    count: StrictInt | None = Field(None, ge=1, le=MAX_PEOPLE,
                                    description="the people this entry stands for; name is then a pattern")
    name: Annotated[str, WithJsonSchema({"type": "string", "minLength": 1,
                                         "pattern": r"^[A-Za-z0-9_.#+{}:<>=^-]+$",
                                         "description": "a name, or with count a pattern such as emp{i:03}"})]
    group: Name | None = Field(None, description="a group that mail may be sent within (traffic.mail.to.group)")
    devices: list[DeviceSpec] = Field(min_length=1)
    behaviour: Behaviour | None = None
    traffic: Traffic | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str, info: ValidationInfo) -> str:
        if "count" not in info.data:  # count itself is refused: that error comes first
            return name
        count = info.data["count"]
        if count is None:
            if "{" in name or "}" in name:
                raise ValueError("a name with { } is a pattern: give count, the people it stands for")
            if not VALID_NAME.match(name):
                raise ValueError("a name is letters, digits and _ . # + -")
            return _not_reserved_user(name)
        problem = pattern_problem(name, count)
        if problem is not None:
            raise ValueError(problem)
        return name

    def names(self) -> list[str]:
        """The names of the people this entry stands for."""
        return [self.name] if self.count is None else expand(self.name, self.count)



# ---------------------------------------------------------------- escrow


class Admin(Section):
    name: Name
    devices: list[DeviceSpec] = Field(min_length=1)


class Escrow(Section):
    enabled_at: Duration
    admins: list[Admin] = Field(min_length=1)
    ea_backup_paper_lost: Dist | None = Field(
        None, description="When the EA backup key's paper is lost, after escrow is enabled")


class AccountSpec(Section):
    members_may_create_backup_keys: StrictBool = True
    escrow: Escrow | None = None


# ---------------------------------------------------------------- timeline

ACTIONS = (
    "approve", "revoke", "lose", "steal", "wipe", "decommission", "online", "offline",
    "create_backup_key", "paper_lost", "recover_backup", "enroll_escrow",
    "escrow_recover", "revoke_ea_device", "rotate", "send",
    # adversaries (docs/model.md §13)
    "server_add_device", "mitm", "leak_backup", "compromise_ea_device",
)


class Event(Section):
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


class Chance(Section):
    """Something that happens with ``probability``, ``after`` a delay."""

    probability: Probability
    after: Dist = fixed("0d")


class AdversarySpec(Section):
    """Stochastic attacks (docs/model.md §13); scripted ones go in the timeline."""

    mitm_probability: Probability = Field(
        0.0, description="Chance the server intercepts the approval of each new device")
    server_devices: Dist | None = Field(
        None, description="Time between devices the server adds to each user")
    backup_leak: Chance | None = Field(None, description="Each backup-key string leaks, after its creation")
    ea_compromise: Chance | None = Field(None, description="The first EA device is compromised, after escrow is on")


# ---------------------------------------------------------------- the whole scenario


class Argon2CostSpec(Section):
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


class SweepSpec(Section):
    reps: StrictInt = Field(100, ge=1)
    vary: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)


class Scenario(Section):
    """A whole scenario file."""

    name: FileName = "scenario"
    description: str = ""
    seed: StrictInt = Field(0, ge=0, le=MAX_SEED)
    horizon: Duration
    start_date: Annotated[dt.date | None, BeforeValidator(_no_number)] = None
    post_quantum: StrictBool = False
    decrypt: Literal["messages", "generations"] | None = Field(
        None, description="What is opened for real: each message, or one probe per (user, generation, "
                          "app) whose outcome all its messages take (the same tables, far fewer "
                          "operations). Default: messages in dmesim run, generations in sweeps")
    argon2: Argon2CostSpec = Field(default_factory=Argon2CostSpec)
    account: AccountSpec = Field(default_factory=AccountSpec)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    traffic: Traffic = Field(default_factory=Traffic)
    users: list[UserSpec] = Field(min_length=1)
    timeline: list[Event] = Field(default_factory=list)
    adversary: AdversarySpec = Field(default_factory=AdversarySpec)
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

    def people(self) -> dict[str, UserSpec]:
        """Every person of the scenario, in the order of the file: name → the ``users``
        entry it comes from (an entry with ``count`` gives that many people)."""
        return {name: u for u in self.users for name in u.names()}

    def groups(self) -> dict[str, list[str]]:
        """Each group's people, in the order of the file."""
        out: dict[str, list[str]] = {}
        for u in self.users:
            if u.group is not None:
                out.setdefault(u.group, []).extend(u.names())
        return out

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


def scenario_hash(s: Scenario) -> str:
    """What identifies a scenario: 16 hex digits of the SHA-256 of its validated values.
    The users' ``count`` and ``group``, added later, are left out while unset, so that a
    file without them keeps the hash it had before (a sweep of it can still be resumed)."""
    data = s.model_dump(mode="json")
    for u in data["users"]:
        for key in ("count", "group"):
            if u[key] is None:
                del u[key]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class _SchemaGenerator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, Fixed):  # a default distribution, as a file would write it
            return duration_text(dft.fixed)
        return super().encode_default(dft)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files; durations are strings such as ``"90d"``."""
    return Scenario.model_json_schema(schema_generator=_SchemaGenerator)
