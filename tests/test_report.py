"""sim.report: report.html tells a run's story on one self-contained page: every section,
every lost message under an explanation, charts as inline SVG, names from the run shown
as text (never markup); and it shows in a browser."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
import yaml

import sim
from sim import report
from sim.results import Result

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
HOSTILE = '<script>alert("x")</script> & $x$'
SECTIONS = ["summary", "charts", "explained", "people", "refused"]


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


class Page(HTMLParser):
    """What a report shows: its elements, their attributes, and the text under each
    explanation (by its id)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[tuple[str, str | None]] = []  # (tag, explanation id) of open elements
        self.text: dict[str, list[str]] = {}
        self.all_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        explanation = a.get("id") if "explanation" in (a.get("class") or "").split() else None
        if tag not in ("meta", "br", "img", "input", "link", "hr") and not tag.startswith("svg:"):
            self.open.append((tag, explanation))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break

    def handle_data(self, data: str) -> None:
        self.all_text.append(data)
        for _, explanation in self.open:
            if explanation:
                self.text.setdefault(explanation, []).append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}

    def count(self, tag: str) -> int:
        return sum(t == tag for t, _ in self.tags)

    def attrs(self, tag: str, **match: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in match.items())]


def hostile_run(tmp_path: Path) -> Result:
    """help_article with a device label that is markup, and an approval the protocol refuses."""
    d = yaml.safe_load((SCENARIOS / "help_article.yaml").read_text())
    d["users"][0]["devices"][1]["kind"] = HOSTILE
    d["timeline"].append({"at": "40d", "action": "approve", "user": "alice", "by": "phone"})
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(d))
    return sim.run(path)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, str]:
    tmp = tmp_path_factory.mktemp("report")
    r = hostile_run(tmp)
    return r, report.render_report(r)


def test_every_section_is_there(page: tuple[Result, str]) -> None:
    _, html = page
    p = Page(html)
    assert set(SECTIONS) <= p.ids()
    assert [a["href"] for a in p.attrs("a") if (a.get("href") or "").startswith("#")][:5] == \
        [f"#{s}" for s in SECTIONS]
    text = " ".join(p.all_text)
    assert "alice: 2 messages of key generation 1 lost for good on day 30 (phone lost)" in text
    assert "approve: phone is not in the user's hands" in text  # the refused event and its detail


def test_every_lost_message_is_under_an_explanation(page: tuple[Result, str]) -> None:
    r, html = page
    p = Page(html)
    lost = set(r.messages.loc[r.messages["status"] == "lost", "message_id"])
    assert lost == {"m1", "m2"}
    explained = {i for a in p.attrs("details", **{"data-status": "lost"})
                 for i in " ".join(p.text[str(a["id"])]).split()}
    assert lost <= explained
    under = " ".join(p.text[str(p.attrs("details", **{"data-status": "lost"})[0]["id"])])
    assert "laptop cannot decrypt it." in under  # what dmesim explain says
    assert "Generation 1 predates laptop" in under


def test_a_story_in_time_order(page: tuple[Result, str]) -> None:
    _, html = page
    text = "".join(Page(html).all_text)
    story = ["day 0: phone joined", "day 10: laptop joined", "day 22: laptop approved tablet — tablet now reads "
             "from day 10", "day 30: phone lost", "day 30: key generation 1 lost for good",
             "day 31: phone revoked (signed by laptop) — new key generation 4", "day 40: refused: approve"]
    at = text.index("alice: 5 messages")  # the story, after the explanations
    for sentence in story:
        at = text.index(sentence, at)


def test_charts_are_inline_svg_and_nothing_is_fetched(page: tuple[Result, str]) -> None:
    _, html = page
    p = Page(html)
    assert p.count("svg") == 2
    assert not p.count("script") and not p.count("img") and not p.count("link") and not p.count("iframe")
    for _, a in p.tags:
        for key in ("href", "xlink:href", "src"):
            value = a.get(key)
            assert value is None or value.startswith(("#", "data:")), (key, value)


def test_a_hostile_name_is_shown_as_text(page: tuple[Result, str]) -> None:
    _, html = page
    assert "<script" not in html
    assert "&lt;script&gt;alert(" in html
    p = Page(html)
    assert not p.count("script")
    assert any(HOSTILE in t for t in p.all_text)  # in the devices table, as the label
    assert any("<script>" in t for t in p.all_text if "$x$" in t)  # in the chart's text too


