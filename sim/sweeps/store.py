"""A sweep's output folder: the table, the manifest, and a shard per finished batch.

``OUT/manifest.json`` records what the sweep is (scenario hash, seed, reps, grid, traces
setting, package versions) and whether it is complete; ``OUT/shards/`` holds one Parquet
file per finished batch (``OUT/traces/`` its message tables, with ``--traces``); the
table ``OUT/sweep.parquet`` and ``OUT/sweep.csv`` is written at the end. A resume checks
that the folder holds the same sweep, then runs only the replications no shard holds.
Every file is written atomically, so a killed sweep leaves whole shards only.

Checksums: each shard, trace and table file ``F`` has a sidecar ``F.sha256`` beside it,
in ``sha256sum`` format (``<64 lowercase hex digits>  F``, so ``sha256sum -c`` checks it
from its folder), written before ``F`` is renamed into place: a file on disk always has
its checksum. The manifest lists them with ``"checksums": "sha256"``. Reading a shard or
table parses it, checks its columns, then its sidecar; a folder of an earlier dmesim (no
``"checksums"`` in its manifest) is read without sidecars, and a resume of it leaves the
manifest without the key (its new files have sidecars, which are checked where present).
Every damage is a :class:`FolderError` or :class:`SweepError` of one line naming the file;
a resume reads every shard (and checks every trace) before it removes anything.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable, Iterable
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..results import COLUMNS, SHA256, FolderError, atomic_write, check_sha256, one_line
from .errors import SweepError
from .executors import Task
from .stopping import manifest_stop_problem
from .table import ID_COLUMNS, assemble

TABLE, MANIFEST, SHARDS, TRACES = "sweep", "manifest.json", "shards", "traces"
CHECKSUMS = "sha256"  # the manifest's "checksums": every data file has a F.sha256 sidecar
SIDECAR = ".sha256"
REDO = "delete it, and resume to run its replications again"  # what to do about a damaged shard
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
        raise SweepError(f"{path}: cannot read the sweep manifest ({one_line(exc)})") from None
    if (problem := _manifest_problem(manifest)) is not None:
        raise SweepError(f"{path}: not a dmesim sweep manifest ({problem})")
    return manifest


def _manifest_problem(m: Any) -> str | None:
    """What makes ``m`` no manifest of the shape a resume or a chart relies on, or None:
    its fields of their types (``type(…) is int``: JSON's ``true`` is no count), each grid
    point setting the paths the sweep varies."""
    if not isinstance(m, dict):
        return "a JSON object is expected"
    if type(m.get("reps")) is not int or m["reps"] < 1:
        return f"reps is {m.get('reps')!r}, not a positive count"
    if type(m.get("scenario_hash")) is not str:
        return "scenario_hash is not a string"
    if type(m.get("traces")) is not bool:
        return "traces is not true or false"
    if m.get("seed") is not None and type(m["seed"]) is not int:
        return f"seed is {m['seed']!r}, not an integer or null"
    if not isinstance(m.get("vary"), dict):
        return "vary is not an object"
    if not isinstance(m.get("points"), list):
        return "points is not a list"
    for i, p in enumerate(m["points"]):
        if not isinstance(p, dict) or not isinstance(p.get("overrides"), dict):
            return f"points[{i}] has no overrides object"
        if p["overrides"].keys() != m["vary"].keys():
            return f"points[{i}] does not set the paths of vary"
    if (problem := manifest_stop_problem(m)) is not None:
        return problem
    if "checksums" in m and m["checksums"] != CHECKSUMS:
        return f"checksums is {m['checksums']!r}, not {CHECKSUMS!r}"
    return None


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
    if "stop" not in old and "stop" not in manifest and manifest["reps"] < old["reps"]:  # else stopping.py
        raise SweepError(f"{out} holds a sweep of {old['reps']} replications per grid point; resume "
                         f"with --reps {old['reps']} or more (or without --reps), not {manifest['reps']}")


def prepare(out: Path, manifest: dict[str, Any], old: dict[str, Any] | None,
            ) -> tuple[list[pd.DataFrame], set[tuple[int, int]]]:
    """Make the output folder ready (checked by :func:`check_folder`; the caller writes the
    manifest, to which this adds ``"checksums"`` unless the sweep resumed is of a dmesim
    without them); on resume, the frames and (point, rep) pairs already done.

    A resume reads every shard and checks every trace kept before it removes anything:
    a damaged one stops it with the folder as it was."""
    if old is None or old.get("checksums") == CHECKSUMS:
        manifest["checksums"] = CHECKSUMS
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    if manifest["traces"]:
        (out / TRACES).mkdir(exist_ok=True)
    frames: list[pd.DataFrame] = []
    if old is not None:
        required = old.get("checksums") == CHECKSUMS
        frames = _read_shards(out / SHARDS, [*ID_COLUMNS, *manifest["vary"]], required)
        saved = {p.name for p in (out / SHARDS).glob("*.parquet")}
        for trace in sorted((out / TRACES).glob("*.parquet")):
            if trace.name in saved:  # the others are removed below
                _check(trace, required, _trace_advice(out, trace))
    # only now, every shard read: what a killed write left, and what a rerun rebuilds
    for folder in (out / SHARDS, out / TRACES):
        for stale in folder.glob(".*.tmp"):
            stale.unlink()  # a killed write's temporary file; its file was never renamed
    if old is None:
        return frames, set()
    saved = {p.name for p in (out / SHARDS).glob("*.parquet")}
    for orphan in (out / TRACES).glob("*.parquet"):
        if orphan.name not in saved:  # traces of a batch killed before its summary shard
            orphan.unlink()
    for folder in (out / SHARDS, out / TRACES):
        for sidecar in folder.glob(f"*.parquet{SIDECAR}"):
            if not sidecar.with_suffix("").exists():  # a write killed before its rename
                sidecar.unlink()
    for suffix in ("parquet", "csv"):  # rebuilt at the end; a stale table must not outlive a rerun
        for path in (out / f"{TABLE}.{suffix}", out / f"{TABLE}.{suffix}{SIDECAR}"):
            path.unlink(missing_ok=True)
    done = {(int(p), int(r)) for f in frames for p, r in zip(f["point"], f["rep"], strict=True)}
    return frames, done


# ---------------------------------------------------------------- shards and tables


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def _write_checked(path: Path, write: Callable[[str], Any]) -> None:
    """Write ``path`` atomically, its sidecar ``path.sha256`` first: whenever the file is
    on disk, its checksum is too (a killed write leaves at most a sidecar, which a resume
    removes)."""
    atomic_write(path, write, record=lambda digest: atomic_write(
        _sidecar(path), lambda p: Path(p).write_text(f"{digest}  {path.name}\n", encoding="ascii")))


def _check(path: Path, required: bool, advice: str) -> None:
    """:class:`FolderError` unless ``path`` matches the checksum in its sidecar; a file
    without one passes only where the folder predates checksums (not ``required``)."""
    sidecar = _sidecar(path)
    try:
        text = sidecar.read_bytes().decode("ascii")
    except FileNotFoundError:
        if required:
            raise FolderError(f"{path}: no checksum ({sidecar.name} is missing; {advice})") from None
        return
    except UnicodeDecodeError:
        text = ""
    digest, sep, name = text.removesuffix("\n").partition("  ")
    if not (sep and SHA256.fullmatch(digest) and name == path.name):
        raise FolderError(f"{sidecar}: not a checksum file (expected one line '<SHA-256>  {path.name}'; "
                          "its file cannot be checked)")
    try:
        check_sha256(path, digest, sidecar.name)
    except FolderError as exc:
        raise FolderError(f"{exc} ({advice})") from None


def _trace_advice(out: Path, trace: Path) -> str:
    return f"delete it and {out / SHARDS / trace.name}, and resume to run its replications again"


def write_table(out: Path, name: str, df: pd.DataFrame) -> None:
    _write_checked(out / f"{name}.parquet", lambda p: df.to_parquet(p, index=False))
    _write_checked(out / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def write_shard(out: Path, task: Task, frame: pd.DataFrame, traces: pd.DataFrame | None) -> None:
    """Traces first: a summary shard on disk means its whole batch is saved."""
    if traces is not None:
        _write_checked(out / TRACES / f"{task.name}.parquet", lambda p: traces.to_parquet(p, index=False))
    _write_checked(out / SHARDS / f"{task.name}.parquet", lambda p: frame.to_parquet(p, index=False))


def _read_shards(folder: Path, columns: Iterable[str], required: bool, what: str = "shard",
                 advice: Callable[[Path], str] = lambda path: REDO) -> list[pd.DataFrame]:
    """Every shard in ``folder``, read, then checked against its sidecar (``required``:
    every shard must have one); :class:`FolderError` naming the first that cannot be
    read, lacks one of ``columns`` (a damaged shard, or a file that is none) or does not
    match its checksum."""
    frames = []
    for path in sorted(folder.glob("*.parquet")):
        df = _read_parquet(path, f"{what} ({advice(path)})")
        if missing := [c for c in columns if c not in df.columns]:
            raise FolderError(f"{path}: not a shard of this sweep (no column {', '.join(missing)}; "
                              f"{advice(path)})")
        _check(path, required, advice(path))
        frames.append(df)
    return frames


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # damaged bytes make pyarrow or pandas raise almost anything
        raise FolderError(f"{path}: not a readable {what}: {one_line(exc)}") from None


def _declared(out: Path) -> bool:
    """Does the sweep in ``out`` give every data file a checksum (a manifest that says so)?"""
    return (out / MANIFEST).exists() and read_manifest(out).get("checksums") == CHECKSUMS


def read_sweep(out: str | Path) -> pd.DataFrame:
    """The table of the sweep written to ``out`` (assembled from its shards if unfinished),
    each file checked against its checksum."""
    out = Path(out)
    table = out / f"{TABLE}.parquet"
    if table.exists():
        required = _declared(out)
        df = _read_parquet(table, "sweep table")
        if missing := [c for c in ID_COLUMNS if c not in df.columns]:
            raise FolderError(f"{table}: not a sweep table (no column {', '.join(missing)})")
        for path in (table, out / f"{TABLE}.csv"):
            if path.exists():
                _check(path, required, "resume the sweep to write it again from its shards")
        return df
    if not (out / MANIFEST).exists():
        raise FileNotFoundError(f"{out}: not a sweep folder (no {MANIFEST}); use dmesim sweep --out")
    manifest = read_manifest(out)
    params = list(manifest["vary"])
    return assemble(_read_shards(out / SHARDS, [*ID_COLUMNS, *params],
                                 manifest.get("checksums") == CHECKSUMS), params)


def read_traces(out: str | Path) -> pd.DataFrame:
    """The message tables of every replication of a sweep run with ``traces=True``, with
    ``run_id``, ``point`` and ``rep`` columns; each file checked against its checksum."""
    out = Path(out)
    frames = _read_shards(out / TRACES, ["point", "rep", *COLUMNS["messages"]], _declared(out),
                          "trace", lambda path: _trace_advice(out, path))
    if not frames:
        raise FileNotFoundError(f"{out}: no traces (run the sweep with --traces)")
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "run_id", "p" + df["point"].astype(str) + "-r" + df["rep"].astype(str))
    first = ["run_id", "point", "rep"]
    return (df[first + [c for c in df.columns if c not in first]]
            .sort_values(["point", "rep"], kind="stable").reset_index(drop=True))
