"""Shared test helpers: run scenarios from the repository's scenarios/ folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.analysis import Result
from sim.scenario import apply_overrides, read_yaml, validate
from sim.simulation import Simulation

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def run_file(name: str, seed: int | None = None, **overrides: Any) -> Result:
    """Run scenarios/NAME.yaml, with dotted-path overrides (``horizon="11d"``)."""
    path = SCENARIOS / f"{name}.yaml"
    data = apply_overrides(read_yaml(path), {k.replace("__", "."): v for k, v in overrides.items()})
    return Simulation(validate(data, str(path)), seed).run()


def status(r: Result) -> dict[str, str]:
    return dict(zip(r.messages["message_id"], r.messages["status"], strict=True))


def readers(r: Result, message_id: str) -> set[str]:
    row = r.messages.set_index("message_id").loc[message_id]
    return {x for x in str(row["readable_by"] or "").split(",") if x}


def device(r: Result, user: str, name: str) -> dict[str, Any]:
    d = r.devices[(r.devices["user"] == user) & (r.devices["device"] == name)]
    assert len(d) == 1, f"no device {user}/{name}"
    return d.iloc[0].to_dict()
