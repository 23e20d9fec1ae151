"""The approval graph of a run (:func:`approval_graph`): arrows from approver to approved,
devices placed by the day they joined."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from .base import (
    KIND_COLOURS,
    KIND_NAMES,
    MAX_PANELS,
    STATUS_COLOURS,
    WIDTH,
    Chart,
    Legend,
    cell_text,
    cell_time,
    device_label,
    end_of,
    legend_marker,
    literal,
    names_in,
    origin,
    people_of,
    time_axis,
    use_style,
)
from .timeline import figure_legend, heights

# ---------------------------------------------------------------- the approval graph


def _approval_panel(ax: Axes, devs: pd.DataFrame, end: float, t0: float, legend: Legend) -> None:
    devs = devs.sort_values("added_at", kind="stable")
    names = list(devs["device"])
    pos = {n: (t0 + float(t), i) for i, (n, t) in enumerate(zip(names, devs["added_at"], strict=True))}
    for _, d in devs.iterrows():
        for a in names_in(d["approved_by"]):
            if a in pos and a != d["device"]:
                ax.add_patch(FancyArrowPatch(pos[a], pos[d["device"]], arrowstyle="-|>", mutation_scale=11,
                                             connectionstyle="arc3,rad=-0.25", shrinkA=7, shrinkB=7,
                                             color="#555555", linewidth=1.0, zorder=2,
                                             label=f"{a} → {d['device']}"))
                legend.add("approval: the approver (tail) boxed its key generations to the approved (head)",
                           Line2D([], [], color="#555555", marker=">", markevery=[-1], markersize=5))
    for _, d in devs.iterrows():
        x, y = pos[d["device"]]
        colour = KIND_COLOURS.get(d["kind"], "grey")
        available = d["available"] is True or cell_text(d["available"]) == "True"
        ax.scatter([x], [y], s=110, color=colour if available else "white", edgecolors=colour, linewidths=2,
                   zorder=3)
        legend.add(KIND_NAMES.get(d["kind"], d["kind"]), legend_marker("o", colour, 8))
        if not available:
            legend.add("hollow: no longer available (lost, stolen, revoked…)", legend_marker("o", "#555555", 8, "white"))
        if cell_time(d["revoked_at"]) is not None:
            ax.scatter([x], [y], s=40, marker="x", color=STATUS_COLOURS["lost"], zorder=4, linewidths=1.2)
            legend.add("revoked", legend_marker("x", STATUS_COLOURS["lost"], 6))
        ax.annotate(literal(device_label(d["device"], d["label"], d["kind"])), (x, y), xytext=(8, 0), textcoords="offset points", va="center", fontsize=7.5,
                    zorder=5)
    ax.set_yticks([])
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.grid(axis="y", visible=False)
    time_axis(ax, t0, end, label=False)
    ax.set_xlim(t0 - 0.02 * end, t0 + end * 1.08)  # room for the last device's name


def approval_graph(devices: pd.DataFrame, user: str | None = None, ax: Axes | None = None, *,
                   users: Sequence[str] | None = None, horizon: float | None = None,
                   start_date: Any = None, max_panels: int = MAX_PANELS) -> Chart:
    """Who approved whom: a device per row, placed at the day it joined, an arrow from
    each approver to each device it approved; coloured by kind, hollow once no longer
    available, crossed once revoked. One panel for ``user`` (returns its Axes; so does a
    given ``ax``, which draws the first person), else a Figure with a panel per person of
    ``users`` (or everyone but the escrow admins, by name): the first ``max_panels`` of them,
    the title noting how many are left out."""
    people = people_of(devices, devices.iloc[0:0], [user] if user is not None else users)
    people = [p for p in people if (devices["user"] == p).any()]
    if not people:
        raise KeyError("no device joined before the horizon: no approval graph to draw")
    shown = people[:max_panels]
    end = end_of(horizon, devices["added_at"], devices["lost_at"], devices["revoked_at"])
    t0 = origin(start_date)
    by_dev = dict(tuple(devices.groupby("user", sort=False)))
    legend = Legend()
    if ax is not None or len(shown) == 1:
        p = shown[0]
        if ax is None:
            use_style()
            height, _ = heights([len(by_dev[p])])
            _, ax = plt.subplots(figsize=(WIDTH * 0.8, max(height, 2.4)), layout="constrained")
        _approval_panel(ax, by_dev[p], end, t0, legend)
        ax.set_xlabel("joined (date)" if t0 else "joined (simulated day)")
        ax.set_title(literal(f"Approval graph of {p}"), loc="left", fontsize=9)
        handles, labels = legend.handles()
        ax.legend(handles, [literal(x) for x in labels], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  fontsize=7.5, borderaxespad=0)
        return ax
    use_style()
    ncols = 1 if len(shown) <= 3 else 2
    nrows = math.ceil(len(shown) / ncols)
    rows = [max(len(by_dev[p]) for p in shown[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
    height, ratios = heights(rows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH * (1 if ncols == 1 else 1.25), height),
                             layout="constrained", gridspec_kw={"height_ratios": ratios}, squeeze=False)
    for i, a in enumerate(axes.ravel()):
        if i >= len(shown):
            a.set_axis_off()
            continue
        _approval_panel(a, by_dev[shown[i]], end, t0, legend)
        a.set_title(literal(shown[i]), loc="left", fontsize=8.5)
    for a in axes[-1]:
        a.set_xlabel("joined (date)" if t0 else "joined (simulated day)")
    more = f": {len(shown)} of {len(people):,} people (choose with users=)" if len(shown) < len(people) else ""
    fig.suptitle(f"Approval graphs{more}", fontsize=10, x=0.01, ha="left")
    figure_legend(fig, legend)
    return fig


