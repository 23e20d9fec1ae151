"""A sweep's output folder: the table, the manifest, and a shard per finished batch.

``OUT/manifest.json`` records what the sweep is (scenario hash, seed, reps, grid, traces
setting, package versions) and whether it is complete; ``OUT/shards/`` holds one Parquet
file per finished batch (``OUT/traces/`` its message tables, with ``--traces``); the
table ``OUT/sweep.parquet`` and ``OUT/sweep.csv`` is written at the end. A resume checks
that the folder holds the same sweep, then runs only the replications no shard holds.
Every file is written atomically, so a killed sweep leaves whole shards only.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..results import COLUMNS, FolderError, atomic_write
from .errors import SweepError
from .executors import Task
from .table import ID_COLUMNS, assemble

TABLE, MANIFEST, SHARDS, TRACES = "sweep", "manifest.json", "shards", "traces"
SWEEP_FORMAT = 2  # of the folder; 2: per-purpose random streams (a resume never mixes formats)
VERSIONED = ("dmesim", "numpy", "pandas", "pyarrow", "simpy", "cryptography", "pydantic", "scipy",
             "matplotlib")


def versions() -> dict[str, str]:
    """The versions of Python and of the packages that make a sweep's numbers."""
    out = {"python": platform.python_version()}
    for name in (*VERSIONED, *(("dask", "distributed") if "distributed" in sys.modules else ())):
        with suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


# ---------------------------------------------------------------- the manifest


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    atomic_write(out / MANIFEST, lambda p: Path(p).write_text(json.dumps(manifest, indent=2, default=str)))


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of the sweep saved in ``out``; :class:`SweepError` if it cannot be read."""
    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SweepError(f"{path}: cannot read the sweep manifest ({exc})") from None
    if not _is_manifest(manifest):
        raise SweepError(f"{path}: not a dmesim sweep manifest")
    return manifest


def _is_manifest(m: Any) -> bool:
    """The fields a resume or a chart relies on, of their types (``type(…) is int``: JSON's
    ``true`` is no count), each grid point setting the paths the sweep varies."""
    return (isinstance(m, dict) and type(m.get("reps")) is int and m["reps"] >= 1
            and type(m.get("scenario_hash")) is str and type(m.get("traces")) is bool
            and (m.get("seed") is None or type(m["seed"]) is int)
            and isinstance(m.get("vary"), dict) and isinstance(m.get("points"), list)
            and all(isinstance(p, dict) and isinstance(p.get("overrides"), dict)
                    and p["overrides"].keys() == m["vary"].keys() for p in m["points"]))


# ---------------------------------------------------------------- the folder


def check_folder(out: Path, manifest: dict[str, Any], resume: bool, old: dict[str, Any] | None) -> None:
    """Refuse an output folder the sweep cannot use; writes nothing."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not resume:
        raise SweepError(f"{out} exists and is not empty; add --resume to continue the sweep "
                         "saved there, or choose another --out")
    if old is None:
        if resume and out.exists() and (any(p.name not in (SHARDS, TRACES) for p in out.iterdir())
                                        or any((out / SHARDS).glob("*.parquet"))):
            raise SweepError(f"{out} holds no sweep ({MANIFEST} is missing); choose another --out")
        return
    if old.get("dmesim_sweep") != SWEEP_FORMAT:
        raise SweepError(f"{out} holds a sweep of an earlier dmesim (format {old.get('dmesim_sweep')}, "
                         f"now {SWEEP_FORMAT}) whose replications draw other histories; choose another --out")
    if old.get("scenario_hash") != manifest["scenario_hash"]:
        raise SweepError(f"{out} holds a sweep with a different scenario; resume needs the same "
                         "scenario, seed, --vary grid and traces setting")
    if old.get("seed") != manifest["seed"]:
        raise SweepError(f"{out} holds a sweep with a different seed ({old.get('seed')}, not "
                         f"{manifest['seed']}); resume needs the same scenario, seed, --vary grid "
                         "and traces setting")
    if old.get("traces") != manifest["traces"]:
        raise SweepError(f"{out} holds a sweep with a different traces setting; resume needs the same "
                         "scenario, seed, --vary grid and traces setting")
    hashes = [[p.get("scenario_hash") for p in m["points"]] for m in (old, manifest)]
    if list(old["vary"]) != list(manifest["vary"]) or hashes[0] != hashes[1]:  # other columns or points
        raise SweepError(f"{out} holds a sweep over a different --vary grid; resume needs the same "
                         "scenario, seed, --vary grid and traces setting")
    if manifest["reps"] < old["reps"]:
        raise SweepError(f"{out} holds a sweep of {old['reps']} replications per grid point; resume "
                         f"with --reps {old['reps']} or more (or without --reps), not {manifest['reps']}")


