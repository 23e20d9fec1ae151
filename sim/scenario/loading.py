"""Loading a scenario: read the file, apply overrides, validate it and its sweep grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import ScenarioError, validate_one
from .files import apply_overrides, read_yaml
from .schema import Scenario
from .sweep_grid import GridError, grid_scenarios


def validate(data: Any, file: str = "<scenario>", *, sweep: bool = True) -> Scenario:
    """Validate parsed YAML; raise :class:`ScenarioError` (first problem) on failure.

    With ``sweep`` (the default), every grid point of the file's ``sweep.vary`` is also
    checked (a value bad on its own is reported at ``sweep.vary.PATH[k]``)."""
    s = validate_one(data, file)
    if sweep and s.sweep is not None and s.sweep.vary:
        try:
            grid_scenarios(data, s.sweep.vary, file)
        except GridError as exc:
            where = "sweep.vary" + ("" if exc.path is None else f".{exc.path}")
            raise ScenarioError(file, where + ("" if exc.index is None else f"[{exc.index}]"), exc.problem) from None
    return s


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, override (dotted paths) and validate a scenario file."""
    data = read_yaml(path)
    if overrides:
        data = apply_overrides(data, overrides, file=str(path))
    return validate(data, str(path))
