"""The timeline of a run: a panel per person (:func:`timeline`), or for many people the
population chart (:func:`population`), people × time coloured by the status of their
messages."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .base import (
    EXPOSED_COLOUR,
    GONE,
    KIND_COLOURS,
    KIND_NAMES,
    MAX_HEIGHT,
    MAX_PANELS,
    ROW,
    STATUS_COLOURS,
    THIEVES,
    WIDTH,
    Chart,
    Legend,
    adversary_windows,
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


def _status_counts(msgs: pd.DataFrame) -> str:
    counts = msgs["status"].value_counts()
    exposed = int((msgs["exposed_to"].fillna("") != "").sum())
    return (f"{len(msgs)} messages: {counts.get('readable', 0)} readable, "
            f"{counts.get('recoverable', 0)} recoverable, {counts.get('lost', 0)} lost, {exposed} exposed")


def _person_rows(devs: pd.DataFrame, msgs: pd.DataFrame, evs: pd.DataFrame | None) -> int:
    exposed = bool((msgs["exposed_to"].fillna("") != "").any())
    return len(devs) + 1 + exposed + (evs is not None)


def _person_panel(ax: Axes, devs: pd.DataFrame, msgs: pd.DataFrame, evs: pd.DataFrame | None,
                  windows: list[dict[str, Any]], end: float, t0: float, legend: Legend) -> None:
    """One person's devices, key generations and messages over time on ``ax``."""
    devs = devs.sort_values("added_at", kind="stable")
    exposed = msgs[msgs["exposed_to"].fillna("") != ""]
    rows = ["messages"] + (["exposed to an adversary"] if len(exposed) else []) \
        + (["key generations"] if evs is not None else [])
    rows += [device_label(d, lab, k) for d, lab, k in zip(devs["device"], devs["label"], devs["kind"],
                                                             strict=True)]
    y_of = {name: i for i, name in enumerate(devs["device"], start=len(rows) - len(devs))}

    for w in windows:  # an adversary reading new data: shaded across the panel
        since = cell_time(w.get("since")) or 0.0
        until = cell_time(w.get("window_end"))
        span = ax.axvspan(t0 + since, t0 + (end if until is None else until), color=EXPOSED_COLOUR,
                          alpha=0.12, linewidth=0, zorder=0, label=f"_window {w.get('adversary')}")
        legend.add("adversary window: it reads new messages", span)

    for _, d in devs.iterrows():
        y = y_of[d["device"]]
        colour = KIND_COLOURS.get(d["kind"], "grey")
        added, lost, revoked = float(d["added_at"]), cell_time(d["lost_at"]), cell_time(d["revoked_at"])
        cause = cell_text(d["lost_cause"])
        unreachable = cell_time(d.get("unreachable_at")) if lost is None and revoked is None else None
        held_until = min(x for x in (lost, revoked, unreachable, end) if x is not None)
        if unreachable is not None and unreachable < end:  # an escrow device whose EA generation is lost
            ax.barh(y, end - unreachable, left=t0 + unreachable, height=0.55, color="none", edgecolor=colour,
                    hatch="xxxx", linewidth=0.0)
            legend.add("unreachable: escrow whose escrow admins' generation is lost",
                       Patch(facecolor="none", edgecolor=colour, hatch="xxxx", linewidth=0.0))
        ax.barh(y, max(held_until - added, 0.0), left=t0 + added, height=0.55, color=colour, linewidth=0)
        legend.add(f"{KIND_NAMES.get(d['kind'], d['kind'])} in the user's hands", Patch(color=colour))
        access = float(d["data_access"])
        if access < added:  # how far back this device reads
            ax.barh(y, added - access, left=t0 + access, height=0.16, color=colour, alpha=0.55, linewidth=0)
            legend.add("data access: reads messages from here", Line2D([], [], color="#8d99ae", linewidth=3))
        if lost is not None and cause and cause != "revoked":
            out_until = revoked if revoked is not None else end
            thief = cause in THIEVES
            if out_until > lost:
                edge = STATUS_COLOURS["lost"] if thief else "#777777"
                ax.barh(y, out_until - lost, left=t0 + lost, height=0.55, color="none", edgecolor=edge,
                        hatch="////", linewidth=0.0)
                legend.add("in a thief's hands, not revoked" if thief
                           else "out of the user's hands, not revoked",
                           Patch(facecolor="none", edgecolor=edge, hatch="////", linewidth=0.0))
            marker, mcolour, text = GONE.get(cause, ("X", "black", cause))
            ax.plot(t0 + lost, y, linestyle="", marker=marker, markersize=8, color=mcolour, zorder=4)
            legend.add(text, legend_marker(marker, mcolour, 8))
        if revoked is not None:
            signed = d["revoked_signed"] is True or cell_text(d["revoked_signed"]) == "True"
            ax.plot(t0 + revoked, y, linestyle="", marker="D", markersize=6, color="black",
                    markerfacecolor="black" if signed else "white", zorder=4)
            legend.add("revoked, signed (a new key generation)" if signed
                       else "revoked unsigned, from the web (no new generation)",
                       legend_marker("D", "black", 6, "black" if signed else "white"))

    lost_gens = set(msgs.loc[msgs["status"] == "lost", "generation"])
    if evs is not None:
        y = rows.index("key generations")
        gens = evs[evs["event"] == "generation"]
        at: dict[float, list[int]] = {}
        for g, t in zip(gens["generation"], gens["time"], strict=True):
            ax.plot(t0 + t, y, linestyle="", marker="d", markersize=7, zorder=4,
                    color=STATUS_COLOURS["lost"] if g in lost_gens else "#264653")
            at.setdefault(round(float(t) / max(end, 1e-9) * 80), []).append(int(g))  # close ones share a label
        if len(at) <= 30:
            for gs in at.values():
                t = float(gens.loc[gens["generation"] == gs[0], "time"].iloc[0])
                ax.annotate("g" + ",".join(map(str, gs)), (t0 + t, y), xytext=(0, 6),
                            textcoords="offset points", ha="center", fontsize=6.5)
        if len(gens):
            legend.add("new key generation (a device added, a signed revocation, a rotation)",
                       legend_marker("d", "#264653", 7))
        if lost_gens & set(gens["generation"]):
            legend.add("key generation lost for good", legend_marker("d", STATUS_COLOURS["lost"], 7))
        for _, e in evs[evs["event"].isin(["batch_approve", "backup_recover", "escrow_recover"])].iterrows():
            targets = names_in(e["detail"]) if e["event"] == "batch_approve" else [e["device"]]
            for name in targets:
                if name in y_of:
                    approval = e["event"] == "batch_approve"
                    ax.plot(t0 + e["time"], y_of[name], linestyle="", zorder=5,
                            marker=">" if approval else "P", markersize=6, color="#1b4332",
                            markerfacecolor="#95d5b2")
                    legend.add("approved: boxed the approver's key generations" if approval
                               else "recovered with a backup key or escrow",
                               legend_marker(">" if approval else "P", "#1b4332", 6, "#95d5b2"))

    for status, colour in STATUS_COLOURS.items():
        sel = msgs[msgs["status"] == status]
        if len(sel):
            ax.scatter(t0 + sel["sent_at"], [0] * len(sel), s=40 if status == "lost" else 60, color=colour,
                       marker="v" if status == "lost" else "|", linewidths=1.2, zorder=3)
            legend.add(f"message {status}",
                       legend_marker("v" if status == "lost" else "|", colour, 7, markeredgewidth=1.5))
    if len(exposed):
        ax.scatter(t0 + exposed["sent_at"], [1] * len(exposed), s=60, color=EXPOSED_COLOUR, marker="|",
                   linewidths=1.2, zorder=3)
        legend.add("message exposed to an adversary", legend_marker("|", EXPOSED_COLOUR, 7, markeredgewidth=1.5))
    for t in sorted(set(msgs.loc[msgs["status"] == "lost", "lost_at"].dropna())):
        line = ax.axvline(t0 + t, color=STATUS_COLOURS["lost"], linestyle="--", linewidth=0.9, zorder=1)
        legend.add("data lost for good: the last holder of a generation gone", line)

    ax.set_yticks(range(len(rows)), [literal(r) for r in rows],
                  fontsize=8 if len(rows) < 20 else 6.5)
    ax.set_ylim(len(rows) - 0.5, -0.6)
    ax.grid(axis="y", visible=False)
    time_axis(ax, t0, end, label=False)


