"""The benchmarks' own machinery, run small (nothing here is timed against a target)."""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest

from helpers import SCENARIOS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import cold  # noqa: E402
import common  # noqa: E402
import floor  # noqa: E402
import overhead  # noqa: E402

from sim.behaviour.simulation import Simulation  # noqa: E402
from sim.model.crypto import IDENTITY, Crypto  # noqa: E402
from sim.scenario import load  # noqa: E402


def test_every_counted_operation_has_a_unit_cost() -> None:
    """The floor prices every counter a run can report, post-quantum variants included."""
    kinds: set[str] = set()
    for f in sorted(SCENARIOS.glob("*.yaml")):
        kinds |= set(Simulation(load(f)).run().summary["ops"])
    kinds |= set(Simulation(common.large(2, "60d", post_quantum=True)).run().summary["ops"])
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


def test_overhead_replays_the_cryptography_and_restores_it() -> None:
    real = {name: getattr(Crypto, name) for name in IDENTITY}
    wall, phases, interleaved = overhead.measure(load(SCENARIOS / "help_article.yaml"), rounds=2)
    assert wall > 0 and len(phases) == len(overhead.PHASES) and all(p > 0 for p in phases)
    assert 0 < interleaved < wall
    assert {name: getattr(Crypto, name) for name in IDENTITY} == real


def test_cold_and_warm_costs_of_each_operation() -> None:
    costs = cold.measure(calls=3)
    assert {"HPKE box open", "a random stream"} <= set(costs)
    assert all(0 < w < 1 and 0 < k < 1 for w, _, k in costs.values())
    floor = {name: f for name, (_, f, _) in costs.items()}
    assert floor["a random stream"] is None and 0 < (floor["HPKE box seal"] or 0) < 1
