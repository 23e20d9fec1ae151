"""sim.sweeps.stopping: --ci, replications in rounds until each grid point's 95% Wilson
half-width on P(any loss) reaches the target; the same table on every executor and after
a resume; --max-reps; the rule's refusals."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sim
from helpers import DOOMED, SAFE, counting, invoke, wilson
from sim.scenario import apply_overrides
from sim.sweeps import MAX_REPS, ROUND, SweepError, half_width, read_sweep, runner

# One phone, lost after a mean of 100 days (P(any loss) about 0.45 over 60 days) or 1000
# days (about 0.06): a few milliseconds a replication.
MID = apply_overrides(SAFE, {"name": "mid", "users.0.devices.0.fate": {"lost": {"exp": "100d"}}})
VARY = {"users.0.devices.0.fate.lost.exp": ["100d", "1000d"]}
RULE: dict[str, Any] = {"reps": 20, "ci": 0.13, "max_reps": 200, "vary": VARY}


@pytest.fixture(scope="module")
def adaptive() -> pd.DataFrame:
    return sim.sweep(MID, **RULE)


def rule_holds(df: pd.DataFrame, ci: float, round_: int, cap: int) -> dict[int, int]:
    """Check the stopping rule on a table; return the replications of each grid point.

    Each point holds replications 0 … n−1; before every earlier round boundary its
    half-width was above the target; at n it is at most the target, or n is the cap."""
    held = {}
    for point, g in df.groupby("point"):
        reps, hit = g["rep"].tolist(), g["any_loss"].tolist()
        n = len(reps)
        assert reps == list(range(n))
        for j in range(round_, n, round_):  # the boundaries of the rounds before the last
            assert half_width(sum(hit[:j]), j) > ci, (point, j)
        assert n % round_ == 0 or n == cap
        assert n == cap or half_width(sum(hit), n) <= ci
        held[int(point)] = n
    return held


def test_each_point_runs_rounds_until_its_half_width_reaches_the_target(adaptive: pd.DataFrame) -> None:
    held = rule_holds(adaptive, 0.13, 20, 200)
    assert held[0] > held[1] == 20  # per point: the rarer loss is known after one round
    assert held[0] % 20 == 0 and held[0] >= 40


def test_half_width_is_the_wilson_intervals() -> None:
    for k, n in ((0, 7), (3, 7), (7, 7), (12, 40)):
        low, high = wilson(k, n)
        if 0 < k < n:  # not clipped at 0 or 1
            assert half_width(k, n) == pytest.approx((high - low) / 2, abs=1e-12)
    assert half_width(0, 0) == math.inf


def test_the_same_table_serial_on_a_pool_and_after_an_interrupted_resume(
        adaptive: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pd.testing.assert_frame_equal(sim.sweep(MID, **RULE, workers=2, batch_size=3), adaptive)

    class Interrupted(Exception):
        pass

    real_write, written = runner.write_shard, []

    def write_then_die(out: Path, task: Any, *args: Any) -> None:
        if len(written) == 10:  # batches of 5: round 1 is 8 batches, so this is in round 2
            raise Interrupted
        real_write(out, task, *args)
        written.append(task)

    monkeypatch.setattr(runner, "write_shard", write_then_die)
    with pytest.raises(Interrupted):
        sim.sweep(MID, **RULE, out=tmp_path, batch_size=5)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["rounds"] == 1 and not manifest["complete"]
    assert [p["running"] for p in manifest["points"]] == [True, False]
    saved = read_sweep(tmp_path)
    assert len(saved) == 50 and saved[saved["rep"] >= 20]["point"].eq(0).all()

    monkeypatch.setattr(runner, "write_shard", real_write)
    ran = counting(monkeypatch)
    # resumed without --ci: the saved rule
    df = sim.sweep(MID, vary=VARY, out=tmp_path, resume=True)
    pd.testing.assert_frame_equal(df, adaptive)
    assert sorted(ran) == list(range(30, len(adaptive) - 20))  # point 0 from rep 30 on, once each
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["complete"] and manifest["executed"] == len(ran)
    assert manifest["stop"] == {"ci": 0.13, "max_reps": 200, "confidence": 0.95} and manifest["reps"] == 20
    assert [p["reps"] for p in manifest["points"]] == adaptive.groupby("point").size().tolist()
    assert all(p["reached"] and p["half_width"] <= 0.13 for p in manifest["points"])

    ran.clear()  # resuming a finished sweep runs nothing
    pd.testing.assert_frame_equal(sim.sweep(MID, **RULE, out=tmp_path, resume=True), adaptive)
    assert ran == []


def test_a_tighter_target_on_resume_continues_the_same_rounds(adaptive: pd.DataFrame, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sim.sweep(MID, **RULE, out=tmp_path, batch_size=10)
    tighter = {**RULE, "ci": 0.1}
    fresh = sim.sweep(MID, **tighter)
    ran = counting(monkeypatch)
    df = sim.sweep(MID, **tighter, out=tmp_path, resume=True, batch_size=10)
    pd.testing.assert_frame_equal(df, fresh)
    assert len(ran) == len(df) - len(adaptive)  # none of the saved replications again
    for args, problem in (({"ci": 0.2}, "resume with --ci 0.1 or smaller, not 0.2"),
                          ({"ci": 0.1, "reps": 40}, "in rounds of 20 replications per grid point; resume "
                                                    "with --reps 20"),
                          ({"ci": 0.1, "max_reps": 100}, "capped at 200 replications per grid point")):
        with pytest.raises(SweepError, match=problem):
            sim.sweep(MID, **{**tighter, **args}, out=tmp_path, resume=True)
    fixed = tmp_path / "fixed"
    sim.sweep(MID, reps=20, vary=VARY, out=fixed, batch_size=20)
    with pytest.raises(SweepError, match="fixed 20 replications per grid point; resume it without --ci"):
        sim.sweep(MID, **RULE, out=fixed, resume=True)


def test_no_loss_or_certain_loss_stops_after_the_first_round() -> None:
    """Wilson at 0 of n (or n of n): half-width z²/(2(n + z²)); 0.0094 at n = 200, the
    default round, so ±0.01 is known after one round (rounds of 100 would take two)."""
    assert ROUND == 200 and half_width(0, 200) == pytest.approx(0.0094227, abs=1e-7)
    assert half_width(200, 200) == half_width(0, 200) <= 0.01 < half_width(0, 100)
    for scenario, lost in ((SAFE, False), (DOOMED, True)):
        df = sim.sweep(scenario, ci=0.01)
        assert len(df) == 200 and df["any_loss"].eq(lost).all()


def test_max_reps_caps_each_point_and_the_last_round_may_be_short(tmp_path: Path) -> None:
    df = sim.sweep(MID, reps=20, ci=0.01, max_reps=50, vary=VARY, out=tmp_path)
    assert df.groupby("point").size().tolist() == [50, 50]  # rounds of 20, 20, 10
    rule_holds(df, 0.01, 20, 50)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["rounds"] == 3 and not any(p["reached"] for p in manifest["points"])
    assert MAX_REPS == 10_000 and half_width(5_000, 10_000) <= 0.01  # the default cap: ±0.01 at any P


@pytest.mark.parametrize("ci", ["0", "-0.01", "0.5", "0.7", "nan", "inf"])
def test_a_bad_target_is_one_line(tmp_path: Path, ci: str) -> None:
    code, out, err = invoke("sweep", str(tmp_path / "not-read.yaml"), "--ci", ci, "--out", str(tmp_path / "x"))
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert err.startswith(f"dmesim: --ci {ci}: the target half-width must be more than 0 and less than 0.5")
    assert not (tmp_path / "x").exists()
    with pytest.raises(SweepError, match="the target half-width must be more than 0 and less than 0.5"):
        sim.sweep(SAFE, ci=float(ci))


def test_max_reps_needs_a_target(tmp_path: Path) -> None:
    code, _, err = invoke("sweep", str(tmp_path / "s.yaml"), "--max-reps", "10", "--out", str(tmp_path / "x"))
    assert code == 2 and err.count("\n") == 1
    with pytest.raises(SweepError, match="--max-reps caps a sweep that stops at a target: give --ci too"):
        sim.sweep(SAFE, max_reps=10)


def test_cli_prints_the_half_widths_and_whether_the_target_was_reached(tmp_path: Path) -> None:
    f = tmp_path / "mid.yaml"
    f.write_text(json.dumps(MID))
    args = ["sweep", str(f), "--reps", "20", "--vary", "users.0.devices.0.fate.lost.exp=100d,1000d",
            "--no-charts"]
    code, out, err = invoke(*args, "--ci", "0.13", "--max-reps", "200", "--out", str(tmp_path / "a"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[7] == "±" and lines[2].split()[1] == "20"
    assert lines[2].split()[5] == f"{half_width(1, 20):.4f}"
    assert "every grid point reached ±0.13 (95% Wilson half-width of P(any loss)) in" in out
    code, out, err = invoke(*args, "--ci", "0.05", "--max-reps", "30", "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert ("±0.05 not reached at 2 of 2 grid points, stopped at --max-reps 30 (2 rounds of 20): "
            "lost.exp=100d; lost.exp=1000d") in out
    code, out, err = invoke(*args, "--out", str(tmp_path / "b"), "--resume", "--max-reps", "40")
    assert code == 0 and "ran 20 replications (60 reused from earlier shards)" in out, err


def test_the_progress_bar_shows_the_widest_current_half_width() -> None:
    from sim.sweeps.stopping import Stop

    stop = Stop(0.01, 200, 10_000)
    assert runner._progress({0: [0, 200], 3: [5, 20]}, stop) == f"±{half_width(5, 20):.4f} → 0.01, 2 points running"
    assert runner._progress({1: [0, 0]}, stop) == "±… → 0.01, 1 point running"


def test_a_damaged_rule_in_the_manifest_is_refused(tmp_path: Path) -> None:
    sim.sweep(SAFE, reps=20, ci=0.2, out=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for stop, problem in (({"ci": "x", "max_reps": 10}, "stop.ci is 'x', not a half-width between 0 and 0.5"),
                          ({"ci": 0.2, "max_reps": 0}, "stop.max_reps is 0, not a positive count"),
                          ([], "stop is not an object")):
        (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "stop": stop}))
        with pytest.raises(SweepError, match=re.escape(f"not a dmesim sweep manifest ({problem})")):
            sim.sweep(SAFE, reps=20, ci=0.2, out=tmp_path, resume=True)
