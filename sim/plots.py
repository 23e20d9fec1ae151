"""Charts. Every function takes tables and an optional ``ax`` and returns the Axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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
    from .results.analysis import atomic_write

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


def _group_label(by: list[str], key: Any) -> str:
    from .sweeps.runner import short_paths

    keys = key if isinstance(key, tuple) else (key,)
    short = short_paths(map(str, by))
    return ", ".join(f"{short[str(c)]}={v}" for c, v in zip(by, keys, strict=True))


def sweep_groups(df: pd.DataFrame, by: str | list[str] | None = None) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per grid point — or per value of the ``by`` columns, in order of first
    appearance (grid order for a sweep table)."""
    if by is None:
        if "point" not in df:
            return [("all", df)]
        out = []
        for point, g in df.groupby("point", sort=True):  # point numbers are the grid order
            out.append((str(g["label"].iloc[0]) if "label" in g else f"point {point}", g))
        return out
    cols = [by] if isinstance(by, str) else list(by)
    missing = [c for c in cols if c not in df]
    if missing:
        raise KeyError(f"no column {missing[0]!r} in the sweep table (varied: "
                       f"{', '.join(c for c in df.columns if '.' in c) or 'nothing'})")
    return [(_group_label(cols, key), g) for key, g in df.groupby(cols if len(cols) > 1 else cols[0],
                                                                    sort=False, dropna=False)]


def wilson(k: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (the same as scipy's
    ``binomtest(...).proportion_ci(method="wilson")``; ``n`` may be an effective size)."""
    from scipy.stats import norm

    if n <= 0:
        return float("nan"), float("nan")
    p, z = k / n, float(norm.ppf(0.5 + confidence / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return max(0.0, centre - half), min(1.0, centre + half)


def effective_n(hit: np.ndarray, rep: np.ndarray) -> float:
    """The number of independent runs a share of ``hit`` (0/1 per run) is worth.

    Runs of one replication at different grid points share a random history (common random
    numbers), so when a group pools several grid points its runs are not independent: the
    share's variance is estimated across replications (the clusters) and ``n`` shrinks by
    the design effect (never above ``n``; with a share of 0 or 1, the number of replications)."""
    n = len(hit)
    reps, idx = np.unique(rep, return_inverse=True)
    if len(reps) == n:
        return float(n)
    p = hit.mean()
    if p in (0.0, 1.0) or len(reps) < 2:
        return float(len(reps))
    resid = np.bincount(idx, weights=hit - p, minlength=len(reps))  # per replication: Σ (y - p)
    var = len(reps) / (len(reps) - 1) * float((resid ** 2).sum()) / n ** 2
    return float(n) if var <= 0 else min(float(n), p * (1 - p) / var)


def _one_horizon(g: pd.DataFrame) -> float:
    from .sweeps.runner import SweepError

    horizons = sorted(g["horizon_days"].unique()) if "horizon_days" in g else []
    if len(horizons) > 1:
        raise SweepError(f"a group pools runs of different horizons ({', '.join(f'{h:g}' for h in horizons)} "
                         "days): group by horizon_days too")
    return float(horizons[0]) if len(horizons) else float("nan")


def loss_risk(df: pd.DataFrame, by: str | list[str] | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
    """P(any permanent loss) per group: ``label, n, losses, p, low, high`` (Wilson interval,
    on the effective number of runs when the group pools grid points: :func:`effective_n`)."""
    rows = []
    for label, g in sweep_groups(df, by):
        _one_horizon(g)
        hit = g["any_loss"].astype(bool).to_numpy(dtype=float)
        n, k = len(g), int(hit.sum())
        m = effective_n(hit, g["rep"].to_numpy()) if "rep" in g and n else n
        low, high = wilson(k / n * m if n else 0, m, confidence)
        rows.append({"label": label, "n": n, "losses": k, "p": k / n if n else float("nan"),
                     "low": low, "high": high})
    return pd.DataFrame(rows, columns=["label", "n", "losses", "p", "low", "high"])


def risk_curve(rows: pd.DataFrame, horizon: float | None = None,
               confidence: float = 0.95) -> pd.DataFrame:
    """Empirical CDF of ``first_loss_at`` (censored at the horizon): at each step time
    ``t``, the replications with a loss by ``t`` and the Wilson interval of that share
    (on the effective number of runs, as in :func:`loss_risk`)."""
    n = len(rows)
    own = _one_horizon(rows) if n else float("nan")
    end = float(horizon if horizon is not None else own)
    first = rows["first_loss_at"].to_numpy(dtype=float)
    times = np.sort(first[~np.isnan(first)])
    times = times[times <= end]
    t = np.unique(np.concatenate([[0.0], times, [end]]))
    k = np.searchsorted(times, t, side="right")
    reps = rows["rep"].to_numpy() if "rep" in rows else np.arange(n)
    ci = []
    for x, when in zip(k, t, strict=True):
        m = effective_n((first <= when).astype(float), reps) if n else 0.0
        ci.append(wilson(x / n * m if n else 0.0, m, confidence))
    return pd.DataFrame({"t": t, "losses": k, "n": n, "p": k / n if n else np.nan,
                         "low": [c[0] for c in ci], "high": [c[1] for c in ci]})


def _mean_interval(x: np.ndarray, confidence: float, rep: np.ndarray | None = None) -> tuple[float, float, float]:
    """(mean, low, high): the t interval of the mean of a share per run, clipped to [0, 1];
    none (NaN) from fewer than two runs (replications), zero width when every run gives the
    same value. When a group pools grid points, its runs of one replication share a random
    history: the variance is then estimated across replications (``rep``, the clusters, as
    in :func:`effective_n`), with one degree of freedom fewer than replications."""
    from scipy import stats

    n = len(x)
    mean = float(x.mean()) if n else float("nan")
    reps, idx = np.unique(rep if rep is not None else np.arange(n), return_inverse=True)
    if len(reps) < 2:
        return mean, float("nan"), float("nan")
    resid = np.bincount(idx, weights=x - mean, minlength=len(reps))  # per replication: Σ (x - mean)
    se = (len(reps) / (len(reps) - 1) * float((resid ** 2).sum())) ** 0.5 / n
    half = float(stats.t.ppf((1 + confidence) / 2, len(reps) - 1)) * se
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def _reps(g: pd.DataFrame) -> np.ndarray | None:
    return g["rep"].to_numpy() if "rep" in g else None


def median_first_loss(rows: pd.DataFrame) -> float | None:
    """The median day of the first permanent loss over all replications, censored at the
    horizon: the first day by which half of them lost something (None: not within the
    horizon). Not the median over the replications that lost something."""
    n = len(rows)
    first = np.sort(rows["first_loss_at"].to_numpy(dtype=float))  # no loss (NaN) sorts last
    t = first[(n + 1) // 2 - 1] if n else np.nan  # the first t with at least n/2 losses by t
    return None if np.isnan(t) or t > _one_horizon(rows) else float(t)


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
        mean, low, high = _mean_interval(x, confidence, _reps(g))
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
        mean, low, high = _mean_interval(g["fraction_exposed"].to_numpy(dtype=float), confidence, _reps(g))
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
