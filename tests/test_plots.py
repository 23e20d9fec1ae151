"""Sweep charts: each draws exactly the data of the table it is given; the statistics
they draw (sim.stats)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.container import BarContainer
from scipy.stats import binomtest, ttest_1samp

from sim import plots, stats
from sim.cli import main

HORIZON = 100.0
LOSSES = {0: [5.0, 20.0, 20.0], 1: [], 2: [1.0, 2.0, 3.0, 4.0]}  # first loss days per point
REPS = {0: 10, 1: 10, 2: 4}
COUNT = {0: 0, 1: 2, 2: 0}  # backup keys at each point


@pytest.fixture
def df() -> pd.DataFrame:
    rows = []
    for p, n in REPS.items():
        for r in range(n):
            t = LOSSES[p][r] if r < len(LOSSES[p]) else None
            rows.append({"run_id": f"p{p}-r{r}", "point": p, "rep": r, "seed": 1,
                         "label": f"policy {p}", "behaviour.backup_keys.count": COUNT[p],
                         "horizon_days": HORIZON, "any_loss": t is not None,
                         "first_loss_at": np.nan if t is None else t,
                         "fraction_lost": 0.0 if t is None else (r + 1) / 10,
                         "fraction_exposed": (p * r % 3) / 4})
    return pd.DataFrame(rows)


def wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return ci.low, ci.high


def bar_container(ax: plt.Axes) -> BarContainer:
    return next(c for c in ax.containers if isinstance(c, BarContainer))


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def test_risk_over_time_is_the_censored_ecdf_of_first_loss(df: pd.DataFrame) -> None:
    ax = plots.risk_over_time(df)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["policy 0 (n=10)", "policy 1 (n=10)", "policy 2 (n=4)"]
    for p, line in enumerate(lines):
        times = np.array(LOSSES[p])
        x = np.unique(np.concatenate([[0.0], times, [HORIZON]]))
        y = [(times <= t).sum() / REPS[p] for t in x]
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y)
        assert line.get_drawstyle() == "steps-post"
        # the band reaches the Wilson bounds of the final share
        band = ax.collections[p].get_paths()[0].vertices[:, 1]
        low, high = wilson(len(times), REPS[p])
        assert band.max() == pytest.approx(high) and band.min() == pytest.approx(0.0)
        if len(times) == 0:
            assert low == 0.0
    assert ax.get_lines()[1].get_ydata().max() == 0.0  # no loss: flat at zero
    assert ax.get_lines()[2].get_ydata()[-1] == 1.0  # every replication lost something


def test_risk_over_time_censors_at_the_given_horizon(df: pd.DataFrame) -> None:
    line = plots.risk_over_time(df, horizon=10.0).get_lines()[0]
    assert line.get_xdata().tolist() == [0.0, 5.0, 10.0] and line.get_ydata().tolist() == [0.0, 0.1, 0.1]


def test_policy_comparison_bars_are_loss_shares_with_wilson_intervals(df: pd.DataFrame) -> None:
    ax = plots.policy_comparison(df)
    bars = bar_container(ax)
    heights = [b.get_height() for b in bars]
    assert heights == pytest.approx(df.groupby("point")["any_loss"].mean().tolist())
    assert heights == pytest.approx([0.3, 0.0, 1.0])
    segments = bars.errorbar.lines[2][0].get_segments()
    for p, seg in enumerate(segments):
        low, high = wilson(len(LOSSES[p]), REPS[p])
        assert seg[0][1] == pytest.approx(low) and seg[1][1] == pytest.approx(high)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["policy 0", "policy 1", "policy 2"]
    assert [t.get_text() for t in ax.texts] == ["3/10", "0/10", "4/4"]


def test_policy_comparison_by_a_varied_column(df: pd.DataFrame) -> None:
    ax = plots.policy_comparison(df, by="behaviour.backup_keys.count")
    assert [b.get_height() for b in bar_container(ax)] == pytest.approx([7 / 14, 0.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["backup_keys.count=0", "backup_keys.count=2"]
    with pytest.raises(KeyError, match="no column"):
        plots.policy_comparison(df, by="nope")


def test_fraction_lost_shows_every_replication_and_the_mean(df: pd.DataFrame) -> None:
    ax = plots.fraction_lost(df)
    means = df.groupby("point")["fraction_lost"].mean()
    (container,) = ax.containers
    np.testing.assert_allclose(container.lines[0].get_ydata(), means)
    dots = ax.collections[:3]
    for p, dots_p in enumerate(dots):
        offsets = dots_p.get_offsets()
        assert len(offsets) == REPS[p]
        np.testing.assert_allclose(sorted(offsets[:, 1]), sorted(df.loc[df["point"] == p, "fraction_lost"]))
        assert np.all(np.abs(offsets[:, 0] - p) < 0.5)
    # the interval of a constant group is the value itself; otherwise it brackets the mean
    low, high = container.lines[2][0].get_segments()[0][:, 1]
    assert low < means[0] < high
    assert container.lines[2][0].get_segments()[1][:, 1].tolist() == [0.0, 0.0]


def test_a_group_pooling_grid_points_gets_an_interval_over_replications(df: pd.DataFrame) -> None:
    """Two grid points share each replication's history (here: the same fraction lost): pooled,
    they carry the information of their 10 replications, not of 20 independent runs."""
    ten = df[df["point"] == 0]
    both = pd.concat([ten, ten.assign(point=1, **{"behaviour.backup_keys.count": 2})])
    (container,) = plots.fraction_lost(both, by="horizon_days").containers
    low, high = container.lines[2][0].get_segments()[0][:, 1]
    x = ten["fraction_lost"].to_numpy()
    ci = ttest_1samp(x, x.mean()).confidence_interval(0.95)
    np.testing.assert_allclose([low, high], [max(0.0, ci.low), ci.high])


def test_charts_draw_on_a_given_axes_and_use_the_style(df: pd.DataFrame) -> None:
    _, ax = plt.subplots()
    for chart in plots.SWEEP_CHARTS.values():
        assert chart(df, ax=ax) is ax
        ax.clear()
    plt.rcdefaults()
    plots.policy_comparison(df)
    assert plt.rcParams["axes.spines.top"] is False  # the packaged style was applied
    assert plots.STYLE.exists() and plots.STYLE.parent.name == "sim"


def test_cli_plot_png_and_svg(df: pd.DataFrame, tmp_path: Path) -> None:
    df.to_parquet(tmp_path / "sweep.parquet")
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "risk", "--out", str(tmp_path / "r.png")])
    assert r.exit_code == 0 and (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "policy", "--by",
                                  "behaviour.backup_keys.count", "--out", str(tmp_path / "c" / "p.svg")])
    assert r.exit_code == 0 and b"<svg" in (tmp_path / "c" / "p.svg").read_bytes()[:500]
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "fraction", "--out", str(tmp_path / "f.svg")])
    assert r.exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--out", "x.pdf"], "give a .png or .svg file"),
    (["--out", "x.png", "--by", "nope"], "no column 'nope'"),
])
def test_cli_plot_bad_input(df: pd.DataFrame, tmp_path: Path, args: list[str], message: str) -> None:
    df.to_parquet(tmp_path / "sweep.parquet")
    r = CliRunner().invoke(main, ["plot", str(tmp_path), *args])
    assert r.exit_code == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_cli_plot_not_a_sweep(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["plot", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "no such folder" in r.stderr
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "not a sweep folder" in r.stderr


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


def test_one_run_draws_no_interval(df: pd.DataFrame) -> None:
    ax = plots.fraction_lost(df[df["rep"] == 0])
    assert [seg.size for seg in ax.containers[0].lines[2][0].get_segments()] == [0, 0, 0]
    assert [seg.size for seg in plots.fraction_lost(df).containers[0].lines[2][0].get_segments()] == [4, 4, 4]


def test_median_first_loss_is_censored_at_the_horizon(df: pd.DataFrame) -> None:
    """Over all replications: 3 of 10 lost something, so the median is not reached (the
    median over those 3 alone, day 20, would be wrong); 4 of 4 lost, by days 1–4: day 2."""
    from sim.cli import sweep_table

    medians = [stats.median_first_loss(g) for _, g in stats.sweep_groups(df)]
    assert medians == [None, None, 2.0]
    lines = sweep_table(df).splitlines()
    assert lines[1].split()[-3:-1] == ["day", "100"] and lines[1].split()[-4] == ">"
    assert lines[3].split()[-3:-1] == ["day", "2"]


def test_sim_plots_is_reachable_from_import_sim_without_loading_matplotlib_before() -> None:
    code = ("import sys, sim; assert 'matplotlib' not in sys.modules; "
            "assert callable(sim.plots.risk_over_time) and 'matplotlib' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
