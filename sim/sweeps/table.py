"""The sweep table: one row per replication, the same whatever ran it.

Each row holds the ids ``run_id, point, rep, seed, label``, one column per varied path
(the grid point's value), then the replication's numeric summary figures in a fixed
order (README *Sweeps*). Batches come back in any order and any size; :func:`assemble`
makes one table of them, sorted by grid point then rep, with fixed dtypes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..scenario import flow_yaml

ID_COLUMNS = ("run_id", "point", "rep", "seed", "label")
# Summary keys that describe the configuration rather than the outcome.
CONFIG_KEYS = frozenset({"scenario", "seed", "rep", "start_date", "post_quantum", "argon2"})
# Outcome columns in this order first; any other numeric summary key follows, sorted.
SUMMARY_ORDER = ("horizon_days", "messages", "readable", "recoverable", "lost", "fraction_lost",
                 "any_loss", "first_loss_at", "generations_lost", "ea_generations_lost", "exposed",
                 "fraction_exposed")
# The message table's numbers, typed whatever a batch holds (no loss: lost_at all None).
TRACE_DTYPES = {"sent_at": "float64", "generation": "int64", "lost_at": "float64"}


# ---------------------------------------------------------------- grid points: labels and columns


def cell(value: Any) -> Any:
    """A table cell for a parameter value: scalars as they are, the rest as YAML flow text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return flow_yaml(value)


def point_label(overrides: Mapping[str, Any], vary: Mapping[str, list[Any]]) -> str:
    """A grid point's name in tables and legends: the values of the paths that take more
    than one value (every path's when none does)."""
    shown = [p for p in overrides if len(vary[p]) > 1] or list(overrides)
    if not shown:
        return "base"
    short = short_paths(shown)
    return ", ".join(f"{short[p]}={'none' if overrides[p] is None else cell(overrides[p])}" for p in shown)


def short_paths(paths: Iterable[str]) -> dict[str, str]:
    """The tail of each dotted path that names it in a legend: its last two names with any
    list indexes between (``users.0.devices.0.online`` → ``devices.0.online``), longer
    where two paths would otherwise look the same (``users.1.devices.0.online``)."""
    def tail(path: str, n: int) -> str:
        parts = path.split(".")
        names, k = 0, len(parts)
        while k > 0 and names < n:
            k -= 1
            names += not parts[k].isdigit()
        return ".".join(parts[k:])

    paths = list(dict.fromkeys(paths))
    n = {p: 2 for p in paths}
    while True:
        short = {p: tail(p, n[p]) for p in paths}
        clash = [p for p in paths if list(short.values()).count(short[p]) > 1 and short[p] != p]
        if not clash:
            return short
        for p in clash:
            n[p] += 1


def param_columns(points: list[dict[str, Any]]) -> dict[str, dict[int, Any]]:
    """Parameter column values per point; a column mixing types is written as text so that
    Parquet can hold it."""
    out: dict[str, dict[int, Any]] = {}
    for path in points[0] if points else {}:
        cells = {i: cell(p[path]) for i, p in enumerate(points)}
        kinds = {bool if isinstance(v, bool) else float if isinstance(v, int | float) else type(v)
                 for v in cells.values() if v is not None}
        if len(kinds) > 1:
            cells = {i: None if v is None else str(v) for i, v in cells.items()}
        out[path] = cells
    return out


# ---------------------------------------------------------------- rows


def summary_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The numeric outcome figures of a :class:`~sim.results.Result` summary, flat:
    ``ops`` (and any other mapping of numbers) as ``ops_<name>``, ``horizon`` as
    ``horizon_days``, missing values as NaN."""
    row: dict[str, Any] = {}
    for key, value in summary.items():
        if key in CONFIG_KEYS:
            continue
        if key == "horizon":
            key = "horizon_days"
        if isinstance(value, Mapping):
            for name, v in value.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    row[f"{key}_{name}"] = v
        elif value is None:
            row[key] = math.nan
        elif isinstance(value, bool | int | float):
            row[key] = value
    return row


def batch_frame(point: int, rows: list[dict[str, Any]], point_cols: dict[str, Any], label: str) -> pd.DataFrame:
    """The rows of one batch of grid point ``point``, with their id and parameter columns."""
    df = pd.DataFrame(rows)
    df.insert(0, "run_id", [f"p{point}-r{r}" for r in df["rep"]])
    df.insert(1, "point", point)
    df.insert(4, "label", label)
    for i, (path, value) in enumerate(point_cols.items()):
        df.insert(5 + i, path, [value] * len(df))
    return df


def assemble(frames: list[pd.DataFrame], params: list[str]) -> pd.DataFrame:
    """One table from batch frames: deduplicated, sorted by grid point then rep, fixed
    column order and dtypes (so every executor and every resume gives the same table)."""
    if not frames:
        return pd.DataFrame(columns=[*ID_COLUMNS, *params])
    df = pd.concat(frames, ignore_index=True)
    df = df.drop_duplicates(["point", "rep"]).sort_values(["point", "rep"], kind="stable")
    df = df.reset_index(drop=True)
    fixed = [*ID_COLUMNS, *params]
    rest = [c for c in df.columns if c not in fixed]
    ops = sorted(c for c in rest if c.startswith("ops_"))
    known = [c for c in SUMMARY_ORDER if c in rest]
    other = sorted(c for c in rest if c not in ops and c not in known)
    df = df[[*fixed, *known, *other, *ops]]
    for c in ops:  # an operation that never happened in a replication counted 0 times
        df[c] = df[c].fillna(0).astype("int64")
    for c in ("point", "rep", "seed"):
        df[c] = df[c].astype("int64")
    if "any_loss" in df:
        df["any_loss"] = df["any_loss"].astype(bool)
    return df
