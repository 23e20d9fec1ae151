"""The report of one run: ``report.html``, one self-contained page (no script, no external
file: the charts are inline SVG) that tells what happened.

- **Summary**: the run's figures (README *Results*), its adversaries' windows.
- **Charts**: the timeline and the approval graphs (:func:`sim.plots.run_charts`).
- **Losses and exposures explained**: every lost, recoverable and exposed message,
  grouped by what they share (person, key generation, and the recovery route or the
  adversaries); each group lists its message ids, the facts of its generation and what
  ``dmesim explain`` says of its first message for the person's devices.
- **People**: each person's story in time order ("day 180: phone lost", "day 185: laptop
  approved phone#2 — phone#2 now reads from day 0"), with their devices. Collapsed
  (``<details>``) beyond :data:`OPEN_STORIES` people; beyond :data:`ALL_STORIES` people
  only those with a lost, recoverable or exposed message are told, the others listed.
- **Refused actions**: the events the protocol refused, with why.

:func:`report` writes the page of a run folder, :func:`write_report` of a
:class:`~sim.results.Result`, :func:`render_report` returns its HTML. The page is a
Jinja2 template (``sim/templates/report.html.j2``) rendered with autoescaping: names,
labels and details from the run are shown as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from . import results
from .model import EA_USER, PHYSICAL
from .results import Result, atomic_write

TEMPLATES = Path(__file__).with_name("templates")
OPEN_STORIES = 20  # up to this many people, every story is shown open
ALL_STORIES = 200  # beyond this many people, only the stories of people with a problem are told
MAX_EXPLAINED_DEVICES = 3  # devices ``explain`` is shown for, per group


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def _text(v: Any) -> str:
    return "" if _blank(v) else str(v)


def _split(cell: Any) -> list[str]:
    return [x for x in _text(cell).split(",") if x]


def _number(t: float) -> str:
    return f"{t:.1f}".rstrip("0").rstrip(".") if abs(t - round(t)) > 0.05 else f"{round(t)}"


class _Days:
    """Times as "day 180" (and the date, when the run has a start date)."""

    def __init__(self, start_date: Any) -> None:
        self.start = None if _blank(start_date) else dt.date.fromisoformat(str(start_date))

    def __call__(self, t: Any) -> str:
        if _blank(t):
            return "—"
        day = f"day {_number(float(t))}"
        return day if self.start is None else f"{day} ({(self.start + dt.timedelta(days=float(t))).isoformat()})"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------- the page's content


@dataclass
class Moment:
    """One sentence of a person's story."""

    time: float
    when: str
    text: str
    kind: str  # device, key, approval, gone, danger, loss, refused, other
    order: float = 0.0
    link: str | None = None  # an explanation's id
    link_text: str = ""


@dataclass
class Explained:
    """A group of messages that share a loss, a recovery route or an exposure."""

    anchor: str
    status: str  # lost, recoverable, exposed
    user: str
    person: str | None  # the person's story's id
    generation: int
    headline: str
    message_ids: list[str]
    facts: list[str] = field(default_factory=list)
    explains: list[dict[str, str]] = field(default_factory=list)
    adversaries: list[str] = field(default_factory=list)


@dataclass
class Person:
    name: str
    anchor: str
    counts: dict[str, int]
    devices: list[dict[str, str]]
    moments: list[Moment]
    trouble: bool
    open: bool = False


@dataclass
class _View:
    """The tables :func:`sim.results.explain` reads, cut down to one person."""

    messages: pd.DataFrame
    devices: pd.DataFrame
    generations: pd.DataFrame
    holders: pd.DataFrame
    summary: dict[str, Any]


KIND_WORDS = {"physical": "physical device", "backup": "backup key", "escrow": "escrow device",
              "ea": "escrow admins' device"}


