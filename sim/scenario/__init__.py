"""Scenario files: their schema, their checks, and reading them with one-line errors."""

from .schema import (
    EA_BACKUP,
    MAX_SEED,
    Behaviour,
    DeviceSpec,
    Dist,
    Event,
    Fixed,
    GridError,
    Normal,
    Scenario,
    ScenarioError,
    Sessions,
    Stream,
    Traffic,
    apply_overrides,
    duration_text,
    flow_yaml,
    grid,
    grid_scenarios,
    json_schema,
    load,
    parse_duration,
    parse_yaml,
    read_yaml,
    scenario_hash,
    validate,
)

__all__ = [
    "EA_BACKUP", "MAX_SEED", "Behaviour", "DeviceSpec", "Dist", "Event", "Fixed", "GridError",
    "Normal", "Scenario", "ScenarioError", "Sessions", "Stream", "Traffic", "apply_overrides",
    "duration_text", "flow_yaml", "grid", "grid_scenarios", "json_schema", "load",
    "parse_duration", "parse_yaml", "read_yaml", "scenario_hash", "validate",
]
