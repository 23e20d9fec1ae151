"""Durations and the distributions of random durations in scenario files.

A duration carries its unit (``90d``, ``12h``, ``2w``, ``1y``, ``30m``, or a sum such as
``1d12h``); a bare number is refused. Times are days from the scenario start. A random
quantity is a distribution: ``{exp: 30d}``, ``{uniform: [1d, 3d]}``,
``{lognormal: {median: 30d, sigma: 0.5}}``, ``{normal: {mean: 2y, sd: 90d}}`` (truncated
at 0), ``{fixed: 2d}``, or a bare duration meaning fixed.

:class:`Section` is the base of every mapping of a scenario file (here and in
:mod:`.schema`): unknown keys are refused and a validated value never changes.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    StrictFloat,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_UNITS = {"min": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "y": 365.0}
UNITS_TEXT = "min h d w y"
_PART = r"(\d+(?:\.\d*)?|\.\d+)\s*(min|h|d|w|y)"
_DURATION = re.compile(rf"^\s*(?:{_PART}\s*)+$")
_MONTHS = re.compile(r"\d\s*(mo|months?|mths?)\b", re.IGNORECASE)
_BARE_M = re.compile(r"\d\s*m(?![a-z])", re.IGNORECASE)


def parse_duration(value: Any) -> float:
    """``"90d"`` → 90.0 (days). Units: ``min`` h d w y (1y = 365d); a bare ``m`` is refused,
    as it reads as minutes to some and months to others."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a duration like '30d', found {value!r} (not a number of days)")
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"duration {value!r} has no unit (write e.g. '{value}d'; units {UNITS_TEXT})")
        raise ValueError(f"expected a duration like '30d', found {value!r}")
    if value.strip().startswith("-"):
        raise ValueError(f"duration {value!r} is negative")
    if not _DURATION.match(value):
        if _MONTHS.search(value):
            raise ValueError(f"months are not a unit (they differ in length): write days or years, e.g. "
                             f"'90d' or '0.25y', found {value!r}")
        if _BARE_M.search(value):
            raise ValueError(f"'m' is ambiguous: write minutes as 'min' (e.g. '30min'); for months write "
                             f"days, e.g. '90d', found {value!r}")
        raise ValueError(f"expected a duration like '30d' or '1d12h' (units {UNITS_TEXT}), found {value!r}")
    days = sum(float(n) * _UNITS[u] for n, u in re.findall(_PART, value))
    if not math.isfinite(days):
        raise ValueError(f"the duration is too large (found {value[:20]!r}…)")
    return days


def duration_text(days: float) -> str:
    """90.0 → ``"90d"``; the shortest whole number of d, h or m when there is one, else
    exact days (``parse_duration`` reads it back to the same float)."""
    for unit in ("d", "h", "min"):
        n = days / _UNITS[unit]
        if n == round(n) and round(n) * _UNITS[unit] == days:
            return f"{round(n)}{unit}"
    return f"{format(Decimal(repr(float(days))), 'f')}d"  # exact round trip, no exponent


# What the parser accepts, as a JSON Schema (ECMA 262 regex) for editors
DURATION_JSON_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": _DURATION.pattern,
    "description": "a duration with units min h d w y (1y = 365d), e.g. '90d', '12h', '1d12h'"}

Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_JSON_SCHEMA)]


class Section(BaseModel):
    """A mapping of a scenario file: unknown keys are refused; the value is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- distributions


class Fixed(Section):
    fixed: Duration

    def sample(self, rng: np.random.Generator) -> float:
        return self.fixed

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.fixed)


class Exp(Section):
    exp: Duration = Field(description="mean")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.exp))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.exp, n)


class Uniform(Section):
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


class _LogNormal(Section):
    median: Duration
    sigma: StrictFloat = Field(gt=0, le=10, description="at most 10 (one sigma: e¹⁰ ≈ 22 000 times the median)")


class LogNormal(Section):
    lognormal: _LogNormal

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.sample_many(rng, 1)[0])

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.lognormal.median * np.exp(rng.normal(0.0, self.lognormal.sigma, n))


class _Normal(Section):
    mean: Duration
    sd: Duration


class Normal(Section):
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


# The key that names each distribution in a file → its class name (pydantic's tag, which
# also appears in pydantic's error locations)
DIST_TAGS = {"fixed": "Fixed", "exp": "Exp", "uniform": "Uniform", "lognormal": "LogNormal",
             "normal": "Normal"}


def _bare_fixed(value: Any) -> Any:
    return {"fixed": value} if isinstance(value, str | int | float) and not isinstance(value, bool) else value


def _dist_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict) and len(value) == 1:
        return DIST_TAGS.get(next(iter(value)))
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


def fixed(text: str) -> Fixed:
    """The distribution that always draws ``text`` (a duration): a default in the schema."""
    return Fixed.model_validate({"fixed": text})


def always_zero(dist: Dist) -> bool:
    """Whether ``dist`` only ever draws 0 days (a check on 64 draws of a fixed stream)."""
    return not dist.sample_many(np.random.default_rng(0), 64).any()


def sample_mean(dist: Dist) -> float:
    """The mean of ``dist`` in days, estimated from the same 64 draws."""
    return float(dist.sample_many(np.random.default_rng(0), 64).mean())
