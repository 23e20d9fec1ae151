"""The sweep grid of a scenario: every combination of the values of ``sweep.vary``.

A sweep (README *Sweeps*) runs a scenario at each grid point: the cartesian product of
the values given to each dotted path, set over the scenario's data. Each point must be a
valid scenario of its own, and no two points may be the same scenario. A bad point is
blamed on the one path (and value) that is bad alone where there is one.
"""

from __future__ import annotations

import itertools
from typing import Any

from .checks import ScenarioError, error_path, validate_one
from .files import apply_overrides, flow_yaml
from .schema import Scenario, scenario_hash


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
            s = validate_one(apply_overrides(data, point, file), file)
        except ScenarioError as exc:
            for path, value in point.items():  # a path or a value bad on its own takes the blame
                try:
                    alone = apply_overrides(data, {path: value}, file)
                except ScenarioError as bad_path:
                    raise GridError(bad_path.problem, path) from None
                try:
                    validate_one(alone, file)
                except ScenarioError as bad:
                    own = bad.path in ("", error_path(tuple(int(x) if x.isdigit() else x for x in path.split("."))))
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
