"""Charts. Every function takes tables and an optional ``ax`` and returns the Axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # file output; notebooks set their own backend
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

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
    devs = devs[devs["user"] != "escrow-admins"] if user is None else devs
    ax = _ax(ax, figsize=(10, 1.2 + 0.45 * max(len(devs), 1)))
    end = horizon if horizon is not None else float(
        pd.concat([devs["added_at"], msgs["sent_at"] if len(msgs) else devs["added_at"]]).max() or 1.0)
    cmap = plt.get_cmap("viridis")
    labels = []
    for i, (_, d) in enumerate(devs.iterrows()):
        stop = min(x for x in (d["lost_at"], d["revoked_at"], end) if x == x and x is not None)
        reach = 1.0 - (float(d["data_access"]) / end if end else 0.0)
        ax.barh(i, stop - d["added_at"], left=d["added_at"], height=0.6, color=cmap(reach),
                edgecolor="black", linewidth=0.5)
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
    ax.legend(loc="upper left", fontsize="small", ncols=3)
    ax.set_title("Devices (shade: data access reaches further back = lighter) and messages")
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
    palette = {"physical": "#457b9d", "backup": "#e9c46a", "escrow": "#8d99ae", "ea": "#6a4c93"}
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
    from .analysis import atomic_write

    path = Path(path)
    fig = ax.get_figure()
    assert fig is not None
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format=path.suffix.lstrip(".")))
    plt.close(fig)  # type: ignore[arg-type]
