"""sim.plots: each chart draws exactly the data of the table it is given."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from scipy.stats import ttest_1samp

from helpers import HORIZON, LOSSES, REPS, SCENARIOS, wilson
from sim import plots


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


def test_one_run_draws_no_interval(df: pd.DataFrame) -> None:
    ax = plots.fraction_lost(df[df["rep"] == 0])
    assert [seg.size for seg in ax.containers[0].lines[2][0].get_segments()] == [0, 0, 0]
    assert [seg.size for seg in plots.fraction_lost(df).containers[0].lines[2][0].get_segments()] == [4, 4, 4]


def test_charts_draw_on_a_given_axes_and_use_the_style(df: pd.DataFrame) -> None:
    _, ax = plt.subplots()
    for chart in plots.SWEEP_CHARTS.values():
        assert chart(df, ax=ax) is ax
        ax.clear()
    plt.rcdefaults()
    plots.policy_comparison(df)
    assert plt.rcParams["axes.spines.top"] is False  # the packaged style was applied
    assert plots.STYLE.exists() and plots.STYLE.parent.name == "sim"


def test_sim_plots_is_reachable_from_import_sim_without_loading_matplotlib_before() -> None:
    code = ("import sys, sim; assert 'matplotlib' not in sys.modules; "
            "assert callable(sim.plots.risk_over_time) and 'matplotlib' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_stochastic_adversaries_in_a_sweep_report_exposure_next_to_loss() -> None:
    import numpy as np

    import sim
    from sim import plots

    df = sim.sweep(SCENARIOS / "tradeoff.yaml", reps=12,
                   vary={"behaviour.backup_keys.count": [0, 2]})
    assert {"any_loss", "fraction_lost", "exposed", "fraction_exposed"} <= set(df.columns)
    assert (df["fraction_exposed"] > 0).any()
    ax = plots.tradeoff(df)
    drawn = [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.lines
             if len(line.get_xdata()) == 1 and line.get_marker() == "o"]
    risk = plots.loss_risk(df)
    expected = [(p, g["fraction_exposed"].mean())
                for p, (_, g) in zip(risk["p"], plots.sweep_groups(df), strict=True)]
    assert np.allclose(drawn, expected)
