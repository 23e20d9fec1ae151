"""sim.plots, the charts of a run and of a sweep as people meet them: every mark named in a
legend, one panel per person up to twelve and a population chart beyond, arrows from
approver to approved, dates on the axis, never taller than 2,000 px; sweep charts that
refuse what they cannot show, never go below 0, keep many groups apart and wrap labels."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle
from PIL import Image

import sim
from sim import plots
from sim.results import COLUMNS, Result

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def quickstart() -> Result:
    return sim.run(SCENARIOS / "quickstart.yaml")


@pytest.fixture(scope="module")
def stolen() -> Result:
    return sim.run(SCENARIOS / "web_revoke.yaml")


def people(n: int, horizon: float = 100.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Devices and messages of ``n`` made-up people: each a phone and a laptop, ten messages;
    person 1 loses its phone (and its first five messages) on day 50, person 2's messages
    are exposed to a thief."""
    devices, messages = [], []
    for i in range(n):
        user = f"p{i:04d}"
        lost = i == 1
        devices.append((user, "phone", "physical", "phone", 0.0, 0.0, "", 55.0 if lost else np.nan,
                        True if lost else None, 50.0 if lost else np.nan, "lost" if lost else "", not lost, "1"))
        devices.append((user, "laptop", "physical", "laptop", 10.0, 10.0, "", np.nan, None, np.nan, "", True, "2"))
        for k in range(10):
            gone = lost and k < 5
            messages.append((f"m{i * 10 + k + 1}", user, user, "mail", 5.0 + 9 * k, 1 if k < 5 else 2,
                             "" if gone else "laptop", "lost" if gone else "readable", 50.0 if gone else np.nan,
                             "phone lost" if gone else "", "", "thief:x" if i == 2 else ""))
    return (pd.DataFrame(devices, columns=COLUMNS["devices"]),
            pd.DataFrame(messages, columns=COLUMNS["messages"]))


def legend_texts(chart: Axes | Figure) -> list[str]:
    fig = chart if isinstance(chart, Figure) else chart.get_figure(root=True)
    assert isinstance(fig, Figure)
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    return [t.get_text() for leg in legends for t in leg.get_texts()]


def png_size(chart: Axes | Figure, tmp_path: Path, name: str = "c.png") -> tuple[int, int]:
    plots.save(chart, tmp_path / name)
    with Image.open(tmp_path / name) as im:
        return im.size


# ---------------------------------------------------------------- the timeline


def test_one_person_timeline_names_every_mark_in_its_legend(quickstart: Result) -> None:
    s = quickstart.summary
    ax = plots.timeline(quickstart.devices, quickstart.messages, horizon=s["horizon"], events=quickstart.events,
                        adversaries=s["adversaries"], start_date=s["start_date"])
    assert isinstance(ax, Axes)
    labels = legend_texts(ax)
    for expected in ("physical device in the user's hands", "backup key in the user's hands",
                     "data access: reads messages from here", "lost", "revoked, signed (a new key generation)",
                     "approved: boxed the approver's key generations", "message readable"):
        assert expected in labels
    assert any(x.startswith("new key generation") for x in labels)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[:2] == ["messages", "key generations"] and {"phone", "laptop", "backup-1", "phone#2"} <= set(rows)
    assert "240 messages: 240 readable" in ax.get_title(loc="left")


def test_theft_revocation_and_exposure_are_drawn(stolen: Result) -> None:
    """web_revoke: the phone is stolen on day 50, revoked from the web on day 51, and the thief
    reads new messages until the laptop rotates the key on day 70."""
    s = stolen.summary
    ax = plots.timeline(stolen.devices, stolen.messages, horizon=s["horizon"], events=stolen.events,
                        adversaries=s["adversaries"])
    assert isinstance(ax, Axes)
    labels = legend_texts(ax)
    for expected in ("stolen (a thief holds its keys)", "revoked unsigned, from the web (no new generation)",
                     "in a thief's hands, not revoked", "adversary window: it reads new messages",
                     "message exposed to an adversary"):
        assert expected in labels
    assert "exposed to an adversary" in [t.get_text() for t in ax.get_yticklabels()]
    (span,) = [p for p in ax.patches if p.get_label() == "_window thief:alice/phone"]
    assert isinstance(span, Rectangle) and (span.get_x(), span.get_x() + span.get_width()) == (50.0, 70.0)
    assert ax.get_xlabel() == "simulated days"  # no start date: days


def test_an_unreachable_escrow_device_is_drawn_so() -> None:
    """escrow_admins_lost: the escrow admins lose their generation on day 110; alice's escrow
    device can recover nothing from then on."""
    r = sim.run(SCENARIOS / "escrow_admins_lost.yaml")
    ax = plots.run_charts(r)["timeline"]
    assert isinstance(ax, Axes)
    assert "unreachable: escrow whose escrow admins' generation is lost" in legend_texts(ax)
    y = [t.get_text() for t in ax.get_yticklabels()].index("escrow")
    hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch() == "xxxx"]
    assert [(p.get_x(), p.get_y() + p.get_height() / 2) for p in hatched] == [(110.0, y)]


