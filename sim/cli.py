"""The ``dmesim`` command: run, report, explain, validate, schema, sweep and plot (README *Commands*).

Every command turns bad input into one line on stderr and exit status 2, never a
traceback. :mod:`sim.plots` and :mod:`sim.stats` are imported only by the commands that
use them: matplotlib and scipy take a second to import, which ``dmesim validate`` need not wait.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from . import sweeps
from .results import FolderError, Result
from .results import run as replicate
from .scenario import (
    MAX_SEED,
    ScenarioError,
    json_schema,
    load,
    notes,
    parse_yaml,
    size,
)
from .sweeps import SweepError


def _fail(message: str, status: int = 2) -> None:
    click.echo(f"dmesim: {message}", err=True)
    sys.exit(status)


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A hidden folder in ``out`` to write into; its files are moved into ``out`` when the
    block ends, and the folder removed whatever happens (an interrupted write leaves none)."""
    stage = Path(tempfile.mkdtemp(dir=out, prefix=".dmesim-"))
    try:
        yield stage
        for f in stage.iterdir():
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def os_error(exc: OSError) -> str:
    """``path: reason`` for an error of the operating system (``str()`` is ``[Errno 2] …``)."""
    if exc.filename is None:
        return str(exc.args[0] if len(exc.args) == 1 else exc)
    names = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    return f"{names}: {exc.strerror or exc}"


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input becomes one line on stderr and exit status 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ScenarioError, SweepError, FolderError) as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(os_error(exc))
        except KeyError as exc:
            _fail(str(exc.args[0] if exc.args else exc))

    return wrapper


def out_folder(folder: Path, out: Path | None = None) -> None:
    """Create the folder ``folder``: ``--out`` itself, or the folder of ``--out out`` (or
    accept an existing one); one line if it cannot be, naming a file in the way."""
    where = f"--out {out or folder}: cannot create the folder" + (f" {folder}" if out else "")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_way = next((p for p in (folder, *folder.parents) if os.path.isfile(p)), None)
        _fail(f"{where}: {in_way} is a file" if in_way else f"{where}: {exc.strerror or exc}")


CHARTS = ("timeline.png", "approval_graph.png", "report.html")  # removed before a run writes anew
DECRYPT = ("messages", "generations")  # --decrypt: what a run opens for real
DECRYPTION = {"messages": "every message opened (decrypt: messages)",
              "generations": "one probe per user, generation and app opened (decrypt: generations)"}