class _Run:
    """A Result read for the report: tables per person, times formatted."""

    def __init__(self, result: Result) -> None:
        self.summary = result.summary
        self.day = _Days(self.summary.get("start_date"))
        self.messages = result.messages
        self.devices = result.devices
        self.events = result.events
        self.generations = result.generations
        self.holders = result.holders
        self.people = sorted(set(self.devices["user"]) | set(self.messages["user"]) | set(self.events["user"]))
        self.person_anchor = {p: f"person-{i}" for i, p in enumerate(self.people)}  # ids never hold names
        self._by = {name: {str(k): g for k, g in getattr(self, name).groupby("user", sort=False)}
                    for name in ("messages", "devices", "events", "generations", "holders")}
        self.windows = list(self.summary.get("adversaries") or [])

    def of(self, table: str, user: str) -> pd.DataFrame:
        df = self._by[table].get(user)
        return df if df is not None else getattr(self, table).iloc[0:0]

    def view(self, user: str, messages: pd.DataFrame) -> _View:
        return _View(messages, self.of("devices", user), self.of("generations", user), self.of("holders", user),
                     self.summary)

    def window(self, name: str) -> dict[str, Any] | None:
        return next((w for w in self.windows if w.get("adversary") == name), None)

    def window_text(self, w: dict[str, Any]) -> str:
        until = w.get("window_end")
        return (f"{w['adversary']} ({w.get('kind', 'adversary')}): keys from {self.day(w.get('since'))}, "
                f"reading new messages until {'the end of the run' if until is None else self.day(until)}; "
                f"holds generations {w.get('generations') or 'none'}")


# ---------------------------------------------------------------- explanations


def _explain_devices(run: _Run, user: str, msgs: pd.DataFrame) -> list[str]:
    """The devices whose view explains a group best: those that read it, else the physical
    devices still in the user's hands, else the last ones added (at most a few)."""
    readers = list(dict.fromkeys(d for cell in msgs["readable_by"] for d in _split(cell)))
    if readers:
        return readers[:1]
    devs = run.of("devices", user)
    physical = devs[devs["kind"] == PHYSICAL]
    in_hand = physical[physical["available"].astype(str) == "True"]
    chosen = (in_hand if len(in_hand) else physical.sort_values("added_at", kind="stable").tail(1) if len(physical)
              else devs.head(1))
    return list(chosen["device"])[:MAX_EXPLAINED_DEVICES]


def _holders_fact(run: _Run, user: str, g: int) -> str:
    hold = run.of("holders", user)
    hold = hold[hold["generation"] == g]
    parts = [f"{h['holder']} ({h['kind']}, boxed {run.day(h['boxed_at'])} by {h['boxed_by']}, "
             + (f"unavailable since {run.day(h['unavailable_at'])}: {_text(h['cause'])})"
                if not _blank(h["unavailable_at"]) else "available)")
             for _, h in hold.iterrows()]
    return f"Holders of generation {g}: {'; '.join(parts) or 'none'}."


