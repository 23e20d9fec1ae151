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
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel
from tqdm import tqdm

from ..results import run
from ..scenario import (
    MAX_SEED,
    GridError,
    Scenario,
    apply_overrides,
    duration_text,
    grid,
    grid_scenarios,
    parse_duration,
    read_yaml,
    scenario_hash,
    validate,
)
from .errors import SweepError
from .executors import Task, check_scheduler, default_batch_size, executor_for, outcomes
from .store import (
    MANIFEST,
    SWEEP_FORMAT,
    TABLE,
    check_folder,
    prepare,
    read_manifest,
    versions,
    write_manifest,
    write_shard,
    write_table,
)
from .table import (
    ID_COLUMNS,
    TRACE_DTYPES,
    assemble,
    batch_frame,
    cell,
    param_columns,
    point_label,
    summary_row,
)


def sweep(scenario: Scenario | Mapping[str, Any] | str | Path, reps: int | None = None,
          vary: Mapping[str, list[Any]] | None = None, seed: int | None = None, *,
          workers: int | None = None, scheduler: str | None = None,
          executor: cf.Executor | None = None, out: str | Path | None = None, resume: bool = False,
          traces: bool = False, batch_size: int | None = None, progress: bool = False,
          decrypt: str | None = None) -> pd.DataFrame:
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
            :func:`~.store.read_traces`).
        batch_size: replications per task (default: about 16 tasks per worker, at most 20 reps each).
        progress: show a tqdm bar on a terminal.
        decrypt: what each replication opens for real: ``"generations"`` (one probe per
            user, generation and app; the default, unless the scenario says otherwise) or
            ``"messages"`` (every message). The tables are the same; the operation counts
            are not. Recorded in the manifest with the scenario.

    Returns:
        The tidy table: ``run_id, point, rep, seed, label``, one column per varied path, then
        the numeric summary figures of each replication (see :func:`~.table.summary_row`).

    Nothing is written before the arguments, the grid, the output folder and the executor
    are known to be good.
    """
    if executor is None and scheduler is not None:
        check_scheduler(scheduler)
    data, file = scenario_data(scenario)
    data = {**data, "decrypt": decrypt or data.get("decrypt") or "generations"}
    base = validate(data, file)  # the file's own sweep.vary values included
    if traces and out is None:
        raise SweepError("traces are written to the output folder: give out=…")
    outdir = Path(out) if out is not None else None
    old = read_manifest(outdir) if resume and outdir is not None and (outdir / MANIFEST).exists() else None
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
        value = "" if exc.index is None else f"={cell(full_vary[exc.path][exc.index])}"
        where = f"--vary {exc.path}{value}" if exc.path in given else f"{file}: sweep.vary.{exc.path}"
        raise SweepError(f"{where}: {exc.problem}") from None
    points = grid(full_vary)
    labels = [point_label(p, full_vary) for p in points]
    root_seed = seed if seed is not None else base.seed  # the seed the sweep actually uses
    columns = param_columns(points)
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
        check_folder(outdir, manifest, resume, old)

    with executor_for(workers, scheduler, executor) as (pool, n_workers, how):
        if outdir is not None:
            frames, done = prepare(outdir, manifest, old)
        todo = {i: [r for r in range(reps) if (i, r) not in done] for i in range(len(points))}
        total = sum(len(v) for v in todo.values())
        size = batch_size or default_batch_size(total, n_workers)
        tasks = [Task(i, tuple(rs[k:k + size])) for i, rs in todo.items() for k in range(0, len(rs), size)]
        if outdir is not None:
            manifest |= {"executor": how, "batch_size": size}
            write_manifest(outdir, manifest)
        bar = _bar(progress, total, reps * len(points))
        try:
            for task, result in outcomes(pool, tasks, lambda t: (
                    run_batch, data, file, points[t.point], root_seed, list(t.reps), traces)):
                frame = batch_frame(task.point, result["rows"], {p: columns[p][task.point] for p in params},
                                    labels[task.point])
                if outdir is not None:
                    tr = result["traces"]
                    if tr is not None:
                        tr = tr.assign(point=task.point)
                    write_shard(outdir, task, frame, tr)
                frames.append(frame)
                bar.update(len(task.reps))
        finally:
            bar.close()

    df = assemble(frames, params)
    if outdir is not None:
        write_table(outdir, TABLE, df)
        manifest |= {"complete": True, "rows": len(df), "executed": total}
        write_manifest(outdir, manifest)
    return df


def run_batch(data: dict[str, Any], file: str, overrides: dict[str, Any], seed: int | None,
              reps: list[int], traces: bool = False) -> dict[str, Any]:
    """Run replications ``reps`` of one grid point; return plain rows (and message tables).

    This is what a worker executes: everything in and out is plain data."""
    scenario = validate(apply_overrides(data, overrides, file), file, sweep=False)
    rows, tables = [], []
    for rep in reps:
        result = run(scenario, seed, rep)
        rows.append({"rep": rep, "seed": int(result.summary["seed"]), **summary_row(result.summary)})
        if traces:
            tables.append(result.messages.assign(rep=rep))
    traces_df = pd.concat(tables, ignore_index=True).astype(TRACE_DTYPES) if tables else None
    return {"rows": rows, "traces": traces_df}


def _hash(s: Scenario) -> str:
    """What a resume compares: the scenario without its sweep section (whose reps may grow)."""
    return scenario_hash(s.model_copy(update={"sweep": None}))


def _bar(progress: bool, total: int, of: int) -> Any:
    # disable=None: tqdm turns itself off when stderr is not a terminal
    return tqdm(total=total, unit="rep", desc="sweep", disable=None if progress else True,
                postfix=None if total == of else f"{of - total} already done", dynamic_ncols=True)


# ---------------------------------------------------------------- scenario data


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


def _raw(value: Any, duration: bool = False) -> Any:
    """A validated value as a file would write it: the keys that were given, durations as text."""
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


def _is_duration(field: Any) -> bool:
    def has(meta: Iterable[Any]) -> bool:
        return any(getattr(m, "func", None) is parse_duration for m in meta)

    return has(field.metadata) or any(has(getattr(a, "__metadata__", ()))
                                      for a in typing.get_args(field.annotation))
