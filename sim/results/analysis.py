"""Reading the record of a replication: holders, loss times, who can read what.

A message is *readable* when a physical device still in the user's hands
decrypts it (a real HPKE open), *recoverable* when no such device can but an
available backup key or escrow device holds its generation, and *lost* from the
first time no available holder of its generation remains (PROTOCOL §7).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..model import EA_USER, ESCROW, PHYSICAL, Account, User

if TYPE_CHECKING:
    from ..behaviour.simulation import Simulation

COLUMNS = {
    "messages": ["message_id", "user", "sender", "app", "sent_at", "generation", "readable_by",
                 "status", "lost_at", "lost_cause", "recoverable_via", "exposed_to"],
    "devices": ["user", "device", "kind", "label", "added_at", "data_access", "approved_by",
                "revoked_at", "revoked_signed", "lost_at", "lost_cause", "available", "generations"],
    "events": ["time", "seq", "user", "event", "device", "detail", "generation"],
    "holders": ["user", "generation", "holder", "kind", "boxed_at", "boxed_by", "unavailable_at",
                "cause"],
    "generations": ["user", "generation", "created_by", "created_at", "lost_at", "lost_cause"],
}
TABLES = tuple(COLUMNS)
# Columns of text ("" when empty); the others are numbers, booleans or times (empty = missing).
TEXT = {"message_id", "user", "sender", "app", "readable_by", "status", "lost_cause", "recoverable_via",
        "exposed_to", "device", "kind", "label", "approved_by", "generations", "event", "detail",
        "holder", "boxed_by", "cause", "created_by"}
# Integer columns that may be empty: pandas' nullable Int64, so that CSV shows 3, not 3.0.
NULLABLE_INT = {"events": ["generation"]}
# Times: numbers, empty = NaN (a float column even when a run loses nothing).
TIMES = {"sent_at", "lost_at", "added_at", "data_access", "revoked_at", "time", "boxed_at",
         "unavailable_at", "created_at"}
Rows = list[dict[str, Any]] | list[tuple[Any, ...]]  # dicts, or tuples in COLUMNS order


class FolderError(ValueError):
    """A run or sweep folder whose files are damaged; ``str()`` names the file."""


class Result:
    """The tables of one replication (see the README's *Results* section) and its summary.

    Tables are kept as plain rows and become DataFrames when first asked for, so a sweep
    that needs only the summary pays nothing for pandas."""

    def __init__(self, tables: dict[str, Rows | pd.DataFrame], summary: dict[str, Any]) -> None:
        self._tables = tables
        self.summary = summary

    def table(self, name: str) -> pd.DataFrame:
        t = self._tables[name]
        if not isinstance(t, pd.DataFrame):
            t = pd.DataFrame(t, columns=COLUMNS[name])
            t = t.astype({c: "float64" for c in COLUMNS[name] if c in TIMES}
                         | dict.fromkeys(NULLABLE_INT.get(name, ()), "Int64"))
            self._tables[name] = t
        return t

    messages = property(lambda self: self.table("messages"))
    devices = property(lambda self: self.table("devices"))
    events = property(lambda self: self.table("events"))
    holders = property(lambda self: self.table("holders"))
    generations = property(lambda self: self.table("generations"))

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: self.table(name) for name in TABLES}

    def write(self, out: str | Path, parquet: bool = True) -> None:
        """Write every table as CSV (and Parquet) plus ``summary.json``, each atomically."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables().items():
            atomic_write(out / f"{name}.csv", partial(df.to_csv, index=False))
            if parquet:
                atomic_write(out / f"{name}.parquet", partial(df.to_parquet, index=False))
        atomic_write(out / "summary.json",
                     lambda p: Path(p).write_text(json.dumps(self.summary, indent=2, default=str)))

    @classmethod
    def read(cls, run_dir: str | Path) -> Result:
        """The result written to ``run_dir`` by :meth:`write`; :class:`FolderError` if a
        file is damaged or lacks columns."""
        run_dir = Path(run_dir)
        path = run_dir / "summary.json"
        try:
            summary = json.loads(path.read_text())
        except ValueError as exc:
            raise FolderError(f"{path}: not readable JSON ({exc})") from None
        tables: dict[str, Rows | pd.DataFrame] = {}
        for name, cols in COLUMNS.items():
            path = run_dir / f"{name}.csv"
            if not _ends_a_line(path):  # every table is written whole, ending its last row
                raise FolderError(f"{path}: truncated (its last row is cut off)")
            try:
                df = pd.read_csv(path, keep_default_na=False,
                                 dtype={c: str if c in TEXT else "Int64"
                                        for c in cols if c in TEXT or c in NULLABLE_INT.get(name, ())},
                                 na_values={c: [""] for c in cols if c not in TEXT})
            except ValueError as exc:  # empty, truncated, or values of the wrong type
                raise FolderError(f"{path}: not a readable {name} table ({exc})") from None
            if missing := [c for c in cols if c not in df.columns]:
                raise FolderError(f"{path}: not a {name} table (no column {', '.join(missing)})")
            tables[name] = df
        messages = summary.get("messages") if isinstance(summary, dict) else None
        if isinstance(messages, int) and len(tables["messages"]) != messages:
            raise FolderError(f"{run_dir / 'messages.csv'}: {len(tables['messages'])} messages, "
                              f"where summary.json counts {messages}")
        return cls(tables, summary)

    def explain(self, message_id: str, device: str) -> str:
        return explain(self, message_id, device)


def _ends_a_line(path: Path) -> bool:
    """Does the file end with a line break (or not exist, which pandas reports)?"""
    try:
        with path.open("rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return True  # empty: pandas names it unreadable
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"
    except FileNotFoundError:
        return True


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``.

    The file gets the mode a plain ``open()`` would give it (``0o666 & ~umask``), not the
    0600 of a temporary file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # the writer may have replaced the file: chmod by name
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- availability and loss


class Losses:
    """When each holder stopped being available, and when each generation was lost."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._gen: dict[tuple[str, int], tuple[float | None, str]] = {}

    def _user(self, user_id: str) -> User:
        return self.account.ea if user_id == EA_USER else self.account.users[user_id]  # type: ignore[return-value]

    def holder_gone(self, user_id: str, name: str) -> tuple[float | None, str]:
        """(time the holder stopped being available, why); (None, "") if still available."""
        d = self._user(user_id).devices[name]
        when, why = d.gone_at, f"{name} {d.gone_cause}" if d.gone_at is not None else ""
        if d.kind == ESCROW and d.escrow_blob is not None:
            ea_lost, ea_why = self.generation_lost(EA_USER, d.escrow_blob.ea_generation)
            if ea_lost is not None and (when is None or ea_lost < when):
                when, why = ea_lost, f"escrow unreachable: EA generation {d.escrow_blob.ea_generation} lost ({ea_why})"
        return when, why

    def generation_lost(self, user_id: str, g: int) -> tuple[float | None, str]:
        """Time the last available holder of generation ``g`` vanished, and the cause."""
        key = (user_id, g)
        if key not in self._gen:
            u = self._user(user_id)
            last: tuple[float | None, str] = (float("-inf"), "")
            for h in u.holders(g):
                when, why = self.holder_gone(user_id, h)
                if when is None:
                    last = (None, "")
                    break
                when = max(when, u.boxes[(g, h)].created_at)
                if last[0] is not None and when >= last[0]:
                    last = (when, why)
            self._gen[key] = last if last[0] != float("-inf") else (None, "")
        return self._gen[key]


# ---------------------------------------------------------------- building the tables


def _join(names: list[str]) -> str:
    return ",".join(names)


def build_result(sim: Simulation) -> Result:
    acc = sim.account
    losses = Losses(acc)
    users = list(acc.users.values()) + ([acc.ea] if acc.ea is not None else [])

    # the devices that may read a user's messages: physical, in the user's hands, with keys
    may_read = {u.id: [d for d in u.devices.values()
                       if d.kind == PHYSICAL and u.in_hand(d.name) and d.keys is not None]
                for u in acc.users.values()}
    # the messages of one generation share their readers, holders and loss: they are
    # decided once per generation, and its messages opened together (with its keys warm)
    by_generation: dict[tuple[str, int], list[int]] = {}
    for i, m in enumerate(sim.sealed):
        by_generation.setdefault((m.user, m.generation), []).append(i)
    # each message's readable_by, status, lost_at, lost_cause and recoverable_via
    outcomes: list[tuple[str, str, float | None, str, str]] = [("", "", None, "", "")] * len(sim.sealed)
    verified: dict[str, bytes] = {}  # message id → the seed that really decrypted it
    for (user, g), indices in by_generation.items():
        u = acc.users[user]
        readers = [d for d in may_read[user] if u.knows_generation(d.name, g)]
        lost_at, cause = losses.generation_lost(user, g)
        via = _join([h for h in u.holders(g) if u.devices[h].kind != PHYSICAL and acc.available(user, h)])
        opener, same = None, ""
        if readers:
            same = _join([d.name for d in readers if d.known[g] == readers[0].known[g]])
            # the messages are opened by a reader that derived the generation's keys already
            # (its creator, most often), or else by the first
            opener = next((d for d in readers if g in d.derived), readers[0])
            keys = u.generation_keys(g, opener.name)
        for i in indices:
            m = sim.sealed[i]
            # one real decryption per message, with the keys its reader derived from the
            # seed it opened from its box
            if opener is not None and u.open(m, keys) == m.message_id.encode():
                verified[m.message_id] = opener.known[g]
                outcomes[i] = (same, "readable", None, "", "")
            elif lost_at is not None:
                outcomes[i] = ("", "lost", max(lost_at, m.sent_at), cause, "")
            else:
                outcomes[i] = ("", "recoverable", None, "", via)
    exposed, windows = sim.adversaries.exposure(sim.sealed, verified)
    exposed_to = {message_id: _join(names) for message_id, names in exposed.items()}
    messages = [(m.message_id, m.user, sender, m.app, m.sent_at, m.generation, *outcome,
                 exposed_to.get(m.message_id, ""))
                for m, sender, outcome in zip(sim.sealed, sim.senders, outcomes, strict=True)]

    devices, holders, generations = [], [], []
    for u in users:
        access = u.data_access_of_all()
        for d in u.devices.values():
            devices.append((
                u.id, d.name, d.kind, sim.labels.get((u.id, d.name), d.kind), d.added_at, access[d.name],
                _join(u.approved_by(d.name)), d.revoked_at, d.revoked_signed if d.revoked else None,
                d.gone_at, d.gone_cause or "", acc.available(u.id, d.name),
                _join([str(g) for g in sorted(u.boxed(d.name))]),
            ))
        for (g, h), box in sorted(u.boxes.items()):
            holders.append((u.id, g, h, u.devices[h].kind, box.created_at, box.sender,
                            *losses.holder_gone(u.id, h)))
        for gen in u.generations:
            generations.append((u.id, gen.number, gen.created_by, gen.created_at,
                                *losses.generation_lost(u.id, gen.number)))

    # the log is appended in simulated-time order, so it is already ordered by (time, seq)
    tables: dict[str, Rows | pd.DataFrame] = {
        "messages": messages, "devices": devices, "events": acc.log.rows, "holders": holders,
        "generations": generations}
    return Result(tables, summarise(messages, generations, sim) | {"adversaries": windows})


# where summarise finds what it counts in a row of the messages and generations tables
STATUS, LOST_AT, EXPOSED_TO = (COLUMNS["messages"].index(c) for c in ("status", "lost_at", "exposed_to"))
GEN_USER, GEN_LOST_AT = (COLUMNS["generations"].index(c) for c in ("user", "lost_at"))


def summarise(messages: list[tuple[Any, ...]], generations: list[tuple[Any, ...]], sim: Simulation) -> dict[str, Any]:
    n = len(messages)
    status = [m[STATUS] for m in messages]
    lost_at = [m[LOST_AT] for m in messages if m[STATUS] == "lost"]
    exposed = len([m for m in messages if m[EXPOSED_TO]])
    lost_gens = [g[GEN_USER] for g in generations if g[GEN_LOST_AT] is not None]  # each lost one's user
    s = sim.scenario
    return {
        "scenario": s.name, "seed": sim.seed, "rep": sim.rep, "horizon": s.horizon,
        "start_date": s.start_date.isoformat() if s.start_date else None,
        "post_quantum": s.post_quantum,
        "argon2": {"memory_kib": s.argon2.memory_kib, "passes": s.argon2.passes, "lanes": s.argon2.lanes},
        "messages": n,
        "readable": status.count("readable"),
        "recoverable": status.count("recoverable"),
        "lost": len(lost_at),
        "fraction_lost": len(lost_at) / n if n else 0.0,
        "any_loss": bool(lost_at),
        "first_loss_at": float(min(lost_at)) if lost_at else None,
        "generations_lost": len(lost_gens) - lost_gens.count(EA_USER),
        "ea_generations_lost": lost_gens.count(EA_USER),
        "exposed": exposed,
        "fraction_exposed": exposed / n if n else 0.0,
        "ops": dict(sorted(sim.account.crypto.ops.items())),
        "simpy_events": sim.env.processed,
    }


# ---------------------------------------------------------------- explain


def _fmt(t: Any) -> str:
    return "—" if t is None or pd.isna(t) else f"day {float(t):g}"


def explain(r: Result, message_id: str, device: str) -> str:
    """Why ``device`` can or cannot read ``message_id``, as a chain of facts."""
    msgs = r.messages[r.messages["message_id"] == message_id]
    if msgs.empty:
        raise KeyError(f"no message {message_id!r}")
    m = msgs.iloc[0]
    user, g = m["user"], int(m["generation"])
    devs = r.devices[(r.devices["user"] == user) & (r.devices["device"] == device)]
    if devs.empty:
        raise KeyError(f"{user} has no device {device!r}")
    d = devs.iloc[0]
    readers = [x for x in str(m["readable_by"] or "").split(",") if x]
    gen = r.generations[(r.generations["user"] == user) & (r.generations["generation"] == g)].iloc[0]
    hold = r.holders[(r.holders["user"] == user) & (r.holders["generation"] == g)]
    lines = [
        f"Message {message_id} ({m['app']} for {user}, sent {_fmt(m['sent_at'])}) is sealed to "
        f"generation {g}, created by {gen['created_by']} on {_fmt(gen['created_at'])}.",
        f"Status: {m['status']}.",
    ]
    boxed = [int(x) for x in str(d["generations"] or "").split(",") if x]
    lines.append(f"{device} ({d['kind']}, added {_fmt(d['added_at'])}, data access from "
                 f"{_fmt(d['data_access'])}, approved by {d['approved_by'] or 'nobody'}) "
                 f"{'holds a' if g in boxed else 'holds no'} box for generation {g}.")
    if g not in boxed and g < min(boxed or [g + 1]):
        lines.append(f"Generation {g} predates {device}: only an approval by an older device of its "
                     f"class, a backup key or escrow could box it to {device}.")
    if pd.notna(d["revoked_at"]):
        lines.append(f"{device} was revoked on {_fmt(d['revoked_at'])}.")
    if d["lost_cause"] == "server_device":
        lines.append(f"{device} was added by the server: it was never in the user's hands.")
    elif d["lost_cause"] and d["lost_cause"] != "revoked":  # a revocation is told above
        lines.append(f"{device} left the user's hands on {_fmt(d['lost_at'])} ({d['lost_cause']}).")
    lines.append("Holders of generation {}: {}.".format(g, "; ".join(
        f"{h['holder']} ({h['kind']}, boxed {_fmt(h['boxed_at'])} by {h['boxed_by']}, "
        + (f"unavailable since {_fmt(h['unavailable_at'])}: {h['cause']})"
           if pd.notna(h["unavailable_at"]) else "available)")
        for _, h in hold.iterrows()) or "none"))
    if device in readers:
        lines.append(f"{device} decrypts it: it opened its box for generation {g} and the message "
                     "opened with that generation's key.")
    elif d["kind"] != PHYSICAL:
        lines.append(f"{device} is a {d['kind']} key, not a device that reads: "
                     + (f"a device it is recovered onto is given generation {g}." if g in boxed
                        else "recovering it gives no key to this message."))
    else:
        lines.append(f"{device} cannot decrypt it.")
    if m["exposed_to"]:
        for name in str(m["exposed_to"]).split(","):
            w = next((w for w in r.summary.get("adversaries", []) if w["adversary"] == name), None)
            window = "" if w is None else (
                f" (keys compromised {_fmt(w['since'])}, reading new data until "
                f"{_fmt(w['window_end']) if w['window_end'] is not None else 'the end of the run'}; "
                f"holds generations {w['generations']})")
            if w is not None and w["kind"] == "ea_compromise":
                lines.append(f"Exposed to {name}: it opens {user}'s escrow blob with the EA generation it "
                             f"holds, then the escrow device's box for generation {g} with the keys in the "
                             f"blob, and decrypts the message{window}.")
            else:
                lines.append(f"Exposed to {name}: it decrypts the message with generation {g} opened from a "
                             f"box sealed to its keys{window}.")
    else:
        lines.append("No adversary key decrypts it.")
    if m["status"] == "lost":
        lines.append(f"The last available holder vanished on {_fmt(m['lost_at'])} ({m['lost_cause']}): "
                     "the message is permanently lost.")
    elif m["status"] == "recoverable":
        lines.append(f"Recoverable via {m['recoverable_via']}.")
    return "\n".join(lines)
