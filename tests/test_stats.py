"""sim.stats: the risk of loss, its intervals, the median first loss, from sweep tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import sim
from helpers import DOOMED, SAFE, wilson
from sim import stats
from sim.cli import main
from sim.stats import loss_risk, risk_curve


def test_wilson_is_scipys_wilson() -> None:
    for n in (1, 2, 7, 40):
        for k in range(n + 1):
            assert stats.wilson(k, n) == pytest.approx(wilson(k, n), abs=1e-12)


def test_pooled_grid_points_count_shared_histories_once() -> None:
    """Replication r shares its random history across grid points: pooling three points
    whose outcome is the same history's gives no more information than the 20 histories."""
    reps = np.tile(np.arange(20), 3)
    hit = (reps % 4 == 0).astype(float)  # the history decides: 5 of 20
    assert stats.effective_n(hit, reps) == pytest.approx(19.0)  # n_eff = R - 1 here
    assert stats.effective_n(hit, np.arange(60)) == 60.0  # independent runs
    pooled = pd.DataFrame({"point": np.repeat([0, 1, 2], 20), "rep": reps, "any_loss": hit.astype(bool),
                           "horizon_days": 100.0, "label": "x", "grid": "all"})
    risk = stats.loss_risk(pooled, by="grid").iloc[0]
    assert (risk["n"], risk["losses"], risk["p"]) == (60, 15, 0.25)
    assert (risk["low"], risk["high"]) == pytest.approx(stats.wilson(0.25 * 19, 19))
    assert risk["high"] - risk["low"] > np.subtract(*wilson(15, 60)[::-1])  # wider than 60 independent runs


def test_a_group_of_runs_with_different_horizons_is_refused(df: pd.DataFrame, tmp_path: Path) -> None:
    df.loc[df["point"] == 2, "horizon_days"] = 50.0
    with pytest.raises(ValueError, match="different horizons"):
        stats.loss_risk(df, by="behaviour.backup_keys.count")
    stats.loss_risk(df)  # each grid point has one horizon
    df.to_parquet(tmp_path / "sweep.parquet")
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "risk", "--by", "behaviour.backup_keys.count",
                                  "--out", str(tmp_path / "r.png")])
    assert r.exit_code == 2 and "different horizons (50, 100 days)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_median_first_loss_is_censored_at_the_horizon(df: pd.DataFrame) -> None:
    """Over all replications: 3 of 10 lost something, so the median is not reached (the
    median over those 3 alone, day 20, would be wrong); 4 of 4 lost, by days 1–4: day 2."""
    from sim.cli import sweep_table

    medians = [stats.median_first_loss(g) for _, g in stats.sweep_groups(df)]
    assert medians == [None, None, 2.0]
    lines = sweep_table(df).splitlines()
    assert lines[1].split()[-3:-1] == ["day", "100"] and lines[1].split()[-4] == ">"
    assert lines[3].split()[-3:-1] == ["day", "2"]


# ---------------------------------------------------------------- known answers


def test_no_loss_events_means_zero_risk() -> None:
    df = sim.sweep(SAFE, reps=5)
    assert not df["any_loss"].any() and (df["fraction_lost"] == 0).all()
    risk = loss_risk(df)
    assert risk["p"].tolist() == [0.0] and risk["losses"].tolist() == [0]
    assert 0 < risk["high"].iloc[0] < 0.5  # an honest upper bound, not zero
    curve = risk_curve(df)
    assert (curve["p"] == 0).all() and curve["t"].tolist() == [0.0, 60.0]


def test_certain_loss_of_the_only_device_means_risk_one() -> None:
    df = sim.sweep(DOOMED, reps=5)
    assert df["any_loss"].all() and (df["first_loss_at"] == 10.0).all()
    assert loss_risk(df)["p"].tolist() == [1.0]
    curve = risk_curve(df)
    assert curve["t"].tolist() == [0.0, 10.0, 60.0] and curve["p"].tolist() == [0.0, 1.0, 1.0]