def _explanations(run: _Run) -> list[Explained]:
    out: list[Explained] = []
    m = run.messages
    groups: list[tuple[str, pd.DataFrame, list[str]]] = []
    for status, rows, by in (("lost", m[m["status"] == "lost"], []),
                             ("recoverable", m[m["status"] == "recoverable"], ["recoverable_via"]),
                             ("exposed", m[m["exposed_to"].fillna("") != ""], ["exposed_to"])):
        for key, msgs in rows.groupby(["user", "generation", *by], sort=True):
            groups.append((status, msgs, [str(k) for k in key]))
    for i, (status, msgs, key) in enumerate(groups):
        user, g = key[0], int(key[1])
        ids = list(msgs["message_id"])
        gens = run.of("generations", user)
        gen = gens[gens["generation"] == g]
        n = _plural(len(ids), "message")
        facts = []
        if len(gen):
            r = gen.iloc[0]
            facts.append(f"Key generation {g} of {user} was created by {r['created_by']} on {run.day(r['created_at'])}; "
                         f"the messages below were sealed to it (sent {run.day(msgs['sent_at'].min())}"
                         + (f" to {run.day(msgs['sent_at'].max())})." if len(ids) > 1 else ")."))
        facts.append(_holders_fact(run, user, g))
        if status == "lost":
            when = gen.iloc[0]["lost_at"] if len(gen) else msgs["lost_at"].min()
            cause = _text(gen.iloc[0]["lost_cause"]) if len(gen) else _text(msgs["lost_cause"].iloc[0])
            headline = f"{user}: {n} of key generation {g} lost for good on {run.day(when)} ({cause})"
            facts.append(f"The last available holder of generation {g} vanished on {run.day(when)} ({cause}): "
                         "no device, backup key or escrow holds it any more, so every message sealed to it is "
                         "permanently lost.")
        elif status == "recoverable":
            headline = f"{user}: {n} of key generation {g} no device in hand reads; recoverable via {key[2]}"
            facts.append(f"No physical device in {user}'s hands holds generation {g}, but {key[2]} does: "
                         f"recovering {'it' if ',' not in key[2] else 'one of them'} onto a device restores these "
                         "messages.")
        else:
            names = key[2].split(",")
            headline = f"{user}: {n} of key generation {g} exposed to {', '.join(names)}"
            for name in names:
                w = run.window(name)
                facts.append(f"Adversary {run.window_text(w)}." if w is not None
                             else f"Adversary {name} decrypts them.")
        view = run.view(user, msgs.head(1))
        explains = [{"message": ids[0], "device": d, "text": results.explain(view, ids[0], d)}
                    for d in _explain_devices(run, user, msgs)]
        out.append(Explained(f"explained-{i}", status, user, run.person_anchor.get(user), g, headline,
                             ids, facts, explains, key[2].split(",") if status == "exposed" else []))
    return out


# ---------------------------------------------------------------- stories


def _reach(run: _Run, user: str, device: str, at: float) -> float | None:
    """How far back ``device``'s data access reached at time ``at``: the creation of the
    oldest generation boxed to it by then."""
    hold = run.of("holders", user)
    gens = hold.loc[(hold["holder"] == device) & (hold["boxed_at"] <= at + 1e-9), "generation"]
    if not len(gens):
        return None
    g = run.of("generations", user)
    created = g.loc[g["generation"].isin(set(gens)), "created_at"]
    return float(created.min()) if len(created) else None


# sentences of the events that need no more than their device, detail and generation
SENTENCES = {
    "generation": ("{dev} created key generation {gen}", "key"),
    "rotate": ("{dev} rotated the key", "key"),
    "lost": ("{dev} lost", "gone"),
    "stolen": ("{dev} stolen: a thief holds its keys", "danger"),
    "wiped": ("{dev} wiped (its keys erased)", "gone"),
    "decommissioned": ("{dev} decommissioned", "gone"),
    "paper_lost": ("the paper of backup key {dev} lost", "gone"),
    "server_device": ("the server added a device of its own, {dev}, to the chain", "danger"),
    "prompt_ignored": ("{dev}'s approval prompt went unanswered", "other"),
    "backup_recover": ("{dev} recovered with backup key {detail}", "approval"),
    "escrow_recover": ("{dev} recovered through escrow ({detail})", "approval"),
    "escrow_enable": ("escrow enabled by {dev}", "key"),
    "escrow_rekey": ("escrow device {dev} re-keyed ({detail})", "key"),
    "lockdown": ("lockdown mode turned on by {dev}", "key"),
    "mitm_fork": ("the server showed {dev} a forked chain: a man-in-the-middle ({detail})", "danger"),
    "mitm_detected": ("{dev} detected the man-in-the-middle ({detail})", "approval"),
    "mitm_approved": ("{dev} approved the man-in-the-middle's device: {detail}", "danger"),
}


