"""Results of a replication, read from its run record alone: tables, summary,
explanations, files. :func:`run` simulates one history and reads its results."""

from pathlib import Path

from ..behaviour import Simulation
from ..scenario import Scenario, load
from .build import build_result
from .explain import explain
from .files import FolderError, atomic_write
from .result import Result
from .tables import COLUMNS, TABLES

__all__ = ["COLUMNS", "TABLES", "FolderError", "Result", "atomic_write", "build_result", "explain",
           "run"]


def run(scenario: Scenario | str | Path, seed: int | None = None, rep: int = 0) -> Result:
    """Simulate one history of ``scenario`` (a model or a YAML path) and read its results."""
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    return build_result(Simulation(scenario, seed, rep).run())
