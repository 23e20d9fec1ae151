"""bench/common.py and bench/floor.py: the benchmarks' machinery, run small (nothing is timed)."""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest

from helpers import SCENARIOS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import common  # noqa: E402
import floor  # noqa: E402

from sim.results import run as run_scenario  # noqa: E402
from sim.scenario import load  # noqa: E402


def test_every_counted_operation_has_a_unit_cost() -> None:
    """The floor prices every counter a run can report, post-quantum variants included."""
    kinds: set[str] = set()
    for f in sorted(SCENARIOS.glob("*.yaml")):
        kinds |= set(run_scenario(load(f)).summary["ops"])
    kinds |= set(run_scenario(common.large(2, "60d", post_quantum=True)).summary["ops"])
    assert {"box_seal_pq", "content_open_pq", "argon2id", "verify"} <= kinds
    probe = common.UnitProbe(load(SCENARIOS / "help_article_backup.yaml").argon2.cost(), kinds)
    units = probe.units()
    assert set(units) == kinds and all(0 < u < 1 for u in units.values())


def test_floor_ratio_of_a_short_run() -> None:
    r = common.measure(load(SCENARIOS / "help_article.yaml"), parts=2, min_seconds=0.0)
    assert r["runs"] == 2 and r["messages"] == 5
    assert math.isfinite(r["ratio"]) and 0.5 < r["ratio"] < 10
    assert r["ops"]["content_seal"] == 5 and r["floor_s"] > r["simpy_s"] > 0


def test_floor_repeat_prints_each_table_and_the_medians(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(floor, "measure", functools.partial(common.measure, parts=1, min_seconds=0.0))
    monkeypatch.setattr(sys, "argv", ["floor.py", "--only", "help_article", "--repeat", "2"])
    floor.main()
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out if line.startswith("help_article")]
    assert len(rows) == 3 and "range over 2" in out[-2]
    ratios = sorted(float(r[7]) for r in rows[:2])  # each table's ratio column
    assert float(rows[2][1]) == pytest.approx(sum(ratios) / 2, abs=0.011)
    assert rows[2][2] == f"{ratios[0]:.2f}–{ratios[1]:.2f}"