def _event_sentence(run: _Run, user: str, e: pd.Series) -> tuple[str, str]:
    """(sentence, kind) of one event."""
    ev, dev, detail = str(e["event"]), _text(e["device"]), _text(e["detail"])
    t = float(e["time"])
    if ev in SENTENCES:
        text, kind = SENTENCES[ev]
        return text.format(dev=dev, detail=detail, gen=_text(e["generation"])), kind
    if ev == "device_add":
        return f"{dev} joined ({KIND_WORDS.get(detail, detail or 'device')})", "device"
    if ev == "device_add_and_approve":
        kind, _, by = detail.partition(" by ")
        reach = _reach(run, user, dev, t)
        tail = f" — it holds the generations from {run.day(reach)} on" if reach is not None else ""
        return f"{by or 'a device'} made {KIND_WORDS.get(kind, kind)} {dev}{tail}", "approval"
    if ev == "batch_approve":
        targets = _split(detail)
        reads = [f"{x} now reads from {run.day(r)}" for x in targets if (r := _reach(run, user, x, t)) is not None]
        return (f"{dev} approved {', '.join(targets) or '(no newer device to approve)'}"
                + (f" — {'; '.join(reads)}" if reads else ""), "approval")
    if ev == "revoke":
        tail = " — no new key generation until a device rotates the key" if detail.startswith("unsigned") else ""
        return f"{dev} revoked ({detail}){tail}", "key"
    if ev == "refused":
        return "refused: " + detail + (f" ({dev})" if dev else ""), "refused"
    return " ".join(x for x in (ev.replace("_", " "), dev, f"({detail})" if detail else "") if x), "other"


MERGES = {"device_add", "rotate", "revoke", "batch_approve"}  # a generation they create joins their sentence


def _story(run: _Run, user: str, explained: list[Explained]) -> list[Moment]:
    moments: list[Moment] = []
    prev_event = ""
    for _, e in run.of("events", user).iterrows():
        text, kind = _event_sentence(run, user, e)
        t = float(e["time"])
        if (e["event"] == "generation" and moments and prev_event in MERGES
                and abs(moments[-1].time - t) < 1e-9 and moments[-1].kind != "loss"):
            moments[-1].text += f" — new key generation {_text(e['generation'])}"
            continue
        prev_event = str(e["event"])
        moments.append(Moment(t, run.day(t), text, kind, float(e["seq"])))
    hold = run.of("holders", user)
    unreachable = hold[hold["cause"].fillna("").str.startswith("escrow unreachable")]
    for name, rows in unreachable.groupby("holder", sort=True):
        first = rows.sort_values("unavailable_at", kind="stable").iloc[0]
        moments.append(Moment(float(first["unavailable_at"]), run.day(first["unavailable_at"]),
                              f"escrow device {name} unreachable: the escrow admins' "
                              f"{str(first['cause']).removeprefix('escrow unreachable: ')} — escrow can no "
                              f"longer recover {user}'s data", "gone", math.inf))
    lost_groups = {x.generation: x for x in explained if x.user == user and x.status == "lost"}
    gens = run.of("generations", user)
    for _, g in gens[gens["lost_at"].notna()].iterrows():
        group = lost_groups.get(int(g["generation"]))
        n = len(group.message_ids) if group else 0
        text = (f"key generation {g['generation']} lost for good: its last available holder vanished "
                f"({_text(g['lost_cause'])})")
        text += f" — {_plural(n, 'message')} lost" if n else " — no message was sealed to it"
        moments.append(Moment(float(g["lost_at"]), run.day(g["lost_at"]), text, "loss", math.inf,
                              group.anchor if group else None, "why" if group else ""))
    exposed = run.of("messages", user)
    exposed = exposed[exposed["exposed_to"].fillna("") != ""]
    names = {n for cell in exposed["exposed_to"] for n in _split(cell)}
    for w in run.windows:
        name = w.get("adversary")
        if name not in names and w.get("user") != user:
            continue
        mine = sum(name in _split(cell) for cell in exposed["exposed_to"])
        group = next((x for x in explained if x.user == user and name in x.adversaries), None)
        until = w.get("window_end")
        text = (f"adversary {w.get('adversary')} ({w.get('kind', '')}) holds keys to {user}'s messages, reading "
                f"new ones until {'the end of the run' if until is None else run.day(until)}; it reads "
                f"{_plural(mine, 'message')} of {user}")
        since = float(w.get("since") or 0.0)
        moments.append(Moment(since, run.day(since), text, "danger", math.inf, group.anchor if group else None,
                              "how" if group else ""))
        if until is not None:
            moments.append(Moment(float(until), run.day(until),
                                  f"{w.get('adversary')}'s window closes: new messages are no longer exposed to it",
                                  "key", math.inf))
    moments.sort(key=lambda x: (x.time, x.order))
    return moments


