"""Statistics of sweep tables: the risk of data loss and its confidence intervals.

A sweep table (:func:`sim.sweep`) has one row per replication. Its rows are grouped per
grid point, or per value of chosen columns (``by``); per group, :func:`loss_risk` gives
P(any permanent loss) with a Wilson interval, :func:`risk_curve` the share of
replications with a loss by each day, :func:`median_first_loss` the median day of the
first loss, and :func:`group_mean` the mean of a per-run share with a t interval.

A group that pools several grid points holds runs that share random histories
(replication *r* is the same history at every point): intervals then use the effective
number of runs (:func:`effective_n`) or estimate the variance across replications.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .sweeps import SweepError, short_paths


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


def _group_label(by: list[str], key: Any) -> str:
    keys = key if isinstance(key, tuple) else (key,)
    short = short_paths(map(str, by))
    return ", ".join(f"{short[str(c)]}={v}" for c, v in zip(by, keys, strict=True))


def wilson(k: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (the same as scipy's
    ``binomtest(...).proportion_ci(method="wilson")``; ``n`` may be an effective size)."""
    if n <= 0:
        return float("nan"), float("nan")
    p, z = k / n, float(stats.norm.ppf(0.5 + confidence / 2))
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
    """The horizon of every run of ``g`` (NaN without a horizon column); :class:`SweepError`
    if its runs have different horizons (a share of losses by then would mix them)."""
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


def median_first_loss(rows: pd.DataFrame) -> float | None:
    """The median day of the first permanent loss over all replications, censored at the
    horizon: the first day by which half of them lost something (None: not within the
    horizon). Not the median over the replications that lost something."""
    n = len(rows)
    first = np.sort(rows["first_loss_at"].to_numpy(dtype=float))  # no loss (NaN) sorts last
    t = first[(n + 1) // 2 - 1] if n else np.nan  # the first t with at least n/2 losses by t
    return None if np.isnan(t) or t > _one_horizon(rows) else float(t)


def mean_interval(x: np.ndarray, confidence: float, rep: np.ndarray | None = None) -> tuple[float, float, float]:
    """(mean, low, high): the t interval of the mean of a share per run, clipped to [0, 1];
    none (NaN) from fewer than two runs (replications), zero width when every run gives the
    same value. When a group pools grid points, its runs of one replication share a random
    history: the variance is then estimated across replications (``rep``, the clusters, as
    in :func:`effective_n`), with one degree of freedom fewer than replications."""
    n = len(x)
    mean = float(x.mean()) if n else float("nan")
    reps, idx = np.unique(rep if rep is not None else np.arange(n), return_inverse=True)
    if len(reps) < 2:
        return mean, float("nan"), float("nan")
    resid = np.bincount(idx, weights=x - mean, minlength=len(reps))  # per replication: Σ (x - mean)
    se = (len(reps) / (len(reps) - 1) * float((resid ** 2).sum())) ** 0.5 / n
    half = float(stats.t.ppf((1 + confidence) / 2, len(reps) - 1)) * se
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def group_mean(g: pd.DataFrame, column: str, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the share ``column`` over the runs of group ``g``
    (:func:`mean_interval`, clustered by replication when ``g`` has a ``rep`` column)."""
    return mean_interval(g[column].to_numpy(dtype=float), confidence,
                         g["rep"].to_numpy() if "rep" in g else None)