class _OneLineErrors(click.Group):
    """A bad command line is one line on stderr and exit status 2, as a bad file is (Click
    would print the usage, a hint and the error on four)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # plain `dmesim`: the help
            click.echo(exc.format_message(), err=True)
            sys.exit(2)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "dmesim"
            click.echo(f"{where}: {exc.format_message()} (see {where} --help)", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:  # Ctrl-C
            click.echo("dmesim: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_OneLineErrors)
@click.version_option(package_name="dmesim")
def main() -> None:
    """Simulate Device Managed Encryption: who can read what, and when data is lost."""


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=None,
              help="Root seed (default: the scenario's).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: runs/<scenario name>).")
@click.option("--charts/--no-charts", default=True,
              help="Write timeline.png, approval_graph.png and the report's charts.")
@click.option("--user", "users", multiple=True, metavar="NAME",
              help="Draw and tell these people (repeatable; default: everyone, or a population chart).")
@click.option("--strict", is_flag=True, help="Exit with status 3 if the protocol refused any action.")
@click.option("--decrypt", type=click.Choice(DECRYPT), default=None,
              help="Open every message for real, or one probe per user, generation and app "
              "(default: the scenario's decrypt, else messages).")
@friendly
def run(scenario: Path, seed: int | None, out: Path | None, charts: bool, users: tuple[str, ...],
        strict: bool, decrypt: str | None) -> None:
    """Simulate one history of SCENARIO; write its tables, charts and report.html."""
    from . import plots
    from .report import write_report

    s = load(scenario)
    out = out or Path("runs") / s.name
    out_folder(out)  # before the run: a bad --out costs no simulation
    expect = size(s)
    people = "1 person" if expect["people"] == 1 else f"{expect['people']:,} people"
    click.echo(f"{s.name}: {people}, {expect['devices']:,} devices, about "
               f"{expect['messages']:,} messages in {s.horizon:g} days", err=True)
    for note in notes(s):
        click.echo(f"note: {note}", err=True)
    chosen = list(users) or None
    try:
        with tqdm(total=s.horizon, unit="day", desc="simulated", disable=None, leave=False,
                  bar_format="{desc} {bar} day {n:.0f} of {total:.0f} [{elapsed}<{remaining}]") as bar:
            result = replicate(s, seed, decrypt=decrypt, progress=lambda t: bar.update(t - bar.n))
        with staging(out) as stage:  # every file, or none if interrupted
            result.write(stage)
            svgs: dict[str, str] = {}
            if charts:
                plots.write_run_charts(result, stage, users=chosen, svgs=svgs)
            write_report(result, stage / "report.html", users=chosen, source=out,
                         charts=svgs if charts else False)
            for name in CHARTS:  # an earlier run's charts must not stand next to this run's tables
                (out / name).unlink(missing_ok=True)
    except KeyboardInterrupt:
        _fail(f"interrupted; nothing written to {out}/", status=130)
    click.echo(summary_table(result.summary))
    refused = result.summary["refused"]
    for r in refused:
        click.echo(f"refused: day {r['time']:g}, {r['user']}: {r['why']}")
    if refused:
        click.echo(f"{len(refused)} action{'s' if len(refused) > 1 else ''} refused (events.csv has them too)")
    click.echo(f"wrote {out}/ (open {out / 'report.html'})")
    if strict and refused:
        sys.exit(3)


def summary_table(summary: dict[str, Any]) -> str:
    n = summary["messages"] or 1
    rows = [("scenario", summary["scenario"]), ("seed / rep", f"{summary['seed']} / {summary['rep']}"),
            ("horizon (days)", f"{summary['horizon']:g}"), ("messages", summary["messages"])]
    for status in ("readable", "recoverable", "lost"):
        rows.append((f"  {status}", f"{summary[status]} ({summary[status] / n:.1%})"))
    first = summary["first_loss_at"]
    rows.append(("first loss", "none" if first is None else f"day {first:.1f}"))
    rows.append(("generations lost", summary["generations_lost"]))
    if summary.get("ea_generations_lost"):
        rows.append(("EA generations lost", summary["ea_generations_lost"]))
    if "exposed" in summary:
        rows.append(("exposed to adversaries", f"{summary['exposed']} ({summary['exposed'] / n:.1%})"))
    a = summary["argon2"]
    rows.append(("Argon2id cost", f"{a['memory_kib']} KiB, {a['passes']} passes"))
    if "decrypt" in summary:
        rows.append(("decryption", DECRYPTION.get(summary["decrypt"], str(summary["decrypt"]))))
    rows.append(("crypto operations", ", ".join(f"{k} {v}" for k, v in summary["ops"].items())))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES; one line per problem, exit status 2 if any."""
    bad = 0
    for f in files:
        try:
            load(f)
            click.echo(f"{f}: ok")
        except ScenarioError as exc:
            click.echo(str(exc), err=True)
            bad += 1
    if bad:
        sys.exit(2)


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors)."""
    click.echo(json.dumps(json_schema(), indent=2))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--message", "message_id", required=True, help="Message ID, e.g. m12.")
@click.option("--device", required=True, help="Device name.")
@friendly
def explain(run_dir: Path, message_id: str, device: str) -> None:
    """Why DEVICE can or cannot read MESSAGE in the run written to RUN_DIR."""
    if not (run_dir / "messages.csv").exists():
        raise FileNotFoundError(f"{run_dir}: not a run folder (no messages.csv); use dmesim run --out")
    click.echo(Result.read(run_dir).explain(message_id, device))


# ---------------------------------------------------------------- sweeps


def parse_vary(items: Iterable[str]) -> dict[str, list[Any]]:
    """``--vary`` options: ``["behaviour.backup_keys.count=0,1,2"]`` →
    ``{"behaviour.backup_keys.count": [0, 1, 2]}``.

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
    """``text`` split at the commas outside brackets and braces."""
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


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--reps", type=click.IntRange(min=1), default=None,
              help="Replications per grid point (default: the scenario's sweep.reps, else 100; "
              "on --resume never fewer than the sweep holds).")