def test_dates_on_the_axis_when_the_run_has_a_start_date(quickstart: Result) -> None:
    assert quickstart.summary["start_date"]
    ax = plots.timeline(quickstart.devices, quickstart.messages, horizon=365,
                        start_date=quickstart.summary["start_date"])
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    left, right = ax.get_xlim()
    start = mdates.num2date(left).date().isoformat()
    assert start == quickstart.summary["start_date"] and right - left == pytest.approx(365)
    assert ax.get_xlabel() == "date"


def test_the_old_call_still_gives_one_axes(quickstart: Result) -> None:
    """notebooks/quickstart.ipynb: ``ax = sim.plots.timeline(result.devices, result.messages, horizon=365)``."""
    ax = plots.timeline(quickstart.devices, quickstart.messages, horizon=365)
    assert isinstance(ax, Axes) and ax.get_xlim() == (0.0, 365.0)
    _, given = plt.subplots()
    assert plots.timeline(quickstart.devices, quickstart.messages, user="alice", ax=given) is given


@pytest.mark.parametrize("n", [2, 12])
def test_a_panel_per_person_up_to_twelve(n: int) -> None:
    devices, messages = people(n)
    fig = plots.timeline(devices, messages, horizon=100)
    assert isinstance(fig, Figure)
    titles = [a.get_title(loc="left") for a in fig.axes]
    assert [t.split(":")[0] for t in titles] == [f"p{i:04d}" for i in range(n)]
    assert len(fig.legends) == 1 and "message lost" in legend_texts(fig)


def test_beyond_twelve_people_a_population_chart() -> None:
    devices, messages = people(13)
    ax = plots.timeline(devices, messages, horizon=100)
    assert isinstance(ax, Axes) and "13 people" in ax.get_ylabel()
    chosen = plots.timeline(devices, messages, horizon=100, users=["p0001", "p0002"])
    assert isinstance(chosen, Figure) and len(chosen.axes) == 2
    with pytest.raises(KeyError, match="no user 'nobody'"):
        plots.timeline(devices, messages, users=["nobody"])


def test_the_population_chart_colours_each_person_by_the_worst_status() -> None:
    devices, messages = people(20)
    ax = plots.population(devices, messages, horizon=100, bins=10)
    grid = ax.get_images()[0].get_array()
    ylabels = [t.get_text() for t in ax.get_yticklabels()]
    assert ylabels[:2] == ["p0002", "p0001"]  # sorted by first exposure (day 5), then loss (day 50)
    code = {name: i for i, name in enumerate(plots.CATEGORIES)}
    assert list(grid[0]) == [code["exposed to an adversary"]] * 10
    assert list(grid[1][:5]) == [code["lost"]] * 5 and list(grid[1][6:]) == [code["readable"]] * 4
    assert list(grid[2]) == [code["readable"]] * 10
    assert {"lost", "readable", "exposed to an adversary"} <= set(legend_texts(ax))


@pytest.mark.parametrize("n", [1, 2, 12, 20, 1000])
def test_no_chart_is_taller_than_2000_px(n: int, tmp_path: Path) -> None:
    devices, messages = people(n)
    for i, chart in enumerate([plots.timeline(devices, messages, horizon=100),
                               plots.approval_graph(devices, users=sorted(set(devices["user"])))]):
        width, height = png_size(chart, tmp_path, f"{i}.png")
        assert height <= 2000 and width <= 2000


def test_many_devices_do_not_make_the_timeline_taller(tmp_path: Path) -> None:
    devices, messages = people(1)
    many = pd.concat([devices.assign(device=[f"d{i}-{x}" for x in devices["device"]]) for i in range(60)])
    assert png_size(plots.timeline(many, messages, horizon=100), tmp_path)[1] <= 2000


# ---------------------------------------------------------------- the approval graph


def arrows(ax: Axes) -> set[tuple[str, str]]:
    return {tuple(p.get_label().split(" → ")) for p in ax.patches  # type: ignore[misc]
            if isinstance(p, FancyArrowPatch)}


def test_approval_graph_arrows_go_from_approver_to_approved() -> None:
    r = sim.run(SCENARIOS / "help_article.yaml")
    ax = plots.approval_graph(r.devices, "alice")
    assert isinstance(ax, Axes)
    assert arrows(ax) == {("laptop", "tablet")}
    for p in ax.patches:
        if isinstance(p, FancyArrowPatch):
            (x0, _), (x1, _) = p._posA_posB  # type: ignore[attr-defined]
            assert (x0, x1) == (10.0, 20.0)  # placed by join day: laptop day 10, tablet day 20
    labels = legend_texts(ax)
    assert "physical device" in labels and any(x.startswith("approval: the approver") for x in labels)
    assert "hollow: no longer available (lost, stolen, revoked…)" in labels


