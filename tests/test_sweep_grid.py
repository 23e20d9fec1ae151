"""sim.scenario.sweep_grid: the grid points of a file's sweep.vary, each checked, a bad one blamed alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import HEAD, USERS, refused_with_one_line
from sim.scenario import grid

# Files refused for a point of their sweep grid: one line, exit status 2
BAD = {
    "bad sweep.vary value": (HEAD + USERS + "sweep: {vary: {behaviour.backup_keys.count: [1, -1]}}\n",
                             "sweep.vary.behaviour.backup_keys.count[1]: Input should be greater than or equal to 0"),
    "bad sweep.vary path": (HEAD + USERS + "sweep: {vary: {users.5.name: [b]}}\n",
                            "sweep.vary.users.5.name: no list item '5'"),
    "sweep.vary value deep inside": (HEAD + USERS + "sweep: {vary: {users.0.devices.0.fate: [{lost: 3}]}}\n",
                                     "sweep.vary.users.0.devices.0.fate[0]: users[0].devices[0].fate.lost.fixed: "
                                     "duration 3 has no unit"),
    "duplicate sweep.vary value": (HEAD + USERS + "sweep: {vary: {horizon: [1d, 24h]}}\n",
                                   "sweep.vary: grid points {horizon: 1d} and {horizon: 24h} are the same scenario"),
    "varied sweep section": (HEAD + USERS + "sweep: {vary: {sweep.reps: [1]}}\n",
                             "sweep.vary.sweep.reps: the sweep section cannot be varied"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_refused_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    refused_with_one_line(tmp_path, *BAD[case], command)


def test_the_grid_is_every_combination_first_path_slowest() -> None:
    assert grid({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                                  {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert grid({}) == [{}]  # nothing varies: one point, the scenario itself
