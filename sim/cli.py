"""The ``dmesim`` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from .scenario import ScenarioError, json_schema, load


def _fail(message: str) -> None:
    click.echo(f"dmesim: {message}", err=True)
    sys.exit(2)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input becomes one line on stderr and exit status 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ScenarioError as exc:
            _fail(str(exc))
        except (FileNotFoundError, KeyError) as exc:
            _fail(str(exc.args[0] if exc.args else exc))

    return wrapper


@click.group()
@click.version_option(package_name="dmesim")
def main() -> None:
    """Simulate Device Managed Encryption: who can read what, and when data is lost."""


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=None, help="Root seed (default: the scenario's).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: runs/<scenario name>).")
@click.option("--charts/--no-charts", default=True, help="Write timeline.png and approval_graph.png.")
@friendly
def run(scenario: Path, seed: int | None, out: Path | None, charts: bool) -> None:
    """Simulate one history of SCENARIO and write its tables."""
    from . import plots
    from .simulation import Simulation

    s = load(scenario)
    result = Simulation(s, seed).run()
    out = out or Path("runs") / s.name
    result.write(out)
    if charts:
        users = sorted(set(result.devices["user"]) - {"escrow-admins"})
        plots.save(plots.timeline(result.devices, result.messages, horizon=s.horizon),
                   out / "timeline.png")
        plots.save(plots.approval_graph(result.devices, users[0]), out / "approval_graph.png")
    click.echo(summary_table(result.summary))
    click.echo(f"wrote {out}/")


def summary_table(summary: dict[str, Any]) -> str:
    n = summary["messages"] or 1
    rows = [("scenario", summary["scenario"]), ("seed / rep", f"{summary['seed']} / {summary['rep']}"),
            ("horizon (days)", f"{summary['horizon']:g}"), ("messages", summary["messages"])]
    for status in ("readable", "recoverable", "lost"):
        rows.append((f"  {status}", f"{summary[status]} ({summary[status] / n:.1%})"))
    first = summary["first_loss_at"]
    rows.append(("first loss", "none" if first is None else f"day {first:.1f}"))
    rows.append(("generations lost", summary["generations_lost"]))
    if "exposed" in summary:
        rows.append(("exposed to adversaries", f"{summary['exposed']} ({summary['exposed'] / n:.1%})"))
    a = summary["argon2"]
    rows.append(("Argon2id cost", f"{a['memory_kib']} KiB, {a['passes']} passes"))
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
    from .analysis import Result

    if not (run_dir / "messages.csv").exists():
        raise FileNotFoundError(f"{run_dir}: not a run folder (no messages.csv); use dmesim run --out")
    click.echo(Result.read(run_dir).explain(message_id, device))