def test_approval_graph_of_everyone_has_a_panel_per_person() -> None:
    r = sim.run(SCENARIOS / "household.yaml")
    fig = plots.approval_graph(r.devices)
    assert isinstance(fig, Figure)
    assert [a.get_title(loc="left") for a in fig.axes if a.axison] == ["ana", "ben"]
    devices, _ = people(30)
    many = plots.approval_graph(devices)
    assert isinstance(many, Figure) and sum(a.axison for a in many.axes) == plots.MAX_PANELS
    assert "12 of 30 people" in many.get_suptitle()


def test_run_charts_and_writing_them(quickstart: Result, tmp_path: Path) -> None:
    charts = plots.run_charts(quickstart)
    assert set(charts) == {"timeline", "approval_graph"}
    written = plots.write_run_charts(quickstart, tmp_path / "out", users=["alice"])
    assert [p.name for p in written] == ["timeline.png", "approval_graph.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    with pytest.raises(KeyError, match="no user 'bob'"):
        plots.run_charts(quickstart, users=["bob"])


def test_svg_is_text_to_inline(stolen: Result) -> None:
    text = plots.svg(plots.timeline(stolen.devices, stolen.messages, events=stolen.events))
    assert text.startswith("<svg") and "<?xml" not in text and "<!DOCTYPE" not in text
    assert ">laptop</text>" in text  # text kept as text
    refs = re.findall(r'(?:href|src)="([^"]*)"', text)
    assert all(r.startswith(("#", "data:")) for r in refs)


def test_a_dollar_in_a_label_is_shown_as_it_is(tmp_path: Path) -> None:
    devices, messages = people(1)
    devices.loc[1, "label"] = "price $5 and $6"
    ax = plots.timeline(devices, messages, horizon=100)
    png_size(ax, tmp_path)  # mathtext would fail or swallow the dollars
    assert any("$" in t.get_text() for t in ax.get_yticklabels())


# ---------------------------------------------------------------- sweep charts


def sweep(points: int, reps: int = 8, exposed: bool = True, label: str = "policy {p}") -> pd.DataFrame:
    rng = np.random.default_rng(points)
    rows = []
    for p in range(points):
        for r in range(reps):
            loss = rng.random() < 0.3
            rows.append({"run_id": f"p{p}-r{r}", "point": p, "rep": r, "seed": 1, "label": label.format(p=p),
                         "horizon_days": 100.0, "any_loss": loss, "first_loss_at": 50.0 if loss else np.nan,
                         "fraction_lost": rng.uniform(0, 0.01) if loss else 0.0,
                         "fraction_exposed": rng.uniform(0, 0.2) if exposed else 0.0})
    return pd.DataFrame(rows)


def test_tradeoff_refuses_a_sweep_without_an_adversary() -> None:
    df = sweep(3, exposed=False)
    with pytest.raises(ValueError, match="no adversary read any message"):
        plots.tradeoff(df)
    assert list(plots.sweep_charts(df)) == ["risk", "fraction", "policy"]
    assert list(plots.sweep_charts(sweep(3))) == ["risk", "fraction", "policy", "tradeoff"]


def test_fractions_never_go_below_zero() -> None:
    df = sweep(4)
    df.loc[df["point"] == 0, "fraction_lost"] = [0.0] * 7 + [0.5]  # a wide interval around a small mean
    ax = plots.fraction_lost(df)
    assert ax.get_ylim()[0] == 0.0
    (container,) = ax.containers
    assert min(seg[:, 1].min() for seg in container.lines[2][0].get_segments()) >= 0.0
    for chart in (plots.risk_over_time, plots.tradeoff, plots.policy_comparison):
        assert chart(df).get_ylim()[0] == 0.0


@pytest.mark.parametrize("points", [6, 8, 12, 25])
def test_colours_stay_apart_for_many_groups(points: int) -> None:
    df = sweep(points)
    lines = plots.risk_over_time(df).get_lines()
    styles = {(plt.matplotlib.colors.to_hex(line.get_color()), line.get_linestyle()) for line in lines}
    assert len(styles) == points
    dots = plots.fraction_lost(df).collections[:points]
    assert len({plt.matplotlib.colors.to_hex(c.get_facecolor()[0]) for c in dots}) == points


def test_long_labels_are_wrapped_or_numbered_with_a_key() -> None:
    short = plots.policy_comparison(sweep(3, label="backup_keys.count={p}, fingerprint_check=1"))
    ticks = [t.get_text() for t in short.get_xticklabels()]
    assert ticks[0] == "backup_keys.count=0,\nfingerprint_check=1"
    long = plots.policy_comparison(sweep(3, label="behaviour.backup_keys.count={p}, "
                                                  "behaviour.approval.fingerprint_check=1, revocation.delay=2d"))
    assert [t.get_text() for t in long.get_xticklabels()] == ["1", "2", "3"]
    key = long.texts[-1].get_text()
    assert key.startswith("1: behaviour.backup_keys.count=0,") and "\n3: " in key
    legend = plots.risk_over_time(sweep(2, label="x" * 10 + " y" * 30)).get_legend()
    assert legend is not None and all(len(line) <= 40 for t in legend.get_texts()
                                      for line in t.get_text().split("\n"))
