"""Charts in one packaged style.

A run's charts take its tables (:class:`~sim.results.Result`'s DataFrames):

- :func:`timeline`: one panel per person (devices as bars, key generations, approvals,
  losses, thefts, revocations, adversary windows, messages by status and exposure), up to
  :data:`MAX_PANELS` people; beyond that :func:`population`, a people × time chart of the
  status of their messages. It returns the Axes of a one-panel chart (one person, or a
  given ``ax``), else the Figure of the panels; the population chart returns its Axes.
- :func:`approval_graph`: arrows from approver to approved, devices placed by the day
  they joined; one person's Axes, or a Figure with one panel per person.

:func:`run_charts` draws both for a Result and :func:`write_run_charts` writes them.
Every time axis shows dates when the run has a ``start_date``, and no chart is taller
than :data:`MAX_HEIGHT` inches (under 2,000 px at the style's 130 dpi).

A sweep's charts, one series per group of its table (per grid point, or per value of the
``by`` columns): :func:`risk_over_time`, :func:`fraction_lost`, :func:`policy_comparison`
and :func:`tradeoff` (only for a sweep whose adversaries read something: it raises
ValueError otherwise; :func:`sweep_charts` gives the charts that apply to a table). The
numbers they draw come from :mod:`sim.stats` (``loss_risk`` and ``sweep_groups`` can be
imported from here too).

Modules: ``base`` (the style, colours, sizes, saving, what the run charts share),
``timeline`` (the timeline and the population chart), ``graph`` (the approval graph),
``sweep`` (the sweep charts); everything public is here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..stats import loss_risk, sweep_groups
from .base import (
    EXPOSED_COLOUR,
    KIND_COLOURS,
    MAX_HEIGHT,
    MAX_PANELS,
    STATUS_COLOURS,
    STYLE,
    Chart,
    people_of,
    save,
    svg,
    use_style,
)
from .graph import approval_graph
from .sweep import (
    SWEEP_CHARTS,
    fraction_lost,
    has_exposure,
    policy_comparison,
    risk_over_time,
    sweep_charts,
    tradeoff,
)
from .timeline import CATEGORIES, CATEGORY_COLOURS, first_trouble, population, timeline

__all__ = ["CATEGORIES", "CATEGORY_COLOURS", "EXPOSED_COLOUR", "KIND_COLOURS", "MAX_HEIGHT", "MAX_PANELS",
           "STATUS_COLOURS", "STYLE", "SWEEP_CHARTS", "Chart", "approval_graph", "fraction_lost", "has_exposure",
           "loss_risk", "policy_comparison", "population", "risk_over_time", "run_charts", "save", "svg",
           "sweep_charts", "sweep_groups", "timeline", "tradeoff", "use_style", "write_run_charts"]


def run_charts(result: Any, users: Sequence[str] | None = None) -> dict[str, Chart]:
    """The charts of a :class:`~sim.results.Result`: ``{"timeline": …, "approval_graph": …}``
    (no approval graph when no device joined), of ``users`` or everyone, with its events,
    adversary windows, horizon and start date. With more people than panels and no
    ``users``, the approval graphs are of the people who lost or exposed data first."""
    s = result.summary
    charts: dict[str, Chart] = {"timeline": timeline(
        result.devices, result.messages, horizon=s.get("horizon"), users=users, events=result.events,
        adversaries=s.get("adversaries"), start_date=s.get("start_date"), holders=result.holders)}
    people = [p for p in people_of(result.devices, result.messages, users) if p in set(result.devices["user"])]
    if users is None and len(people) > MAX_PANELS:
        first = first_trouble(result.messages)
        people = sorted(people, key=lambda p: (first.get(p, math.inf), p))
    if people:
        charts["approval_graph"] = approval_graph(result.devices, users=people, horizon=s.get("horizon"),
                                                  start_date=s.get("start_date"))
    return charts


def write_run_charts(result: Any, out: str | Path, users: Sequence[str] | None = None,
                     suffix: str = ".png", svgs: dict[str, str] | None = None) -> list[Path]:
    """Write :func:`run_charts` to ``out/timeline.png`` and ``out/approval_graph.png``
    (``suffix`` ".svg" for SVG files); returns the paths written. ``svgs``: a dict to fill
    with each chart as inline SVG text too (``{"timeline": "<svg…", …}``, for
    :func:`sim.report.write_report`'s ``charts``), drawn once for both. KeyError (one
    line) for a user not in the run."""
    written = []
    Path(out).mkdir(parents=True, exist_ok=True)
    for name, chart in run_charts(result, users).items():
        path = Path(out) / f"{name}{suffix}"
        save(chart, path, close=svgs is None)
        if svgs is not None:
            svgs[name] = svg(chart)
        written.append(path)
    return written