def _people(run: _Run, explained: list[Explained]) -> tuple[list[Person], list[Person]]:
    """(people told in full, people only listed)."""
    told, listed = [], []
    trouble_users = {x.user for x in explained}
    many = len(run.people) > ALL_STORIES
    for p in run.people:
        msgs = run.of("messages", p)
        counts = {s: int((msgs["status"] == s).sum()) for s in ("readable", "recoverable", "lost")}
        counts["messages"] = len(msgs)
        counts["exposed"] = int((msgs["exposed_to"].fillna("") != "").sum())
        devices = [{"device": _text(d["device"]), "kind": _text(d["kind"]), "label": _text(d["label"]),
                    "added": run.day(d["added_at"]), "data_access": run.day(d["data_access"]),
                    "approved_by": _text(d["approved_by"]) or "nobody",
                    "gone": (f"{_text(d['lost_cause'])}, {run.day(d['lost_at'])}" if not _blank(d["lost_at"]) else ""),
                    "revoked": ("" if _blank(d["revoked_at"]) else
                                f"{run.day(d['revoked_at'])}"
                                + (" (signed)" if _text(d["revoked_signed"]) == "True" else " (unsigned)")),
                    "available": "yes" if _text(d["available"]) == "True" else "no"}
                   for _, d in run.of("devices", p).sort_values("added_at", kind="stable").iterrows()]
        trouble = p in trouble_users
        person = Person(p, run.person_anchor[p], counts, devices, [], trouble)
        if many and not trouble:
            listed.append(person)
            continue
        person.moments = _story(run, p, explained)
        person.open = len(run.people) <= OPEN_STORIES
        told.append(person)
    return told, listed


# ---------------------------------------------------------------- the page


def _summary_rows(run: _Run) -> list[tuple[str, str]]:
    s = run.summary
    n = s.get("messages", 0) or 0

    def share(k: str) -> str:
        v = s.get(k, 0) or 0
        return f"{v:,} ({v / n:.1%})" if n else f"{v:,}"

    rows = [("scenario", _text(s.get("scenario"))), ("seed / rep", f"{s.get('seed')} / {s.get('rep')}"),
            ("horizon", f"{_number(float(s.get('horizon') or 0))} days"),
            ("start date", _text(s.get("start_date")) or "none (times are simulated days)"),
            ("people", f"{len([p for p in run.people if p != EA_USER]):,}"),
            ("messages", f"{n:,}"), ("readable", share("readable")), ("recoverable", share("recoverable")),
            ("lost", share("lost")),
            ("first loss", "none" if _blank(s.get("first_loss_at")) else run.day(s.get("first_loss_at"))),
            ("key generations lost", f"{s.get('generations_lost', 0)}")]
    if s.get("ea_generations_lost"):
        rows.append(("escrow admins' generations lost", f"{s['ea_generations_lost']}"))
    rows.append(("exposed to adversaries", share("exposed")))
    if a := s.get("argon2"):
        rows.append(("Argon2id cost", f"{a.get('memory_kib')} KiB, {a.get('passes')} passes"))
    if s.get("decrypt"):
        rows.append(("decryption checked", "per message" if s["decrypt"] == "messages" else "per generation and app"))
    if s.get("ops"):
        rows.append(("crypto operations", ", ".join(f"{k} {v:,}" for k, v in s["ops"].items())))
    return rows


