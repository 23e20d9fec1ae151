"""bench/common.py and bench/floor.py: the benchmarks' machinery, run small (nothing is timed)."""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest

from helpers import SCENARIOS
from sizes import included

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import common  # noqa: E402
import floor  # noqa: E402

from sim.results import run as run_scenario  # noqa: E402
from sim.scenario import load  # noqa: E402


def test_every_counted_operation_has_a_unit_cost() -> None:
    """The floor prices every counter a run can report, post-quantum variants included."""
    kinds: set[str] = set()
    for f in included():  # large ones aside (tests/sizes.py)
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


def test_sweep_floor_prices_all_but_the_content_operations(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from sim.sweeps import scenario_data

    data, file = scenario_data(SCENARIOS / "help_article.yaml")
    r = common.measure_sweep(data, file, parts=2, reps=2)
    assert r["reps"] == 4 and r["messages"] == 5
    assert r["ops"]["content_seal"] == 5 and r["content_s"] > 0  # one probe per generation and app
    assert r["floor_s"] == pytest.approx(r["key_floor_s"] + r["content_s"])
    assert math.isfinite(r["ratio"]) and r["ratio"] > r["ratio_full"] > 0 and len(r["ratios"]) == 2
    import sweep_floor

    monkeypatch.setattr(sys, "argv", ["sweep_floor.py", "--scenario", str(SCENARIOS / "help_article.yaml"),
                                      "--parts", "1", "--reps", "1", "--repeat", "2"])
    sweep_floor.main()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and out[-1].startswith("ratio to the key-distribution floor: median")


def test_scaling_measures_one_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import scaling

    r = scaling.one(8, "30d", parts=1, decrypt="generations", reps=1)
    assert r["users"] == 8 and r["peak_mib"] > 0 and r["key_floor_s"] > 0 and len(r["ratios"]) == 1


def test_time_to_ci_reads_the_sweep_it_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The command it times runs here, in this process (the script starts it as one)."""
    import time_to_ci

    from helpers import invoke

    def dmesim(command: list[str], **kwargs: object) -> None:
        assert command[1:4] == ["-m", "sim", "sweep"]
        code, _, err = invoke(*command[3:])
        assert code == 0, err

    f = tmp_path / "s.yaml"
    f.write_text("name: s\nhorizon: 30d\nusers: [{name: a, devices: [{name: p, fate: {lost: {exp: 30d}}}]}]\n"
                 "traffic: {voicemail: {every: 5d}}\n")
    monkeypatch.setattr(time_to_ci.subprocess, "run", dmesim)
    monkeypatch.setattr(sys, "argv", ["time_to_ci.py", "--scenario", str(f), "--ci", "0.3", "--round", "4",
                                      "--workers", "1", "--serial-reps", "2"])
    time_to_ci.main()
    out = capsys.readouterr().out
    assert out.startswith("base: ") and "replications in" in out and "rounds of 4" in out


def test_other_load_counts_only_what_others_use() -> None:
    import os
    import time

    with common.OtherLoad() as load:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:  # this process's own work is not the others'
            pass
    assert load.wall >= 0.3 and 0 <= load.cores <= (os.cpu_count() or 1) + 0.5