@click.option("--vary", multiple=True, metavar="PATH=v1,v2",
              help="Vary a dotted scenario path over values (repeatable; values are YAML).")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=None,
              help="Root seed (default: the scenario's).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Run on a pool of K worker processes.")
@click.option("--scheduler", default=None, metavar="local|tcp://HOST:PORT",
              help="Run on dask.distributed: 'local' (2 workers) or a scheduler address.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: sweeps/<scenario name>).")
@click.option("--resume", is_flag=True, help="Continue the sweep saved in --out.")
@click.option("--traces", is_flag=True, help="Also keep every replication's message table.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Replications per task (default: about 16 tasks per worker, at most 20 reps each).")
@click.option("--charts/--no-charts", default=True,
              help="Write risk, fraction, policy and tradeoff charts.")
@click.option("--progress/--no-progress", default=True, help="Progress bar (only on a terminal).")
@click.option("--decrypt", type=click.Choice(DECRYPT), default=None,
              help="Open one probe per user, generation and app, or every message (default: the "
              "scenario's decrypt, else generations); the table is the same.")
@click.option("--ci", type=float, default=None, metavar="HALF_WIDTH",
              help="Stop when the answer is known: rounds of --reps replications per grid point "
              "(default 200) until each point's 95% Wilson half-width on P(any loss) is at most "
              "this (e.g. 0.01).")
@click.option("--max-reps", type=click.IntRange(min=1), default=None,
              help="With --ci: at most this many replications per grid point (default 10000).")
@friendly
def sweep(scenario: Path, reps: int | None, vary: tuple[str, ...], seed: int | None,
          workers: int | None, scheduler: str | None, out: Path | None, resume: bool, traces: bool,
          batch_size: int | None, charts: bool, progress: bool, decrypt: str | None, ci: float | None,
          max_reps: int | None) -> None:
    """Monte Carlo over replications × the --vary grid of SCENARIO: a tidy table
    (sweep.parquet, sweep.csv), manifest.json and data-loss-risk charts."""
    from . import plots

    if workers is not None and scheduler is not None:
        _fail("give --workers or --scheduler, not both")
    if ci is not None:
        sweeps.check_ci(ci)  # before the scenario is read: one line, exit status 2
    out_dir: Path = out or Path("sweeps") / load(scenario).name
    interrupted = []
    default_handler = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        df = sweeps.sweep(scenario, reps, parse_vary(vary), seed, workers=workers, scheduler=scheduler,
                          out=out_dir, resume=resume, traces=traces, batch_size=batch_size,
                          progress=progress, decrypt=decrypt, ci=ci, max_reps=max_reps)
    except SweepError as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, Exception):
        # Ctrl-C can surface as another exception when it lands inside a native call
        if not interrupted:
            raise
        click.echo(f"\ndmesim: interrupted; finished batches are saved in {out_dir}/ — rerun with "
                   "--resume to continue", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, default_handler)
    for kind in plots.SWEEP_CHARTS:  # no earlier sweep's chart beside this table
        (out_dir / f"{kind}.png").unlink(missing_ok=True)
    if charts:  # tradeoff only where an adversary read something
        for kind, chart in plots.sweep_charts(df).items():
            plots.save(chart(df), out_dir / f"{kind}.png")
    manifest = json.loads((out_dir / sweeps.MANIFEST).read_text())
    click.echo(sweep_table(df, manifest.get("stop")))
    if manifest.get("stop"):
        click.echo(stopping_note(manifest))
    reused = len(df) - manifest["executed"]
    click.echo(f"ran {manifest['executed']} replications" + (f" ({reused} reused from earlier shards)"
                                                             if reused else "") + f"; wrote {out_dir}/")


