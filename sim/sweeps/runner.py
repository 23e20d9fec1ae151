"""Monte Carlo sweeps: replications × a grid of scenario overrides, on any executor.

A sweep ships plain data to its workers — the raw scenario mapping, one grid
point's overrides, the root seed and a batch of replication numbers — never
SimPy environments or key objects. Replication ``r`` of every grid point uses
the streams of ``SeedSequence(seed, spawn_key=(r, …))`` (common random numbers
across grid points), so the table does not depend on the executor, the batch
size or the order in which batches finish. With an output folder, every
finished batch is written as a shard, and ``resume=True`` runs only the
replications that no shard holds.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import math
import os
import platform
import signal
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from ..results.analysis import COLUMNS, FolderError, atomic_write
from ..scenario import (
    MAX_SEED,
    GridError,
    Scenario,
    ScenarioError,
    apply_overrides,
    duration_text,
    flow_yaml,
    grid,
    grid_scenarios,
    parse_duration,
    parse_yaml,
    read_yaml,
    scenario_hash,
    validate,
)

# Summary keys that describe the configuration rather than the outcome.
CONFIG_KEYS = frozenset({"scenario", "seed", "rep", "start_date", "post_quantum", "argon2"})
ID_COLUMNS = ("run_id", "point", "rep", "seed", "label")
# Outcome columns in this order first; any other numeric summary key follows, sorted.
SUMMARY_ORDER = ("horizon_days", "messages", "readable", "recoverable", "lost", "fraction_lost",
                 "any_loss", "first_loss_at", "generations_lost", "ea_generations_lost", "exposed",
                 "fraction_exposed")
# The message table's numbers, typed whatever a batch holds (no loss: lost_at all None).
TRACE_DTYPES = {"sent_at": "float64", "generation": "int64", "lost_at": "float64"}
TABLE, MANIFEST, SHARDS, TRACES = "sweep", "manifest.json", "shards", "traces"
SWEEP_FORMAT = 2  # of the folder; 2: per-purpose random streams (a resume never mixes formats)
VERSIONED = ("dmesim", "numpy", "pandas", "pyarrow", "simpy", "cryptography", "pydantic", "scipy",
             "matplotlib")


class SweepError(ValueError):
    """A sweep that cannot run (or be charted) as asked; ``str()`` is one readable line."""


# ---------------------------------------------------------------- the grid


def parse_vary(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["behaviour.backup_keys.count=0,1,2"]`` → ``{"behaviour.backup_keys.count": [0, 1, 2]}``.

    Each value is read as YAML, as scenario files are (``0`` is a number, ``30d`` a string,
    ``{exp: 2d}`` a mapping; a repeated key is refused); commas inside brackets or braces do
    not split, and ``PATH=[a, b]`` gives the list as one YAML sequence."""
    vary: dict[str, list[Any]] = {}
    for item in items:
        path, sep, text = item.partition("=")
        path = path.strip()
        shown = repr(text if len(text) <= 60 else text[:60] + "…")
        if not sep or not path or not text.strip():
            raise SweepError(f"--vary {item!r}: expected PATH=v1,v2,… (e.g. behaviour.backup_keys.count=0,1,2)")
        whole = text.strip().startswith("[")
        parts = [text] if whole else _split_top(text)
        if any(not part.strip() for part in parts):
            raise SweepError(f"--vary {path}: an empty value in {shown} (a stray comma?); write null for none")
        try:
            values = [parse_yaml(part, "--vary") for part in parts]
        except ScenarioError as exc:
            raise SweepError(f"--vary {path}: cannot read {shown} as YAML values ({exc.problem}"
                             + (f" at {exc.path})" if exc.path else ")")) from None
        if whole:
            values = values[0]
        if not isinstance(values, list) or not values:
            raise SweepError(f"--vary {path}: expected a non-empty list of values, found {shown}")
        if path in vary:
            raise SweepError(f"--vary {path}: the path is given twice; give all its values in one "
                             "--vary")
        vary[path] = values
    return vary


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def _show(value: Any) -> Any:
    """A table cell for a parameter value: scalars as they are, the rest as YAML flow text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return flow_yaml(value)


def _label(overrides: Mapping[str, Any], vary: Mapping[str, list[Any]]) -> str:
    """A grid point's name in tables and legends: the values of the paths that take more
    than one value (every path's when none does)."""
    shown = [p for p in overrides if len(vary[p]) > 1] or list(overrides)
    if not shown:
        return "base"
    short = short_paths(shown)
    return ", ".join(f"{short[p]}={'none' if overrides[p] is None else _show(overrides[p])}" for p in shown)


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


def _columns(points: list[dict[str, Any]]) -> dict[str, dict[int, Any]]:
    """Parameter column values per point; a column mixing types is written as text so that
    Parquet can hold it."""
    out: dict[str, dict[int, Any]] = {}
    for path in points[0] if points else {}:
        cells = {i: _show(p[path]) for i, p in enumerate(points)}
        kinds = {bool if isinstance(v, bool) else float if isinstance(v, int | float) else type(v)
                 for v in cells.values() if v is not None}
        if len(kinds) > 1:
            cells = {i: None if v is None else str(v) for i, v in cells.items()}
        out[path] = cells
    return out


# ---------------------------------------------------------------- scenario data


def _is_duration(field: Any) -> bool:
    def has(meta: Iterable[Any]) -> bool:
        return any(getattr(m, "func", None) is parse_duration for m in meta)

    return has(field.metadata) or any(has(getattr(a, "__metadata__", ()))
                                      for a in typing.get_args(field.annotation))


def _raw(value: Any, duration: bool = False) -> Any:
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return {name: _raw(getattr(value, name), _is_duration(fields[name]))
                for name in fields if name in value.model_fields_set}
    if isinstance(value, list | tuple):
        return [_raw(v, duration) for v in value]
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    if duration and isinstance(value, int | float) and not isinstance(value, bool):
        return duration_text(value)
    return value


def scenario_data(scenario: Scenario | Mapping[str, Any] | str | Path) -> tuple[dict[str, Any], str]:
    """The raw (YAML-level) data of a scenario and a name for error messages.

    A :class:`~sim.scenario.Scenario` model is turned back into the mapping that
    validates to it (only the keys that were given, durations in days)."""
    if isinstance(scenario, Scenario):
        data = _raw(scenario)
        if scenario_hash(validate(data)) != scenario_hash(scenario):  # pragma: no cover - safety net
            raise SweepError("this Scenario object cannot be turned back into scenario data; "
                             "pass the YAML path or the raw mapping")
        return data, f"<scenario {scenario.name}>"
    if isinstance(scenario, Mapping):
        return dict(scenario), "<scenario>"
    data = read_yaml(scenario)
    if not isinstance(data, dict):
        validate(data, str(scenario))  # raises the one-line error
    return data, str(scenario)


# ---------------------------------------------------------------- one batch (runs on workers)


def summary_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The numeric outcome figures of a :class:`~sim.analysis.Result` summary, flat:
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


def run_batch(data: dict[str, Any], file: str, overrides: dict[str, Any], seed: int | None,
              reps: list[int], traces: bool = False) -> dict[str, Any]:
    """Run replications ``reps`` of one grid point; return plain rows (and message tables).

    This is what a worker executes: everything in and out is plain data."""
    from ..results import run as replicate

    scenario = validate(apply_overrides(data, overrides, file), file, sweep=False)
    rows, tables = [], []
    for rep in reps:
        result = replicate(scenario, seed, rep)
        rows.append({"rep": rep, "seed": int(result.summary["seed"]), **summary_row(result.summary)})
        if traces:
            tables.append(result.messages.assign(rep=rep))
    traces_df = pd.concat(tables, ignore_index=True).astype(TRACE_DTYPES) if tables else None
    return {"rows": rows, "traces": traces_df}


# ---------------------------------------------------------------- executors


def default_batch_size(total: int, workers: int) -> int:
    """Replications per task: about 16 tasks per worker, at most 20 reps each. A worker
    that finishes early takes the next task, so with many small tasks the workers end
    together (with four per worker, one core sat idle for 15–20% of a short sweep)."""
    return max(1, min(20, math.ceil(total / (16 * workers))))


@dataclass(frozen=True)
class _Task:
    point: int
    reps: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"p{self.point:05d}-r{self.reps[0]:07d}-{self.reps[-1]:07d}"


# What a sweep's cluster does not need on 2 cores, where every periodic callback takes time
# from the workers: the statistical profiler (it samples every thread's stack each 10 ms;
# sweeps ran 2–12% faster without it), work stealing (the tasks are alike, and queued at
# the scheduler), memory checks ten times a second and system checks twice (once a second
# is enough to enforce the memory limits).
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "1s",
}


