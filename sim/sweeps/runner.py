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
import math
import typing
from collections.abc import Callable, Iterable, Mapping
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
from .stopping import MAX_REPS, ROUND, Stop, check_ci, half_width, stop_problem
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
          decrypt: str | None = None, ci: float | None = None, max_reps: int | None = None,
          ) -> pd.DataFrame:
    """Run ``reps`` replications at every point of the ``vary`` grid; one row per replication.

    Args:
        scenario: a YAML path, the raw scenario mapping, or a ``Scenario``.
        reps: replications per grid point (default: the scenario's ``sweep.reps``, else 100;
            on resume, the larger of ``sweep.reps`` and the sweep's own count, else its own
            count); a resume may add reps, never drop them. With ``ci``: per round (default:
            the scenario's ``sweep.reps``, else 200; on resume, the sweep's own).
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
        batch_size: replications per task (default: about 16 tasks per worker, at most 20
            reps each; with ``ci``, of a whole first round).
        progress: show a tqdm bar on a terminal (with ``ci``, the largest current half-width
            of the points still running).
        decrypt: what each replication opens for real: ``"generations"`` (one probe per
            user, generation and app; the default, unless the scenario says otherwise) or
            ``"messages"`` (every message). The tables are the same; the operation counts
            are not. Recorded in the manifest with the scenario.
        ci: stop when the answer is known: run replications in rounds of ``reps`` per grid
            point until the 95% Wilson half-width of each point's P(any loss) is at most
            ``ci`` (0 < ci < 0.5), each point on its own. After round ``j`` (replications
            ``j·reps`` to ``(j+1)·reps − 1``), a point stops when the half-width of its
            losses among the replications of its rounds so far is at most ``ci``, or when
            it holds ``max_reps``; the others run the next round. Only whole rounds decide,
            so the table is the same on every executor and after a resume. The manifest
            records ``stop`` (``ci``, ``max_reps``, ``confidence``) with ``reps`` the round
            size, and per grid point the replications held, its losses, half-width and
            whether it reached ``ci``. A resume continues with the saved rule (``ci``
            unless given; a smaller ``ci`` or a larger ``max_reps`` may be given, as the
            saved replications are then a part of the new rule's).
        max_reps: with ``ci``, the most replications of one grid point (default 10 000,
            enough for ±0.01 at any P); a point capped there has not reached ``ci``.

    Returns:
        The tidy table: ``run_id, point, rep, seed, label``, one column per varied path, then
        the numeric summary figures of each replication (see :func:`~.table.summary_row`).
        With ``ci``, each grid point's rows are the replications its rounds ran.

    Nothing is written before the arguments, the grid, the output folder and the executor
    are known to be good.
    """
    if executor is None and scheduler is not None:
        check_scheduler(scheduler)
    if ci is not None:
        ci = check_ci(ci)
    if max_reps is not None and max_reps < 1:
        raise SweepError(f"max_reps must be at least 1, found {max_reps}")
    data, file = scenario_data(scenario)
    data = {**data, "decrypt": decrypt or data.get("decrypt") or "generations"}
    base = validate(data, file)  # the file's own sweep.vary values included
    if traces and out is None:
        raise SweepError("traces are written to the output folder: give out=…")
    outdir = Path(out) if out is not None else None
    old = read_manifest(outdir) if resume and outdir is not None and (outdir / MANIFEST).exists() else None
    saved_stop = old.get("stop") if old is not None else None
    if ci is None and saved_stop is not None:  # a resume continues with the saved rule
        ci = saved_stop["ci"]
    if max_reps is not None and ci is None:
        raise SweepError("--max-reps caps a sweep that stops at a target: give --ci too")
    spec = base.sweep
    file_reps = spec.reps if spec is not None and "reps" in spec.model_fields_set else None
    if reps is None:
        if ci is not None:  # the round size: a resume keeps its own
            reps = old["reps"] if old is not None and saved_stop is not None else file_reps or ROUND
        else:  # the file's sweep.reps, else 100; a resume keeps its own count if larger
            reps = max(old["reps"], file_reps or 0) if old is not None else file_reps or 100
    if reps < 1:
        raise SweepError(f"reps must be at least 1, found {reps}")
    stop = None
    if ci is not None:
        cap = max_reps if max_reps is not None else (saved_stop or {}).get("max_reps", MAX_REPS)
        stop = Stop(ci, reps, cap)
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
    if stop is not None:
        manifest["stop"] = stop.record()
    if outdir is not None:
        check_folder(outdir, manifest, resume, old)
        if old is not None and (problem := stop_problem(old, stop)) is not None:
            raise SweepError(f"{outdir}: {problem}")

    with executor_for(workers, scheduler, executor) as (pool, n_workers, how):
        if outdir is not None:
            frames, done = prepare(outdir, manifest, old)
        losses = {(int(p), int(r)): bool(x) for f in frames
                  for p, r, x in zip(f["point"], f["rep"], f["any_loss"], strict=True)}
        n_points = len(points)
        first = {i: range(reps) if stop is None else stop.next_reps(0) for i in range(n_points)}
        missing = sum(1 for i, rs in first.items() for r in rs if (i, r) not in done)
        size = batch_size or default_batch_size(missing if stop is None else n_points * reps, n_workers)
        if outdir is not None:
            manifest |= {"executor": how, "batch_size": size}
            write_manifest(outdir, manifest)

        def run_round(want: dict[int, range], bar: Any, tally: dict[int, list[int]] | None) -> int:
            """Run the replications of ``want`` that no shard holds; return how many ran."""
            todo = {i: [r for r in rs if (i, r) not in done] for i, rs in want.items()}
            tasks = [Task(i, tuple(rs[k:k + size])) for i, rs in todo.items() for k in range(0, len(rs), size)]
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
                for row in result["rows"]:
                    done.add((task.point, row["rep"]))
                    losses[(task.point, row["rep"])] = bool(row["any_loss"])
                    if tally is not None:  # what the bar shows: every finished replication
                        tally[task.point][0] += bool(row["any_loss"])
                        tally[task.point][1] += 1
                bar.update(len(task.reps))
                if tally is not None:
                    bar.set_postfix_str(_progress(tally, stop), refresh=False)
            return sum(len(v) for v in todo.values())

        if stop is None:
            bar = _bar(progress, missing, reps * n_points)
            try:
                executed = run_round(first, bar, None)
            finally:
                bar.close()
            held = dict.fromkeys(range(n_points), reps)
        else:
            executed, held = _rounds(stop, n_points, run_round, losses, done, progress, outdir, manifest)

    df = assemble(frames, params)
    if stop is not None:  # the rule's replications only (a resume never holds others)
        df = df[df["rep"] < df["point"].map(held)].reset_index(drop=True)
    if outdir is not None:
        write_table(outdir, TABLE, df)
        manifest |= {"complete": True, "rows": len(df), "executed": executed}
        write_manifest(outdir, manifest)
    return df


