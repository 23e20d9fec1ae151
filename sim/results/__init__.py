"""Results of a replication, read from its run record alone: tables, summary,
explanations, files. :func:`run` simulates one history and reads its results."""

from collections.abc import Callable
from pathlib import Path

from ..behaviour import Simulation
from ..scenario import Scenario, load
from .build import build_result
from .explain import explain
from .files import SHA256, FolderError, atomic_write, check_sha256, one_line, sha256_file
from .result import Result
from .tables import COLUMNS, TABLES

__all__ = ["COLUMNS", "SHA256", "TABLES", "FolderError", "Result", "atomic_write", "build_result",
           "check_sha256", "explain", "one_line", "run", "sha256_file"]


def run(scenario: Scenario | str | Path, seed: int | None = None, rep: int = 0,
        decrypt: str | None = None, progress: Callable[[float], object] | None = None) -> Result:
    """Simulate one history of ``scenario`` (a model or a YAML path) and read its results.

    ``decrypt``: open each message for real (``"messages"``) or one probe per (user,
    generation, app) (``"generations"``); by default the scenario's ``decrypt``, else
    messages. ``progress`` is told the simulated time as the run goes."""
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    return build_result(Simulation(scenario, seed, rep, decrypt or scenario.decrypt or "messages").run(progress))
