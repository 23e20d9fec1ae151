"""The charts of a sweep (one series per group of its table): :func:`risk_over_time`,
:func:`fraction_lost`, :func:`policy_comparison` and :func:`tradeoff`; :func:`sweep_charts`
gives those that apply to a table."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..stats import group_mean, loss_risk, risk_curve, sweep_groups
from .base import STATUS_COLOURS, literal, new_axes

# ---------------------------------------------------------------- sweep charts
#
# Each takes the table of :func:`sim.sweep` (one row per replication) and draws one
# series per group: per grid point by default (labelled by the ``label`` column), or
# per value of the columns given as ``by``.


def _colours(n: int) -> list[Any]:
    """``n`` colours that stay apart: the style's six, then tab10, tab20, then a sweep of
    turbo (the series then differ by line style too)."""
    if n <= 6:
        return list(plt.rcParams["axes.prop_cycle"].by_key()["color"])[:n] if n else []
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("turbo")(x) for x in np.linspace(0.05, 0.95, n)]


def _linestyle(i: int, n: int) -> str:
    return "-" if n <= 10 else ["-", "--", "-.", ":"][i % 4]


def _wrap(label: str, width: int = 22) -> str:
    """A long label on several lines, broken at spaces only."""
    return "\n".join(textwrap.wrap(label, width, break_long_words=False, break_on_hyphens=False)) or label


def _series_legend(ax: Axes, n: int, loc: Any) -> None:
    """The legend of ``n`` series: inside at ``loc``, or outside on the right beyond six."""
    if n > 6:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
    else:
        ax.legend(loc=loc, fontsize="small")


def _categorical_axis(ax: Axes, labels: list[str]) -> None:
    """Group labels under their ticks, wrapped at spaces; labels too long for that are
    numbered, with a key of the numbers right of the chart."""
    wrapped = [_wrap(x, 16) for x in labels]
    lines = [line for x in wrapped for line in x.split("\n")]
    if max(map(len, lines), default=0) <= 20 and max((x.count("\n") for x in wrapped), default=0) < 3:
        ax.set_xticks(range(len(labels)), wrapped)
    else:
        ax.set_xticks(range(len(labels)), [str(i + 1) for i in range(len(labels))])
        key = "\n".join(f"{i + 1}: " + _wrap(x, 60).replace("\n", "\n     ") for i, x in enumerate(labels))
        ax.text(1.02, 1.0, literal(key), transform=ax.transAxes, va="top", ha="left", fontsize=7.5)
        ax.set_xlabel("group (numbered: see the key on the right)")
    ax.set_xlim(-0.6, len(labels) - 0.4)


def risk_over_time(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
                   confidence: float = 0.95, horizon: float | None = None) -> Axes:
    """Probability of any permanent data loss by day t, one step line per group, with
    shaded Wilson confidence bands."""
    ax = new_axes(ax, figsize=(8, 4.5))
    groups = sweep_groups(df, by)
    colours = _colours(len(groups))
    for i, (label, g) in enumerate(groups):
        c = risk_curve(g, horizon, confidence)
        (line,) = ax.step(c["t"], c["p"], where="post", label=_wrap(f"{label} (n={len(g)})", 40),
                          color=colours[i], linestyle=_linestyle(i, len(groups)))
        ax.fill_between(c["t"], c["low"], c["high"], step="post", alpha=0.18 if len(groups) <= 6 else 0.08,
                        color=line.get_color(), linewidth=0)
    ax.set_xlabel("simulated days")
    ax.set_ylabel("P(any permanent loss by day t)")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    if groups:
        _series_legend(ax, len(groups), loc="upper left")
    ax.set_title(f"Risk of permanent data loss over time ({confidence:.0%} Wilson bands)")
    return ax


def fraction_lost(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
                  confidence: float = 0.95) -> Axes:
    """Fraction of messages permanently lost per replication (dots) and its mean with a
    t confidence interval (black, clipped to 0–1), per group."""
    groups = sweep_groups(df, by)
    ax = new_axes(ax, figsize=(max(5.0, 1.2 * len(groups) + 2), 4.5))
    jitter = np.random.default_rng(0)  # a local stream: the chart is the same every time
    colours = _colours(len(groups))
    means, lows, highs = [], [], []
    for i, (_, g) in enumerate(groups):
        x = g["fraction_lost"].to_numpy(dtype=float)
        ax.scatter(i + jitter.uniform(-0.18, 0.18, len(x)), x, s=9, alpha=0.35, color=colours[i],
                   clip_on=False)
        mean, low, high = group_mean(g, "fraction_lost", confidence)
        means.append(mean)
        lows.append(low)
        highs.append(high)
    m = np.array(means, dtype=float)
    low_err = np.clip(m - np.array(lows, dtype=float), 0, None)
    high_err = np.clip(np.array(highs, dtype=float) - m, 0, None)
    ax.errorbar(range(len(groups)), m, yerr=[np.minimum(low_err, m), high_err], fmt="o",
                color="black", capsize=5, label=f"mean ({confidence:.0%} CI)", zorder=3, clip_on=False)
    _categorical_axis(ax, [label for label, _ in groups])
    ax.set_ylabel("fraction of messages permanently lost")
    top = max([*highs, *df["fraction_lost"].to_numpy(dtype=float), 0.0], key=lambda v: 0.0 if v != v else v)
    ax.set_ylim(0, min(1.0, max(0.05, float(top) * 1.1)))
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title("Messages lost per replication")
    return ax


def policy_comparison(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
                      confidence: float = 0.95) -> Axes:
    """P(any permanent loss within the horizon) per group as bars with Wilson CI error bars,
    each annotated with losses/replications."""
    risk = loss_risk(df, by, confidence)
    ax = new_axes(ax, figsize=(max(5.0, 1.2 * len(risk) + 2), 4.5))
    x = list(range(len(risk)))
    ax.bar(x, risk["p"], yerr=[(risk["p"] - risk["low"]).clip(lower=0), (risk["high"] - risk["p"]).clip(lower=0)],
           capsize=5, color=STATUS_COLOURS["lost"], alpha=0.85, error_kw={"linewidth": 1})
    for i, r in risk.iterrows():
        ax.annotate(f"{r['losses']}/{r['n']}", (x[int(i)], r["high"]), textcoords="offset points",  # type: ignore[call-overload]
                    xytext=(0, 3), ha="center", fontsize="small")
    _categorical_axis(ax, list(risk["label"]))
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("P(any permanent loss within the horizon)")
    ax.set_title(f"Permanent data loss by policy ({confidence:.0%} Wilson intervals)")
    return ax


def has_exposure(df: pd.DataFrame) -> bool:
    """Whether an adversary read a message in some replication of the sweep table ``df``
    (what :func:`tradeoff` needs to show anything)."""
    if "adversaries" in df and (df["adversaries"].fillna(0) > 0).any():
        return True
    return "fraction_exposed" in df and bool((df["fraction_exposed"].fillna(0) > 0).any())


def tradeoff(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
             confidence: float = 0.95) -> Axes:
    """Loss against exposure per group: P(any permanent loss) with Wilson intervals across,
    the mean fraction of messages an adversary decrypts with t intervals up. Backup keys
    and escrow move points left and up; fingerprint checks and fast signed revocations down.

    ValueError (a readable sentence) when no replication had an adversary that read
    anything: the chart would be a flat line at 0."""
    if not has_exposure(df):
        raise ValueError("tradeoff: no adversary read any message in this sweep (every fraction_exposed "
                         "is 0), so loss against exposure would be flat at 0; give the scenario an "
                         "adversary: section (see scenarios/tradeoff.yaml) or use --kind risk, fraction "
                         "or policy")
    risk = loss_risk(df, by, confidence)
    groups = sweep_groups(df, by)
    ax = new_axes(ax, figsize=(7, 5))
    colours = _colours(len(groups))
    for i, ((label, g), (_, r)) in enumerate(zip(groups, risk.iterrows(), strict=True)):
        mean, low, high = group_mean(g, "fraction_exposed", confidence)
        ax.errorbar([r["p"]], [mean], xerr=[[max(0.0, r["p"] - r["low"])], [max(0.0, r["high"] - r["p"])]],
                    yerr=[[max(0.0, mean - low) if low == low else 0.0],
                          [max(0.0, high - mean) if high == high else 0.0]],
                    fmt="o", capsize=4, label=_wrap(label, 40), color=colours[i], clip_on=False)
    ax.set_xlabel("P(any permanent loss within the horizon)")
    ax.set_ylabel("mean fraction of messages exposed to an adversary")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(bottom=0)
    _series_legend(ax, len(groups), loc="best")
    ax.set_title(f"Loss against exposure ({confidence:.0%} intervals)")
    return ax


SWEEP_CHARTS: dict[str, Callable[..., Axes]] = {
    "risk": risk_over_time, "fraction": fraction_lost, "policy": policy_comparison, "tradeoff": tradeoff}


def sweep_charts(df: pd.DataFrame) -> dict[str, Callable[..., Axes]]:
    """The charts of :data:`SWEEP_CHARTS` that apply to the sweep table ``df``: tradeoff
    only when an adversary read something (:func:`has_exposure`)."""
    return {k: f for k, f in SWEEP_CHARTS.items() if k != "tradeoff" or has_exposure(df)}