def test_report_of_a_run_folder(tmp_path: Path) -> None:
    r = sim.run(SCENARIOS / "web_revoke.yaml")
    r.write(tmp_path / "run")
    path = report.report(tmp_path / "run")
    assert path == tmp_path / "run" / "report.html"
    p = Page(path.read_text(encoding="utf-8"))
    exposed = set(r.messages.loc[r.messages["exposed_to"] != "", "message_id"])
    explained = {i for a in p.attrs("details", **{"data-status": "exposed"}) for i in " ".join(p.text[str(a["id"])]).split()}
    assert exposed and exposed <= explained
    text = " ".join(p.all_text)
    assert "thief:alice/phone (thief): keys from day 50, reading new messages until day 70" in text
    assert "phone revoked (unsigned via web) — no new key generation until a device rotates the key" in text


def test_charts_drawn_once_for_the_pngs_and_the_page(tmp_path: Path) -> None:
    from sim import plots

    r = sim.run(SCENARIOS / "help_article.yaml")
    svgs: dict[str, str] = {}
    pngs = plots.write_run_charts(r, tmp_path, svgs=svgs)
    assert [p.name for p in pngs] == ["timeline.png", "approval_graph.png"] and list(svgs) == ["timeline",
                                                                                             "approval_graph"]
    page = Page(report.write_report(r, tmp_path / "report.html", charts=svgs).read_text(encoding="utf-8"))
    assert page.count("svg") == 2 and {"chart-timeline", "chart-approval_graph"} <= page.ids()
    bare = Page(report.render_report(r, charts=False))
    assert bare.count("svg") == 0 and "No charts in this report." in "".join(bare.all_text)


def test_the_story_tells_when_escrow_became_unreachable() -> None:
    text = "".join(Page(report.render_report(sim.run(SCENARIOS / "escrow_admins_lost.yaml"), charts=False)).all_text)
    assert ("day 110: escrow device escrow unreachable: the escrow admins' EA generation 1 lost (ea-backup "
            "paper_lost) — escrow can no longer recover alice's data") in text
    assert "day 110: the paper of backup key ea-backup lost" in text  # the escrow admins' own story


def test_many_people_collapsed_and_only_troubled_people_told(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    users = [{"name": f"u{i:02d}", "devices": [{"name": "phone", "fate": {"lost": f"{10 + i}d"}} if i % 5 == 0
                                                else {"name": "phone"}]} for i in range(25)]
    scenario = {"name": "many", "horizon": "60d", "start_date": "2026-03-01", "decrypt": "generations",
                "argon2": {"memory_kib": 64, "passes": 1}, "traffic": {"mail": {"every": "7d"}}, "users": users}
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(scenario))
    r = sim.run(path)
    lost_people = set(r.messages.loc[r.messages["status"] == "lost", "user"])
    assert lost_people == {f"u{i:02d}" for i in range(0, 25, 5)}
    monkeypatch.setattr(report, "ALL_STORIES", 10)
    p = Page(report.render_report(r))
    stories = p.attrs("details", **{"class": "person"})
    assert len(stories) == len(lost_people) and all("open" not in a for a in stories)
    text = "".join(p.all_text)
    assert "20 more people: nothing lost, recoverable or exposed" in text
    assert "day 10 (2026-03-11): phone lost" in text  # dates next to days
    lost = set(r.messages.loc[r.messages["status"] == "lost", "message_id"])
    explained = {i for a in p.attrs("details", **{"data-status": "lost"}) for i in " ".join(p.text[str(a["id"])]).split()}
    assert lost <= explained


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install -y chromium)")
def test_the_page_shows_in_a_headless_browser(tmp_path: Path) -> None:
    path = report.write_report(hostile_run(tmp_path), tmp_path / "report.html")
    args: list[Any] = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                       f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*args, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    p = Page(dom)
    assert set(SECTIONS) <= p.ids()
    assert p.count("svg") == 2 and not p.count("script")
    assert any(HOSTILE in t for t in p.all_text)
    shot = tmp_path / "shot.png"
    subprocess.run([*args, "--window-size=1200,1600", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # drawn: text and charts, not a blank page