def heights(rows: list[int]) -> tuple[float, list[float]]:
    """Figure height and each panel's share: ROW inches per row and a title's room each,
    scaled down to MAX_HEIGHT."""
    want = [ROW * r + 0.55 for r in rows]
    total = sum(want) + 0.8
    return min(total, MAX_HEIGHT), want


def figure_legend(fig: Figure, legend: Legend, title: str | None = None) -> None:
    handles, labels = legend.handles()
    fig.legend(handles, [literal(x) for x in labels], loc="outside right upper", fontsize=7.5,
               title=title, title_fontsize=8, alignment="left")


def timeline(devices: pd.DataFrame, messages: pd.DataFrame, user: str | None = None,
             horizon: float | None = None, ax: Axes | None = None, *,
             users: Sequence[str] | None = None, events: pd.DataFrame | None = None,
             adversaries: Sequence[dict[str, Any]] | None = None, start_date: Any = None,
             holders: pd.DataFrame | None = None, max_panels: int = MAX_PANELS) -> Chart:
    """Each person's story over time: a panel per person of ``user`` (one), ``users`` or
    everyone (the escrow admins only when named).

    A panel has a bar per device while it is in the user's hands (coloured by kind, a thin
    bar back to where its data access reaches), hatched while lost or stolen but not
    revoked, marked where it was lost, stolen, wiped, decommissioned or revoked (with
    ``holders``, cross-hatched once an escrow device is unreachable); with
    ``events``, a row of key generations (red: lost for good) and marks where a device was
    approved or recovered; a row of messages coloured by status, and one of messages an
    adversary reads, whose windows (from ``adversaries``, the summary's) are shaded; a
    dashed line where data was lost for good. Dates on the axis with ``start_date``.

    Returns the Axes of one panel (one person, or ``ax`` given: with several people, the
    population chart is drawn on ``ax``); else the Figure of the panels (one legend for
    all). More than ``max_panels`` people: :func:`population`, which returns its Axes."""
    if user is not None:
        users = [user]
    people = people_of(devices, messages, users)
    end = end_of(horizon, devices["added_at"], messages["sent_at"])
    if len(people) > max_panels or (ax is not None and len(people) > 1):
        return population(devices, messages, horizon=end, ax=ax, users=people, events=events,
                          start_date=start_date)
    t0 = origin(start_date)
    if holders is not None and len(holders):  # when each holder stopped being available
        gone = holders.groupby(["user", "holder"])["unavailable_at"].min().rename("unreachable_at")
        devices = devices.join(gone, on=["user", "device"])
    by_dev = dict(tuple(devices.groupby("user", sort=False)))
    by_msg = dict(tuple(messages.groupby("user", sort=False)))
    by_ev = dict(tuple(events.groupby("user", sort=False))) if events is not None else {}
    empty_d, empty_m = devices.iloc[0:0], messages.iloc[0:0]
    parts = [(p, by_dev.get(p, empty_d), by_msg.get(p, empty_m),
              None if events is None else by_ev.get(p, events.iloc[0:0])) for p in people]
    legend = Legend()
    if ax is not None or len(parts) <= 1:
        p, devs, msgs, evs = parts[0] if parts else ("nobody", empty_d, empty_m, None)
        if ax is None:
            use_style()
            height, _ = heights([_person_rows(devs, msgs, evs)])
            _, ax = plt.subplots(figsize=(WIDTH, max(height, 2.6)), layout="constrained")
        _person_panel(ax, devs, msgs, evs, adversary_windows(adversaries, msgs["exposed_to"]), end, t0,
                      legend)
        ax.set_xlabel("date" if t0 else "simulated days")
        ax.set_title(literal(f"{p}: {_status_counts(msgs)}") if parts else "Nobody had a device before the horizon",
                     loc="left", fontsize=9)
        handles, labels = legend.handles()
        ax.legend(handles, [literal(x) for x in labels], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  fontsize=7.5, borderaxespad=0)
        return ax
    use_style()
    rows = [_person_rows(devs, msgs, evs) for _, devs, msgs, evs in parts]
    height, ratios = heights(rows)
    fig, axes = plt.subplots(len(parts), 1, figsize=(WIDTH, height), sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": ratios}, squeeze=False)
    for a, (p, devs, msgs, evs) in zip(axes[:, 0], parts, strict=True):
        _person_panel(a, devs, msgs, evs, adversary_windows(adversaries, msgs["exposed_to"]), end, t0,
                      legend)
        a.set_title(literal(f"{p}: {_status_counts(msgs)}"), loc="left", fontsize=8.5)
    axes[-1, 0].set_xlabel("date" if t0 else "simulated days")
    figure_legend(fig, legend)
    fig.suptitle("Timeline per person: devices, key generations and messages", fontsize=10, x=0.01,
                 ha="left")
    return fig


# ---------------------------------------------------------------- the population chart

# worst last: a cell shows the worst status of its messages
CATEGORIES = ["no message yet", "readable", "recoverable", "exposed to an adversary", "lost"]
CATEGORY_COLOURS = ["#f1f1f1", STATUS_COLOURS["readable"], STATUS_COLOURS["recoverable"], EXPOSED_COLOUR,
                    STATUS_COLOURS["lost"]]
# event strip of the population chart: label, colour, events counted
POPULATION_EVENTS = [("devices lost, wiped or decommissioned, papers lost", "black",
                      {"lost", "wiped", "decommissioned", "paper_lost"}),
                     ("devices stolen or added by the server", STATUS_COLOURS["lost"],
                      {"stolen", "server_device"}),
                     ("revocations", "#8d99ae", {"revoke"}),
                     ("new key generations after the first (adds, signed revocations, rotations)", "#457b9d",
                      {"generation"})]


def first_trouble(messages: pd.DataFrame) -> dict[str, float]:
    """Per person with a lost or exposed message: the first day one was lost or exposed."""
    bad = messages[(messages["status"] == "lost") | (messages["exposed_to"].fillna("") != "")]
    if not len(bad):
        return {}
    when = bad["lost_at"].where(bad["status"] == "lost", bad["sent_at"])
    return {str(k): float(v) for k, v in when.groupby(bad["user"]).min().items()}


def _categories(people: list[str], messages: pd.DataFrame, edges: np.ndarray) -> np.ndarray:
    """people × bins: the worst status of the messages a person got in each bin (lost
    worst, then exposed, recoverable, readable: the index in CATEGORIES), carried forward
    over bins with none; 0 before the first."""
    grid = np.zeros((len(people), len(edges) - 1), dtype=int)
    row_of = {p: i for i, p in enumerate(people)}
    m = messages[messages["user"].isin(row_of)]
    if len(m):
        code = m["status"].map({"readable": 1, "recoverable": 2, "lost": 4}).fillna(1).to_numpy(int)
        code = np.where((m["exposed_to"].fillna("").to_numpy(str) != "") & (code < 4), 3, code)
        rows = m["user"].map(row_of).to_numpy(int)
        cols = np.clip(np.searchsorted(edges, m["sent_at"].to_numpy(float), side="right") - 1,
                       0, len(edges) - 2)
        np.maximum.at(grid, (rows, cols), code)
    last = np.maximum.accumulate(np.where(grid > 0, np.arange(grid.shape[1]), -1), axis=1)
    filled = np.take_along_axis(grid, np.maximum(last, 0), axis=1)
    return np.where(last >= 0, filled, 0)


def population(devices: pd.DataFrame, messages: pd.DataFrame, horizon: float | None = None,
               ax: Axes | None = None, *, users: Sequence[str] | None = None,
               events: pd.DataFrame | None = None, start_date: Any = None, bins: int | None = None) -> Axes:
    """Many people at once: a row per person, a column per stretch of time, each cell
    coloured by the worst status of the messages the person got then (lost, exposed to an
    adversary, recoverable, readable; carried forward over stretches without messages), people sorted by their first loss or exposure. Without ``ax``, a strip above
    counts losses, thefts, revocations and (with ``events``) new key generations per
    stretch. Returns the Axes of the people × time chart."""
    people = people_of(devices, messages, users)
    end = end_of(horizon, devices["added_at"], messages["sent_at"])
    t0 = origin(start_date)
    nbins = bins or int(min(365, max(24, math.ceil(end))))
    edges = np.linspace(0.0, end, nbins + 1)
    msgs = messages[messages["user"].isin(set(people))]
    first = first_trouble(msgs)
    people = sorted(people, key=lambda p: (first.get(p, math.inf), p))
    grid = _categories(people, msgs, edges)
    devs = devices[devices["user"].isin(set(people))]
    if ax is None:
        use_style()
        fig, (strip, ax) = plt.subplots(2, 1, figsize=(WIDTH, min(9.0, 3.6 + 0.2 * len(people))),
                                        sharex=True, layout="constrained",
                                        gridspec_kw={"height_ratios": [1, 4]})
        coarse = np.linspace(0.0, end, int(min(60, max(12, end // 7))) + 1)  # about a week each
        for label, colour, kinds in POPULATION_EVENTS:
            if kinds == {"generation"}:
                if events is None:
                    continue
                ev = events[events["user"].isin(set(people)) & (events["event"] == "generation")
                            & (events["generation"] > 1)]  # each person's first is their chain's root
                times = ev["time"].to_numpy(float)
            elif kinds == {"revoke"}:
                times = devs["revoked_at"].dropna().to_numpy(float)
            else:
                times = devs.loc[devs["lost_cause"].fillna("").isin(kinds), "lost_at"].dropna().to_numpy(float)
            counts, _ = np.histogram(times, bins=coarse)
            strip.stairs(counts, t0 + coarse, color=colour, linewidth=1.2, label=f"{label} ({len(times):,})")
        strip.set_ylabel(f"events per\n{coarse[1]:.2g} days", fontsize=8)
        strip.set_ylim(bottom=0)
        strip.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, borderaxespad=0)
        strip.set_title(f"{len(people):,} people: the status of their messages over time", loc="left",
                        fontsize=10)
    cmap = ListedColormap(CATEGORY_COLOURS)
    ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=cmap,
              norm=BoundaryNorm(np.arange(-0.5, len(CATEGORIES)), cmap.N),
              extent=(t0, t0 + end, len(people) - 0.5, -0.5))
    ax.grid(False)
    marks = []
    if len(people) <= 200:  # where each person's devices were lost, stolen, revoked
        row_of = {p: i for i, p in enumerate(people)}
        size = 30 if len(people) <= 40 else 10
        for cause, (marker, colour, text) in GONE.items():
            sel = devs[devs["lost_cause"].fillna("") == cause]
            if len(sel):
                filled: dict[str, Any] = {"edgecolors": "white"} if marker in "Xos*" else {}  # x: a line
                ax.scatter(t0 + sel["lost_at"], sel["user"].map(row_of), marker=marker, s=size, color=colour,
                           linewidths=0.6, zorder=3, **filled)
                marks.append((text, legend_marker(marker, colour, 6)))
        sel = devs[devs["revoked_at"].notna()]
        if len(sel):
            ax.scatter(t0 + sel["revoked_at"], sel["user"].map(row_of), marker="D", s=size * 0.6,
                       color="white", edgecolors="black", linewidths=0.6, zorder=3)
            marks.append(("revoked", legend_marker("D", "black", 5, "white")))
    if len(people) <= 40:
        ax.set_yticks(range(len(people)), [literal(p) for p in people], fontsize=7)
    else:
        ax.set_yticks([])
    ax.set_ylabel(f"{len(people):,} people, sorted by first loss or exposure")
    time_axis(ax, t0, end)
    counts = np.bincount(grid.ravel(), minlength=len(CATEGORIES))
    handles: list[Artist] = [Patch(facecolor=c, edgecolor="#999999", linewidth=0.5) for c in CATEGORY_COLOURS]
    ax.legend(handles + [h for _, h in marks], CATEGORIES + [t for t, _ in marks], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=7.5, borderaxespad=0, alignment="left",
              title="each cell: the worst status (at the end of the run)\nof the messages sent then: lost, exposed,\n"
                    "recoverable, readable; carried on until the next", title_fontsize=7.5)
    assert counts.sum() == grid.size
    return ax