def local_cluster() -> Any:
    """The dask LocalCluster of ``--scheduler local``: 2 single-threaded worker processes,
    without the dashboard, configured by :data:`QUIET_CLUSTER`."""
    import dask
    from distributed import LocalCluster

    # Its processes start with Ctrl-C ignored (Python then leaves it so): a Ctrl-C at the
    # terminal reaches only the sweep, which stops them, not every worker with a traceback.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        with dask.config.set(QUIET_CLUSTER):  # passed on to the workers
            return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _quiet_cancelled_tasks() -> None:
    """Run on each worker of ``--scheduler local``: a Ctrl-C cancels the tasks running there,
    which the worker would report, each with a warning after the sweep's own line."""
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


@contextmanager
def _executor(workers: int | None, scheduler: str | None,
              executor: cf.Executor | None) -> Iterator[tuple[cf.Executor | None, int, str]]:
    """(executor or None for in-process, number of workers, description)."""
    if executor is not None:
        yield executor, max(1, getattr(executor, "_max_workers", 1) or 1), type(executor).__name__
        return
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise SweepError("--scheduler needs dask.distributed: pip install 'dmesim[dask]'") from None
        cluster = None
        try:
            if scheduler == "local":
                cluster = local_cluster()
                client = Client(cluster)
                client.run(_quiet_cancelled_tasks)
            else:  # an address (checked by _check_scheduler)
                client = Client(scheduler, timeout="20s")
        except OSError as exc:
            if cluster is not None:
                cluster.close()
            raise SweepError(f"cannot reach the dask scheduler {scheduler}: {exc}") from None
        try:
            n = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
            yield client.get_executor(pure=False), n, f"dask {scheduler}"
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if workers is not None and workers >= 1:
        # the platform's default start method: fork on Linux (fast, works from any script or
        # notebook), spawn elsewhere (scripts need the usual `if __name__ == "__main__":` guard)
        pool = cf.ProcessPoolExecutor(workers, initializer=_exit_with_parent)
        try:
            yield pool, workers, f"processes ({workers})"
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    yield None, 1, "serial"