def prepare(out: Path, manifest: dict[str, Any], old: dict[str, Any] | None,
            ) -> tuple[list[pd.DataFrame], set[tuple[int, int]]]:
    """Make the output folder ready (checked by :func:`check_folder`; the caller writes the
    manifest); on resume, the frames and (point, rep) pairs already done."""
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    if manifest["traces"]:
        (out / TRACES).mkdir(exist_ok=True)
    for stale in [*(out / SHARDS).glob(".*.tmp"), *(out / TRACES).glob(".*.tmp")]:
        stale.unlink(missing_ok=True)  # left by a killed write; the shard itself was never renamed
    if old is None:
        return [], set()
    saved = {p.name for p in (out / SHARDS).glob("*.parquet")}
    for orphan in (out / TRACES).glob("*.parquet"):
        if orphan.name not in saved:  # traces of a batch killed before its summary shard
            orphan.unlink()
    # before anything is removed: a damaged shard stops here
    frames = _read_shards(out / SHARDS, [*ID_COLUMNS, *manifest["vary"]])
    for suffix in ("parquet", "csv"):  # rebuilt at the end; a stale table must not outlive a rerun
        (out / f"{TABLE}.{suffix}").unlink(missing_ok=True)
    done = {(int(p), int(r)) for f in frames for p, r in zip(f["point"], f["rep"], strict=True)}
    return frames, done


# ---------------------------------------------------------------- shards and tables


def write_table(out: Path, name: str, df: pd.DataFrame) -> None:
    atomic_write(out / f"{name}.parquet", lambda p: df.to_parquet(p, index=False))
    atomic_write(out / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def write_shard(out: Path, task: Task, frame: pd.DataFrame, traces: pd.DataFrame | None) -> None:
    """Traces first: a summary shard on disk means its whole batch is saved."""
    if traces is not None:
        atomic_write(out / TRACES / f"{task.name}.parquet", lambda p: traces.to_parquet(p, index=False))
    atomic_write(out / SHARDS / f"{task.name}.parquet", lambda p: frame.to_parquet(p, index=False))


def _read_shards(folder: Path, columns: Iterable[str]) -> list[pd.DataFrame]:
    """Every shard in ``folder``; :class:`FolderError` naming the first that cannot be read
    or lacks one of ``columns`` (a damaged shard, or a file that is none)."""
    advice = "delete it, and resume to run its replications again"
    frames = []
    for path in sorted(folder.glob("*.parquet")):
        df = _read_parquet(path, f"shard ({advice})")
        if missing := [c for c in columns if c not in df.columns]:
            raise FolderError(f"{path}: not a shard of this sweep (no column {', '.join(missing)}; {advice})")
        frames.append(df)
    return frames


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ValueError as exc:  # pyarrow's ArrowInvalid: truncated or not Parquet
        raise FolderError(f"{path}: not a readable {what}: {exc}") from None


def read_sweep(out: str | Path) -> pd.DataFrame:
    """The table of the sweep written to ``out`` (assembled from its shards if unfinished)."""
    out = Path(out)
    if (out / f"{TABLE}.parquet").exists():
        return _read_parquet(out / f"{TABLE}.parquet", "sweep table")
    if not (out / MANIFEST).exists():
        raise FileNotFoundError(f"{out}: not a sweep folder (no {MANIFEST}); use dmesim sweep --out")
    manifest = read_manifest(out)
    params = list(manifest["vary"])
    return assemble(_read_shards(out / SHARDS, [*ID_COLUMNS, *params]), params)


def read_traces(out: str | Path) -> pd.DataFrame:
    """The message tables of every replication of a sweep run with ``traces=True``, with
    ``run_id``, ``point`` and ``rep`` columns."""
    out = Path(out)
    frames = _read_shards(out / TRACES, ["point", "rep", *COLUMNS["messages"]])
    if not frames:
        raise FileNotFoundError(f"{out}: no traces (run the sweep with --traces)")
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "run_id", "p" + df["point"].astype(str) + "-r" + df["rep"].astype(str))
    first = ["run_id", "point", "rep"]
    return (df[first + [c for c in df.columns if c not in first]]
            .sort_values(["point", "rep"], kind="stable").reset_index(drop=True))
