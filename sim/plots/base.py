"""What every dmesim chart shares: the packaged style, colours and sizes, saving (to a
file, or to SVG text to inline in HTML), and the helpers of the run charts (times and
dates, people, legends)."""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..model import BACKUP, EA, EA_USER, ESCROW, PHYSICAL
from ..results import atomic_write

STYLE = Path(__file__).parent.parent / "dmesim.mplstyle"
STATUS_COLOURS = {"readable": "#2a9d8f", "recoverable": "#e9c46a", "lost": "#e63946"}
EXPOSED_COLOUR = "#7b2cbf"
KIND_COLOURS = {PHYSICAL: "#457b9d", BACKUP: "#f4a261", ESCROW: "#8d99ae", EA: "#264653"}
KIND_NAMES = {PHYSICAL: "physical device", BACKUP: "backup key", ESCROW: "escrow device",
              EA: "escrow admins' device"}
MAX_PANELS = 12  # people drawn one panel each; more: the population chart
MAX_HEIGHT = 14.5  # inches: 1,885 px at savefig.dpi 130
WIDTH = 11.0  # inches of a run chart
ROW = 0.3  # inches per row of a panel (shrunk to keep the figure under MAX_HEIGHT)

Chart = Axes | Figure


def use_style() -> None:
    plt.style.use(STYLE)


def new_axes(ax: Axes | None, **fig: Any) -> Axes:
    if ax is not None:
        return ax
    use_style()
    _, new = plt.subplots(**fig)
    return new


def figure_of(chart: Chart) -> Figure:
    fig = chart if isinstance(chart, Figure) else chart.get_figure(root=True)
    assert isinstance(fig, Figure)
    return fig


def save(chart: Chart, path: str | Path, close: bool = True) -> None:
    """Save the figure of ``chart`` (an Axes or a Figure) atomically, and close it."""
    path = Path(path)
    fig = figure_of(chart)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format=path.suffix.lstrip("."), bbox_inches="tight"))
    if close:
        plt.close(fig)


def svg(chart: Chart) -> str:
    """The figure of ``chart`` as the text of an ``<svg>`` element to inline in HTML (text
    kept as text, escaped; images embedded as data URIs; no XML prolog), and close it."""
    fig = figure_of(chart)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dmesim"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


# ---------------------------------------------------------------- helpers of the run charts


def cell_text(v: Any) -> str:
    """A text cell: "" for empty, None or NaN."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def cell_time(v: Any) -> float | None:
    """A time cell: None for empty or NaN."""
    return None if v is None or pd.isna(v) else float(v)


def literal(s: str) -> str:
    """Text for matplotlib: a ``$`` (mathtext) shown as it is."""
    return s.replace("$", r"\$")


def names_in(cell: Any) -> list[str]:
    return [x for x in cell_text(cell).split(",") if x]


def origin(start_date: Any) -> float:
    """The x of day 0: 0, or the matplotlib date number of ``start_date``."""
    if start_date is None or (isinstance(start_date, float) and math.isnan(start_date)):
        return 0.0
    day = start_date if isinstance(start_date, dt.date) else dt.date.fromisoformat(str(start_date))
    return float(mdates.date2num(dt.datetime(day.year, day.month, day.day)))


def time_axis(ax: Axes, t0: float, end: float, label: bool = True) -> None:
    ax.set_xlim(t0, t0 + end)
    if t0:
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if label:
        ax.set_xlabel("date" if t0 else "simulated days")


def end_of(horizon: float | None, *times: Iterable[Any]) -> float:
    if horizon is not None:
        return float(horizon)
    seen = [float(t) for ts in times for t in ts if t is not None and not pd.isna(t)]
    return max(seen, default=0.0) or 1.0


def people_of(devices: pd.DataFrame, messages: pd.DataFrame, users: Sequence[str] | None) -> list[str]:
    """The people to draw: ``users`` (each must be in the run), else everyone but the
    escrow admins, sorted."""
    known = set(devices["user"]) | set(messages["user"])
    if users is None:
        return sorted(known - {EA_USER})
    missing = [u for u in users if u not in known]
    if missing:
        names = sorted(known)
        shown = ", ".join(names[:8]) + (f", … ({len(names)} in all)" if len(names) > 8 else "")
        raise KeyError(f"no user {missing[0]!r} in this run (users: {shown or 'none'})")
    return list(dict.fromkeys(users))


def device_label(device: str, label: Any, kind: str) -> str:
    """A device's name, with its label (the scenario's kind: laptop, tablet…) when it says more."""
    lab = cell_text(label)
    return device if lab in ("", device, device.split("#")[0], kind) else f"{device} ({lab})"


def adversary_windows(adversaries: Sequence[dict[str, Any]] | None,
                       exposed_to: Iterable[str]) -> list[dict[str, Any]]:
    """The windows of the adversaries that read some of these messages."""
    names = {n for cell in exposed_to for n in names_in(cell)}
    return [w for w in adversaries or [] if w.get("adversary") in names]


# the order of a run chart's legend: entries whose label starts so come first
LEGEND_ORDER = ("physical", "backup", "escrow", "escrow admins", "data access", "out of", "in a thief", "unreachable",
                "lost", "stolen", "wiped", "decommissioned", "backup key's", "added by", "revoked",
                "approv", "recovered", "hollow", "new key", "key generation", "message", "adversary",
                "data lost")


class Legend:
    """The legend entries of a chart, each once, in the order of LEGEND_ORDER."""

    def __init__(self) -> None:
        self.items: dict[str, Artist] = {}

    def add(self, label: str, handle: Artist) -> None:
        self.items.setdefault(label, handle)

    def handles(self) -> tuple[list[Artist], list[str]]:
        def rank(label: str) -> int:  # the place of the longest prefix it starts with
            found = [(len(p), i) for i, p in enumerate(LEGEND_ORDER) if label.startswith(p)]
            return max(found)[1] if found else len(LEGEND_ORDER)
        labels = sorted(self.items, key=rank)
        return [self.items[x] for x in labels], labels


def legend_marker(marker: str, colour: str, size: float = 7, fill: str | None = None, **kw: Any) -> Line2D:
    return Line2D([], [], linestyle="", marker=marker, markersize=size, color=colour,
                  markerfacecolor=fill or colour, markeredgecolor=colour, **kw)


# how each way of leaving the user's hands is marked: marker, colour, legend
GONE = {"lost": ("X", "black", "lost"),
        "stolen": ("X", STATUS_COLOURS["lost"], "stolen (a thief holds its keys)"),
        "wiped": ("o", "black", "wiped"),
        "decommissioned": ("s", "black", "decommissioned"),
        "paper_lost": ("x", "black", "backup key's paper lost"),
        "server_device": ("*", EXPOSED_COLOUR, "added by the server (an adversary's device)")}
THIEVES = {"stolen", "server_device"}