CAPTIONS = {"timeline": "Timeline: each person's devices, key generations, approvals, losses, thefts, revocations, "
                        "adversary windows and messages (the legend names every mark); for many people, the status "
                        "of their messages over time.",
            "approval_graph": "Approval graphs: an arrow from each approver to each device it approved, devices "
                              "placed at the day they joined."}


def _charts(result: Result, users: Sequence[str] | None,
            drawn: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The charts as inline SVG: those ``drawn`` already (name → SVG text), else drawn now."""
    if drawn is None:
        from . import plots

        drawn = {name: plots.svg(chart) for name, chart in plots.run_charts(result, users).items()}
    return [{"id": name, "caption": CAPTIONS.get(name, name), "svg": Markup(text)} for name, text in drawn.items()]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_report(result: Result, users: Sequence[str] | None = None,
                  charts: bool | Mapping[str, str] = True, source: str | Path | None = None) -> str:
    """The HTML of the report of ``result``. ``users``: draw the charts of these people only;
    ``charts``: False for none, or the charts drawn already as SVG text (name → text, as
    :func:`sim.plots.write_run_charts` fills its ``svgs``); ``source``: the run folder
    named in the page."""
    run = _Run(result)
    explained = _explanations(run)
    told, listed = _people(run, explained)
    refused = run.events[run.events["event"] == "refused"]
    try:
        dmesim = version("dmesim")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        dmesim = "unknown"
    return _environment().get_template("report.html.j2").render(
        title=f"dmesim report: {run.summary.get('scenario', 'run')}",
        source=str(source) if source is not None else "",
        version=dmesim,
        summary=_summary_rows(run),
        adversaries=[{"text": run.window_text(w), "messages": w.get("messages_exposed")} for w in run.windows],
        adversary_kinds=", ".join(f"{n:,} {kind}" for kind, n in
                                  Counter(str(w.get("kind", "adversary")) for w in run.windows).most_common()),
        charts=[] if charts is False else _charts(result, users, None if charts is True else charts),
        explained=explained,
        counts={s: sum(x.status == s for x in explained) for s in ("lost", "recoverable", "exposed")},
        told=told, listed=listed, people=len(run.people), all_stories=ALL_STORIES,
        refused=[{"when": run.day(e["time"]), "user": _text(e["user"]), "device": _text(e["device"]),
                  "detail": _text(e["detail"]), "anchor": run.person_anchor.get(_text(e["user"]))}
                 for _, e in refused.iterrows()],
    )


def write_report(result: Result, path: str | Path, users: Sequence[str] | None = None,
                 source: str | Path | None = None, charts: bool | Mapping[str, str] = True) -> Path:
    """Write the report of ``result`` to ``path`` (atomically) and return it (arguments as
    :func:`render_report`'s)."""
    path = Path(path)
    html = render_report(result, users=users, charts=charts, source=source)
    atomic_write(path, lambda p: Path(p).write_text(html, encoding="utf-8"))
    return path


def report(run_dir: str | Path, out: str | Path | None = None, users: Sequence[str] | None = None) -> Path:
    """Write ``report.html`` of the run saved in ``run_dir`` (or to ``out``) and return its
    path. :class:`~sim.results.FolderError` (one line) if the folder is damaged; KeyError
    for a user not in the run."""
    run_dir = Path(run_dir)
    return write_report(Result.read(run_dir), out or run_dir / "report.html", users=users, source=run_dir)