def _exit_with_parent() -> None:
    """A pool worker's initializer: the worker ends once the sweep's process is gone (killed,
    it cannot stop its pool, and the workers would wait for work forever)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _outcomes(executor: cf.Executor | None, tasks: list[_Task],
              call: Callable[[_Task], tuple[Any, ...]]) -> Iterator[tuple[_Task, dict[str, Any]]]:
    """Finished batches as they complete (in task order when serial)."""
    if executor is None:
        for task in tasks:
            fn, *args = call(task)
            yield task, fn(*args)
        return
    futures = {executor.submit(*call(task)): task for task in tasks}
    try:
        for fut in cf.as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        for fut in futures:
            fut.cancel()


# ---------------------------------------------------------------- tables


def _frame(task: _Task, rows: list[dict[str, Any]], point_cols: dict[str, Any], label: str) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df.insert(0, "run_id", [f"p{task.point}-r{r}" for r in df["rep"]])
    df.insert(1, "point", task.point)
    df.insert(4, "label", label)
    for i, (path, value) in enumerate(point_cols.items()):
        df.insert(5 + i, path, [value] * len(df))
    return df


def _assemble(frames: list[pd.DataFrame], params: list[str]) -> pd.DataFrame:
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


def _write_table(out: Path, name: str, df: pd.DataFrame, csv: bool = True) -> None:
    atomic_write(out / f"{name}.parquet", lambda p: df.to_parquet(p, index=False))
    if csv:
        atomic_write(out / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def _write_shard(out: Path, task: _Task, frame: pd.DataFrame, traces: pd.DataFrame | None) -> None:
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
    manifest = _read_manifest(out)
    params = list(manifest["vary"])
    return _assemble(_read_shards(out / SHARDS, [*ID_COLUMNS, *params]), params)


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


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in (*VERSIONED, *(("dask", "distributed") if "distributed" in sys.modules else ())):
        with suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


# ---------------------------------------------------------------- the sweep


def sweep(scenario: Scenario | Mapping[str, Any] | str | Path, reps: int | None = None,
          vary: Mapping[str, list[Any]] | None = None, seed: int | None = None, *,
          workers: int | None = None, scheduler: str | None = None,
          executor: cf.Executor | None = None, out: str | Path | None = None, resume: bool = False,
          traces: bool = False, batch_size: int | None = None, progress: bool = False,
          ) -> pd.DataFrame:
    """Run ``reps`` replications at every point of the ``vary`` grid; one row per replication.

    Args:
        scenario: a YAML path, the raw scenario mapping, or a ``Scenario``.
        reps: replications per grid point (default: the scenario's ``sweep.reps``, else 100;
            on resume, the larger of ``sweep.reps`` and the sweep's own count, else its own
            count); a resume may add reps, never drop them.
        vary: dotted path → values (merged over the scenario's ``sweep.vary``); a bad value
            raises :class:`SweepError` naming ``--vary``.
        seed: root seed (default: the scenario's seed).
        workers: run on a process pool of this many workers.
        scheduler: ``"local"`` (a 2-worker dask LocalCluster) or ``"tcp://HOST:PORT"``.
        executor: any ``concurrent.futures.Executor`` (overrides workers and scheduler).
        out: folder for ``sweep.parquet``, ``sweep.csv``, ``manifest.json`` and shards.
        resume: continue the sweep already in ``out``, running only missing replications.
        traces: also keep every replication's message table (needs ``out``; see
            :func:`read_traces`).
        batch_size: replications per task (default: about 16 tasks per worker, at most 20 reps each).
        progress: show a tqdm bar on a terminal.

    Returns:
        The tidy table: ``run_id, point, rep, seed, label``, one column per varied path, then
        the numeric summary figures of each replication (see :func:`summary_row`).

    Nothing is written before the arguments, the grid, the output folder and the executor
    are known to be good.
    """
    if executor is None and scheduler is not None:
        _check_scheduler(scheduler)
    data, file = scenario_data(scenario)
    base = validate(data, file)  # the file's own sweep.vary values included
    if traces and out is None:
        raise SweepError("traces are written to the output folder: give out=…")
    outdir = Path(out) if out is not None else None
    old = _read_manifest(outdir) if resume and outdir is not None and (outdir / MANIFEST).exists() else None
    spec = base.sweep
    if reps is None:  # the file's sweep.reps, else 100; a resume keeps its own count if larger
        file_reps = spec.reps if spec is not None and "reps" in spec.model_fields_set else None
        reps = max(old["reps"], file_reps or 0) if old is not None else file_reps or 100
    if reps < 1:
        raise SweepError(f"reps must be at least 1, found {reps}")
    if seed is not None and not 0 <= seed <= MAX_SEED:  # the table stores seeds as int64
        raise SweepError(f"seed must be 0 to {MAX_SEED}, found {seed}")
    given = dict(vary or {})
    for path, values in given.items():
        if path in ID_COLUMNS:
            raise SweepError(f"--vary {path}: replications already draw independent seeds; "
                             "give the root seed with --seed instead")
        if not isinstance(values, list) or not values:
            raise SweepError(f"--vary {path}: expected a non-empty list of values, found {values!r}")
    full_vary = {**(spec.vary if spec is not None else {}), **given}  # the file's: checked by validate
    try:
        point_scenarios = grid_scenarios(data, full_vary, file)
    except GridError as exc:
        if exc.path is None:
            raise SweepError(f"--vary: {exc.problem}" if given else f"{file}: sweep.vary: {exc.problem}") from None
        value = "" if exc.index is None else f"={_show(full_vary[exc.path][exc.index])}"
        where = f"--vary {exc.path}{value}" if exc.path in given else f"{file}: sweep.vary.{exc.path}"
        raise SweepError(f"{where}: {exc.problem}") from None
    points = grid(full_vary)
    labels = [_label(p, full_vary) for p in points]
    root_seed = seed if seed is not None else base.seed  # the seed the sweep actually uses
    columns = _columns(points)
    params = list(full_vary)

    done: set[tuple[int, int]] = set()
    frames: list[pd.DataFrame] = []
    manifest = {
        "dmesim_sweep": SWEEP_FORMAT, "scenario": base.name, "file": file,
        "scenario_hash": _hash(base),
        "seed": root_seed, "reps": reps, "vary": full_vary, "traces": traces, "versions": versions(),
        "complete": False,
        "points": [{"point": i, "label": labels[i], "overrides": p, "seed": root_seed,
                    "scenario_hash": _hash(s)}
                   for i, (p, s) in enumerate(zip(points, point_scenarios, strict=True))],
    }
    if outdir is not None:
        _check_folder(outdir, manifest, resume, old)

    with _executor(workers, scheduler, executor) as (pool, n_workers, how):
        if outdir is not None:
            frames, done = _prepare(outdir, manifest, old)
        todo = {i: [r for r in range(reps) if (i, r) not in done] for i in range(len(points))}
        total = sum(len(v) for v in todo.values())
        size = batch_size or default_batch_size(total, n_workers)
        tasks = [_Task(i, tuple(rs[k:k + size])) for i, rs in todo.items() for k in range(0, len(rs), size)]
        if outdir is not None:
            manifest |= {"executor": how, "batch_size": size}
            _write_manifest(outdir, manifest)
        bar = _bar(progress, total, reps * len(points))
        try:
            for task, result in _outcomes(pool, tasks, lambda t: (
                    run_batch, data, file, points[t.point], root_seed, list(t.reps), traces)):
                frame = _frame(task, result["rows"], {p: columns[p][task.point] for p in params},
                               labels[task.point])
                if outdir is not None:
                    tr = result["traces"]
                    if tr is not None:
                        tr = tr.assign(point=task.point)
                    _write_shard(outdir, task, frame, tr)
                frames.append(frame)
                bar.update(len(task.reps))
        finally:
            bar.close()

    df = _assemble(frames, params)
    if outdir is not None:
        _write_table(outdir, TABLE, df)
        manifest |= {"complete": True, "rows": len(df), "executed": total}
        _write_manifest(outdir, manifest)
    return df


def _hash(s: Scenario) -> str:
    """What a resume compares: the scenario without its sweep section (whose reps may grow)."""
    return scenario_hash(s.model_copy(update={"sweep": None}))


def _check_scheduler(scheduler: str) -> None:
    if scheduler != "local" and not scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise SweepError(f"--scheduler {scheduler!r}: expected 'local' or tcp://HOST:PORT")


def _bar(progress: bool, total: int, of: int) -> Any:
    from tqdm import tqdm

    # disable=None: tqdm turns itself off when stderr is not a terminal
    return tqdm(total=total, unit="rep", desc="sweep", disable=None if progress else True,
                postfix=None if total == of else f"{of - total} already done", dynamic_ncols=True)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    atomic_write(out / MANIFEST, lambda p: Path(p).write_text(json.dumps(manifest, indent=2, default=str)))


def _read_manifest(out: Path) -> dict[str, Any]:
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


def _check_folder(out: Path, manifest: dict[str, Any], resume: bool, old: dict[str, Any] | None) -> None:
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


def _prepare(out: Path, manifest: dict[str, Any], old: dict[str, Any] | None,
             ) -> tuple[list[pd.DataFrame], set[tuple[int, int]]]:
    """Make the output folder ready (checked by :func:`_check_folder`; the caller writes the
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


__all__ = ["SweepError", "grid", "parse_vary", "read_sweep", "read_traces", "run_batch", "scenario_data",
           "summary_row", "sweep"]
