"""Charts in one packaged style. Every function takes tables and an optional ``ax`` and
returns the Axes.

A run's charts: :func:`timeline` (devices and messages over time) and
:func:`approval_graph`. A sweep's charts, one series per group of its table (per grid point,
or per value of the ``by`` columns): :func:`risk_over_time`, :func:`fraction_lost`,
:func:`policy_comparison` and :func:`tradeoff`. The numbers they draw come from
:mod:`sim.stats` (``loss_risk`` and ``sweep_groups`` can be imported from here too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .model import BACKUP, EA, EA_USER, ESCROW, PHYSICAL
from .results import atomic_write
from .stats import group_mean, loss_risk, risk_curve, sweep_groups

STYLE = Path(__file__).with_name("dmesim.mplstyle")
STATUS_COLOURS = {"readable": "#2a9d8f", "recoverable": "#e9c46a", "lost": "#e63946"}


def use_style() -> None:
    plt.style.use(STYLE)


def _ax(ax: Axes | None, **fig: Any) -> Axes:
    if ax is not None:
        return ax
    use_style()
    _, new = plt.subplots(**fig)
    return new


def timeline(devices: pd.DataFrame, messages: pd.DataFrame, user: str | None = None,
             horizon: float | None = None, ax: Axes | None = None) -> Axes:
    """Devices as bars from added to lost/revoked, shaded by how far back their data
    access reaches; messages as marks coloured by status; losses marked."""
    devs = devices if user is None else devices[devices["user"] == user]
    msgs = messages if user is None else messages[messages["user"] == user]
    devs = devs[devs["user"] != EA_USER] if user is None else devs
    ax = _ax(ax, figsize=(10, max(2.5, 1.2 + 0.45 * len(devs))))  # room for the legend below
    end = horizon if horizon is not None else float(
        pd.concat([devs["added_at"], msgs["sent_at"] if len(msgs) else devs["added_at"]]).max() or 1.0)
    cmap = plt.get_cmap("viridis")
    labels = []
    for i, (_, d) in enumerate(devs.iterrows()):
        stop = min(x for x in (d["lost_at"], d["revoked_at"], end) if x == x and x is not None)
        reach = 1.0 - (float(d["data_access"]) / end if end else 0.0)
        ax.barh(i, stop - d["added_at"], left=d["added_at"], height=0.6, color=cmap(reach),
                edgecolor="black", linewidth=0.5)
        if d["data_access"] < d["added_at"]:  # how far back this device reads
            ax.plot([d["data_access"], d["added_at"]], [i, i], color=cmap(reach), linewidth=2,
                    linestyle=":")
        if d["lost_cause"]:
            ax.plot(stop, i, marker="x", color="black")
        labels.append(f"{d['user']}/{d['device']}" if user is None else d["device"])
    y0 = len(devs)
    for status, colour in STATUS_COLOURS.items():
        sel = msgs[msgs["status"] == status]
        ax.scatter(sel["sent_at"], [y0] * len(sel), s=14, color=colour, label=f"{status} ({len(sel)})",
                   marker="|" if status != "lost" else "v")
    lost = msgs[msgs["status"] == "lost"]
    for t in sorted(set(lost["lost_at"].dropna())):
        ax.axvline(t, color=STATUS_COLOURS["lost"], linestyle="--", linewidth=0.8)
    ax.set_yticks(list(range(y0 + 1)), labels + ["messages"])
    ax.set_xlabel("simulated days")
    ax.set_xlim(0, end)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.6 / max(len(devs), 1)),
              fontsize="small", ncols=3)
    ax.set_title("Devices (dotted and lighter: data access reaching further back) and messages")
    return ax


def approval_graph(devices: pd.DataFrame, user: str, ax: Axes | None = None) -> Axes:
    """The approval graph of ``user``: nodes coloured by kind, revoked/lost hollow."""
    devs = devices[devices["user"] == user]
    g = nx.Graph()
    for _, d in devs.iterrows():
        g.add_node(d["device"])
        for a in str(d["approved_by"] or "").split(","):
            if a:
                g.add_edge(a, d["device"])
    ax = _ax(ax, figsize=(6, 4.5))
    pos = nx.spring_layout(g, seed=1) if len(g) else {}
    kinds = dict(zip(devs["device"], devs["kind"], strict=True))
    palette = {PHYSICAL: "#457b9d", BACKUP: "#e9c46a", ESCROW: "#8d99ae", EA: "#6a4c93"}
    gone = set(devs.loc[devs["available"].astype(str) != "True", "device"])
    nx.draw_networkx_edges(g, pos, ax=ax)
    for n in sorted(g.nodes):
        nx.draw_networkx_nodes(g, pos, nodelist=[n], ax=ax, node_size=700,
                               node_color="white" if n in gone else palette.get(kinds.get(n, ""), "grey"),
                               edgecolors=palette.get(kinds.get(n, ""), "grey"), linewidths=2)
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
    ax.set_title(f"Approval graph of {user} (hollow: no longer available)")
    ax.set_axis_off()
    return ax


def save(ax: Axes, path: str | Path) -> None:
    """Save the figure of ``ax`` atomically and close it."""
    path = Path(path)
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format=path.suffix.lstrip(".")))
    plt.close(fig)


# ---------------------------------------------------------------- sweep charts
#
# Each takes the table of :func:`sim.sweep` (one row per replication) and draws one
# series per group: per grid point by default (labelled by the ``label`` column), or
# per value of the columns given as ``by``.


def _categorical_axis(ax: Axes, labels: list[str]) -> None:
    ax.set_xticks(range(len(labels)), labels, rotation=20 if max(map(len, labels), default=0) > 12 else 0,
                  ha="right" if max(map(len, labels), default=0) > 12 else "center")
    ax.set_xlim(-0.6, len(labels) - 0.4)


def risk_over_time(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
                   confidence: float = 0.95, horizon: float | None = None) -> Axes:
    """Probability of any permanent data loss by day t, one step line per group, with
    shaded Wilson confidence bands."""
    ax = _ax(ax, figsize=(8, 4.5))
    groups = sweep_groups(df, by)
    for label, g in groups:
        c = risk_curve(g, horizon, confidence)
        (line,) = ax.step(c["t"], c["p"], where="post", label=f"{label} (n={len(g)})")
        ax.fill_between(c["t"], c["low"], c["high"], step="post", alpha=0.18, color=line.get_color(),
                        linewidth=0)
    ax.set_xlabel("simulated days")
    ax.set_ylabel("P(any permanent loss by day t)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    if groups:
        ax.legend(loc="upper left", fontsize="small")
    ax.set_title(f"Risk of permanent data loss over time ({confidence:.0%} Wilson bands)")
    return ax


def fraction_lost(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
                  confidence: float = 0.95) -> Axes:
    """Fraction of messages permanently lost per replication (dots) and its mean with a
    t confidence interval (black), per group."""
    groups = sweep_groups(df, by)
    ax = _ax(ax, figsize=(max(5.0, 1.2 * len(groups) + 2), 4.5))
    jitter = np.random.default_rng(0)  # a local stream: the chart is the same every time
    means, lows, highs = [], [], []
    for i, (_, g) in enumerate(groups):
        x = g["fraction_lost"].to_numpy(dtype=float)
        ax.scatter(i + jitter.uniform(-0.18, 0.18, len(x)), x, s=9, alpha=0.35)
        mean, low, high = group_mean(g, "fraction_lost", confidence)
        means.append(mean)
        lows.append(low)
        highs.append(high)
    m = np.array(means)
    ax.errorbar(range(len(groups)), m, yerr=[m - np.array(lows), np.array(highs) - m], fmt="o",
                color="black", capsize=5, label=f"mean ({confidence:.0%} CI)", zorder=3)
    _categorical_axis(ax, [label for label, _ in groups])
    ax.set_ylabel("fraction of messages permanently lost")
    ax.set_ylim(bottom=-0.02)
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title("Messages lost per replication")
    return ax


def policy_comparison(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
                      confidence: float = 0.95) -> Axes:
    """P(any permanent loss within the horizon) per group as bars with Wilson CI error bars,
    each annotated with losses/replications."""
    risk = loss_risk(df, by, confidence)
    ax = _ax(ax, figsize=(max(5.0, 1.2 * len(risk) + 2), 4.5))
    x = list(range(len(risk)))
    ax.bar(x, risk["p"], yerr=[risk["p"] - risk["low"], risk["high"] - risk["p"]], capsize=5,
           color=STATUS_COLOURS["lost"], alpha=0.85, error_kw={"linewidth": 1})
    for i, r in risk.iterrows():
        ax.annotate(f"{r['losses']}/{r['n']}", (x[int(i)], r["high"]), textcoords="offset points",  # type: ignore[call-overload]
                    xytext=(0, 3), ha="center", fontsize="small")
    _categorical_axis(ax, list(risk["label"]))
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("P(any permanent loss within the horizon)")
    ax.set_title(f"Permanent data loss by policy ({confidence:.0%} Wilson intervals)")
    return ax


def tradeoff(df: pd.DataFrame, ax: Axes | None = None, by: str | list[str] | None = None,
             confidence: float = 0.95) -> Axes:
    """Loss against exposure per group: P(any permanent loss) with Wilson intervals across,
    the mean fraction of messages an adversary decrypts with t intervals up. Backup keys
    and escrow move points left and up; fingerprint checks and fast signed revocations down."""

    risk = loss_risk(df, by, confidence)
    ax = _ax(ax, figsize=(7, 5))
    for (label, g), (_, r) in zip(sweep_groups(df, by), risk.iterrows(), strict=True):
        mean, low, high = group_mean(g, "fraction_exposed", confidence)
        ax.errorbar([r["p"]], [mean], xerr=[[r["p"] - r["low"]], [r["high"] - r["p"]]],
                    yerr=[[mean - low], [high - mean]], fmt="o", capsize=4, label=label)
    ax.set_xlabel("P(any permanent loss within the horizon)")
    ax.set_ylabel("mean fraction of messages exposed to an adversary")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=-0.02)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(f"Loss against exposure ({confidence:.0%} intervals)")
    return ax


SWEEP_CHARTS = {"risk": risk_over_time, "fraction": fraction_lost, "policy": policy_comparison,
                "tradeoff": tradeoff}