def _rounds(stop: Stop, n_points: int, run_round: Callable[..., int], losses: dict[tuple[int, int], bool],
            done: set[tuple[int, int]], progress: bool, outdir: Path | None,
            manifest: dict[str, Any]) -> tuple[int, dict[int, int]]:
    """Run rounds until every grid point stops (:class:`~.stopping.Stop`); return the
    replications executed and the number each point holds. After each round the manifest
    records each point's state."""
    held = dict.fromkeys(range(n_points), 0)
    lost = dict.fromkeys(range(n_points), 0)
    running = list(range(n_points))
    executed = rounds = 0
    bar = _bar(progress, 0, 0, unknown=True)
    try:
        while running:
            want = {i: stop.next_reps(held[i]) for i in running}
            bar.total = bar.n + sum(1 for i, rs in want.items() for r in rs if (i, r) not in done)
            tally = {i: [lost[i], held[i]] for i in running}
            bar.set_postfix_str(_progress(tally, stop), refresh=True)
            executed += run_round(want, bar, tally)
            rounds += 1
            for i, rs in want.items():
                lost[i] += sum(losses[(i, r)] for r in rs)
                held[i] = rs.stop
            running = [i for i in running if not stop.done(lost[i], held[i])]
            for p in manifest["points"]:
                i = p["point"]
                hw = half_width(lost[i], held[i])
                p |= {"reps": held[i], "losses": lost[i], "half_width": hw, "reached": hw <= stop.ci,
                      "running": i in running}
            manifest["rounds"] = rounds
            if outdir is not None:
                write_manifest(outdir, manifest)
    finally:
        bar.close()
    for p in manifest["points"]:
        p.pop("running", None)
    return executed, held


def _progress(tally: dict[int, list[int]], stop: Stop | None) -> str:
    """The bar's postfix: the largest half-width among the points still running."""
    assert stop is not None
    widest = max((half_width(k, n) for k, n in tally.values()), default=math.inf)
    shown = "…" if math.isinf(widest) else f"{widest:.4f}"
    return f"±{shown} → {stop.ci:g}, {len(tally)} point{'s' * (len(tally) != 1)} running"


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


def _bar(progress: bool, total: int, of: int, unknown: bool = False) -> Any:
    # disable=None: tqdm turns itself off when stderr is not a terminal
    return tqdm(total=total, unit="rep", desc="sweep", disable=None if progress else True,
                postfix=None if total == of or unknown else f"{of - total} already done", dynamic_ncols=True)


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