def sweep_table(df: Any, stop: dict[str, Any] | None = None) -> str:
    """Per grid point: replications, P(any loss) with its 95% Wilson interval (and, for a
    sweep that stops at a target, ``stop``, its half-width), mean fraction of messages
    lost, median day of the first loss (censored at the horizon:
    :func:`sim.stats.median_first_loss`), mean fraction exposed."""
    from .stats import loss_risk, median_first_loss, sweep_groups

    risk = loss_risk(df)
    half = ("±",) if stop else ()
    rows = [("grid point", "reps", "P(any loss) [95% CI]", *half, "mean lost", "median first loss",
             "mean exposed")]
    for (label, g), (_, r) in zip(sweep_groups(df), risk.iterrows(), strict=True):
        first = median_first_loss(g)
        hw = (f"{sweeps.half_width(int(r['losses']), int(r['n'])):.4f}",) if stop else ()
        rows.append((label, str(r["n"]), f"{r['p']:.3f} [{r['low']:.3f}, {r['high']:.3f}]", *hw,
                     f"{g['fraction_lost'].mean():.1%}",
                     f"> day {g['horizon_days'].max():g}" if first is None else f"day {first:.0f}",
                     f"{g['fraction_exposed'].mean():.1%}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in rows)


def stopping_note(manifest: dict[str, Any]) -> str:
    """One line on a sweep that stopped at a target: reached everywhere, or where not."""
    stop, points, n = manifest["stop"], manifest["points"], manifest.get("rounds", 0)
    rounds = f"{n} round{'s' * (n != 1)} of {manifest['reps']}"
    short = [p["label"] for p in points if not p.get("reached")]
    if not short:
        return f"every grid point reached ±{stop['ci']:g} (95% Wilson half-width of P(any loss)) in {rounds}"
    return (f"±{stop['ci']:g} not reached at {len(short)} of {len(points)} grid points, stopped at --max-reps "
            f"{stop['max_reps']} ({rounds}): {'; '.join(short)}")


@main.command()
@click.argument("sweep_dir", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["risk", "fraction", "policy", "tradeoff"]), default="risk",
              show_default=True, help="risk: P(loss by day t); fraction: messages lost; "
              "policy: P(any loss) per grid point; tradeoff: loss against exposure.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="FILE.png or FILE.svg.")
@click.option("--by", multiple=True, metavar="COLUMN",
              help="Group by these varied columns instead of by grid point (repeatable).")
@friendly
def plot(sweep_dir: Path, kind: str, out: Path, by: tuple[str, ...]) -> None:
    """Chart the sweep saved in SWEEP_DIR."""
    from . import plots

    if out.suffix.lower() not in (".png", ".svg"):
        _fail(f"--out {out}: give a .png or .svg file")
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir}: no such folder (give the --out folder of dmesim sweep)")
    df = sweeps.read_sweep(sweep_dir)
    if df.empty:
        _fail(f"{sweep_dir}: the sweep has no finished replications yet")
    out_folder(out.parent, out)
    try:
        chart = plots.SWEEP_CHARTS[kind](df, by=list(by) or None)
    except ValueError as exc:  # e.g. a tradeoff where no adversary read anything
        _fail(f"{sweep_dir}: {exc}")
    plots.save(chart, out)
    click.echo(f"wrote {out}")


@main.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="The HTML file (default: RUN_DIR/report.html).")
@click.option("--user", "users", multiple=True, metavar="NAME", help="Tell these people (repeatable).")
@friendly
def report_command(run_dir: Path, out: Path | None, users: tuple[str, ...]) -> None:
    """Write one self-contained HTML page telling the story of the run in RUN_DIR."""
    from .report import report

    if not (run_dir / "messages.csv").exists():
        raise FileNotFoundError(f"{run_dir}: not a run folder (no messages.csv); use dmesim run --out")
    click.echo(f"wrote {report(run_dir, out, users=list(users) or None)}")
