"""Results of a replication, read from its record: tables, summary, explanations, files."""

from pathlib import Path

from ..scenario import Scenario, load
from .analysis import COLUMNS, TABLES, FolderError, Result, atomic_write, build_result, explain

__all__ = ["COLUMNS", "TABLES", "FolderError", "Result", "atomic_write", "build_result", "explain",
           "run"]


def run(scenario: Scenario | str | Path, seed: int | None = None, rep: int = 0) -> Result:
    """Simulate one history of ``scenario`` (a model or a YAML path) and read its results."""
    from ..behaviour.simulation import Simulation

    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    return Simulation(scenario, seed, rep).run()
