"""Scenario files: their schema, their checks, and reading them with one-line errors.

``durations``   durations with units and the distributions of random durations
``names``       what a name may be; the name patterns of populations (emp{i:03})
``schema``      the pydantic models of the YAML, the scenario hash, the JSON Schema
``checks``      ScenarioError; pydantic's errors as one line; the semantic checks
``files``       reading YAML with line and column errors; dotted-path overrides
``sweep_grid``  the sweep grid: every combination of the values of sweep.vary
``loading``     load() and validate(): a file, its overrides, its grid
``surprises``  what a valid scenario will do that its author may not expect

Other layers import from here, not from the modules.
"""

from ..model import EA_BACKUP, ESCROW_DEVICE
from .checks import ScenarioError
from .durations import Dist, Exp, Fixed, LogNormal, Normal, Uniform, duration_text, parse_duration
from .files import apply_overrides, flow_yaml, parse_yaml, read_yaml
from .loading import load, validate
from .schema import (
    ACTIONS,
    MAX_DEVICES,
    MAX_PEOPLE,
    MAX_SEED,
    AccountSpec,
    Admin,
    AdversarySpec,
    Approval,
    Argon2CostSpec,
    BackupKeys,
    Behaviour,
    Chance,
    Correspondents,
    DeviceSpec,
    Escrow,
    EscrowEnrolment,
    Event,
    Fate,
    Replacement,
    Revocation,
    Scenario,
    Sessions,
    Stream,
    SweepSpec,
    Traffic,
    UserSpec,
    json_schema,
    scenario_hash,
)
from .surprises import notes, size
from .sweep_grid import GridError, grid, grid_scenarios

__all__ = [
    "ACTIONS", "EA_BACKUP", "ESCROW_DEVICE", "MAX_DEVICES", "MAX_PEOPLE", "MAX_SEED", "AccountSpec",
    "Admin", "AdversarySpec", "Approval", "Argon2CostSpec", "BackupKeys", "Behaviour", "Chance",
    "Correspondents", "DeviceSpec",
    "Dist", "Escrow", "EscrowEnrolment", "Event", "Exp", "Fate", "Fixed", "GridError", "LogNormal",
    "Normal", "Replacement", "Revocation", "Scenario", "ScenarioError", "Sessions", "Stream",
    "SweepSpec", "Traffic", "Uniform", "UserSpec", "apply_overrides", "duration_text", "flow_yaml",
    "grid", "grid_scenarios", "json_schema", "load", "notes", "parse_duration", "size", "parse_yaml", "read_yaml",
    "scenario_hash", "validate",
]
