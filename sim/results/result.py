"""The results of one replication (README, *Results*): its tables and summary, written
to a run folder and read back.

A run folder holds each table as CSV (and Parquet) and ``summary.json``: the summary plus
``"files"``, the SHA-256 (64 lowercase hex digits) of every table file written, e.g.
``{"messages.csv": "9f86…", "messages.parquet": "…", …}``. summary.json cannot hold its
own checksum; its shape is checked instead. Reading a folder back checks every table's
cells, then the checksums; a folder written before checksums (no ``"files"``) is read with
the other checks only. ``"files"`` describes the folder, not the run: :attr:`Result.summary`
never holds it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from .explain import explain
from .files import SHA256, FolderError, atomic_write, check_sha256, ends_a_line, one_line
from .tables import COLUMNS, NULLABLE_INT, TABLES, TEXT, TIMES

Rows = list[Any]  # a table's rows (NamedTuples or tuples in COLUMNS order) before pandas
Columns = Callable[[], dict[str, Any]]  # or what makes its columns (name → values), when asked
FILES = "files"  # summary.json's key of the table files' checksums (on disk only)


class Result:
    """The tables of one replication (see the README's *Results* section) and its summary.

    Tables are kept as plain rows (or what makes their columns) and become DataFrames when
    first asked for, so a sweep that needs only the summary pays nothing for them."""

    def __init__(self, tables: Mapping[str, Rows | Columns | pd.DataFrame], summary: dict[str, Any]) -> None:
        self._tables = dict(tables)
        self.summary = summary

    def table(self, name: str) -> pd.DataFrame:
        t = self._tables[name]
        if not isinstance(t, pd.DataFrame):
            t = pd.DataFrame(t() if callable(t) else t, columns=COLUMNS[name])
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
        """Write every table as CSV (and Parquet), then ``summary.json`` with the tables'
        SHA-256 checksums under ``"files"``, each file atomically."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, df in self.tables().items():
            files[f"{name}.csv"] = atomic_write(out / f"{name}.csv", partial(df.to_csv, index=False))
            if parquet:
                files[f"{name}.parquet"] = atomic_write(out / f"{name}.parquet",
                                                        partial(df.to_parquet, index=False))
        summary = {k: v for k, v in self.summary.items() if k != FILES} | {FILES: files}
        atomic_write(out / "summary.json",
                     lambda p: Path(p).write_text(json.dumps(summary, indent=2, default=str)))

    @classmethod
    def read(cls, run_dir: str | Path) -> Result:
        """The result written to ``run_dir`` by :meth:`write`; :class:`FolderError`, one
        line naming the file, if a file is damaged: summary.json not of a summary's shape,
        a table truncated, lacking columns or holding a malformed cell, the tables
        disagreeing with each other or the summary, a file not matching its checksum."""
        run_dir = Path(run_dir)
        summary = _read_summary(run_dir / "summary.json")
        tables: dict[str, pd.DataFrame] = {}
        for name, cols in COLUMNS.items():
            path = run_dir / f"{name}.csv"
            if not ends_a_line(path):  # every table is written whole, ending its last row
                raise FolderError(f"{path}: truncated (its last row is cut off)")
            try:  # every cell as text first: a malformed one is named, not guessed at
                df = pd.read_csv(path, dtype=str, keep_default_na=False)
            except ValueError as exc:  # empty, truncated, not text, ragged rows
                raise FolderError(f"{path}: not a readable {name} table ({one_line(exc)})") from None
            if missing := [c for c in cols if c not in df.columns]:
                raise FolderError(f"{path}: not a {name} table (no column {', '.join(missing)})")
            tables[name] = _typed(path, name, df[cols])
        messages, generations = tables["messages"], tables["generations"]
        if len(messages) != summary["messages"]:
            raise FolderError(f"{run_dir / 'messages.csv'}: {len(messages)} messages, "
                              f"where summary.json counts {summary['messages']}")
        known = set(zip(generations["user"], generations["generation"], strict=True))
        for i, (user, g) in enumerate(zip(messages["user"], messages["generation"], strict=True)):
            if (user, g) not in known:
                raise FolderError(f"{run_dir / 'messages.csv'}: line {i + 2}: generation {g} of "
                                  f"{user} has no row in generations.csv")
        for file, digest in summary.get(FILES, {}).items():
            path = run_dir / file
            if not path.exists():
                raise FolderError(f"{path}: missing (summary.json records its checksum)")
            check_sha256(path, digest, "summary.json")
        # summary.json holds no checksum of itself: its counts must agree with the tables
        held = {"readable": (messages["status"] == "readable").sum(),
                "recoverable": (messages["status"] == "recoverable").sum(),
                "lost": ((messages["status"] == "lost") & messages["lost_at"].notna()).sum(),
                "exposed": (messages["exposed_to"] != "").sum()}
        for key, n in held.items():
            if key in summary and summary[key] != n:
                raise FolderError(f"{run_dir / 'summary.json'}: {key} is {summary[key]}, where "
                                  f"messages.csv holds {n} {key} messages")
        return cls(tables, {k: v for k, v in summary.items() if k != FILES})

    def explain(self, message_id: str, device: str) -> str:
        """Why ``device`` can or cannot read ``message_id``, as a chain of facts."""
        return explain(self, message_id, device)


# ---------------------------------------------------------------- reading a run folder back

# Times that may be empty (not yet happened); every other time is a number.
OPTIONAL_TIMES = {"lost_at", "revoked_at", "unavailable_at"}
INTEGERS = {"generation", "seq"}  # events' generation may be empty (NULLABLE_INT)
BOOLEANS = {"available": False, "revoked_signed": True}  # column → may be empty
INTEGER_LISTS = {"generations"}  # devices: the generations boxed to it, "1,2,3"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?inf")
_INTEGER = re.compile(r"[+-]?\d{1,18}")  # int64, with room to spare
_INTEGER_LIST = re.compile(r"(\d{1,18}(,\d{1,18})*)?")
_BOOLEAN = re.compile("True|False")


def _cells(path: Path, col: str, s: pd.Series, what: str, pattern: re.Pattern[str], empty: bool,
           convert: Callable[[str], Any]) -> list[Any]:
    """The cells of column ``col`` converted; :class:`FolderError` naming the first that
    does not match ``pattern`` (nor is empty, where ``empty``): it is not ``what``."""
    out = []
    for i, v in enumerate(s):
        if not (pattern.fullmatch(v) or (empty and v == "")):
            raise FolderError(f"{path}: line {i + 2}, column {col}: {v!r} is not {what}")
        out.append(convert(v))
    return out


def _typed(path: Path, name: str, df: pd.DataFrame) -> pd.DataFrame:
    """A table read as text, each column of the type :meth:`Result.table` gives it."""
    out = {}
    for col in df.columns:
        s = df[col]
        if col in INTEGER_LISTS:
            out[col] = pd.Series(_cells(path, col, s, "a list of generations (integers and commas)",
                                        _INTEGER_LIST, True, str), dtype=s.dtype)
        elif col in TEXT:
            out[col] = s
        elif col in TIMES:
            out[col] = pd.Series(_cells(path, col, s, "a time (a number of days)", _NUMBER,
                                        col in OPTIONAL_TIMES, lambda v: float(v) if v else math.nan),
                                 dtype="float64")
        elif col in INTEGERS:
            empty = col in NULLABLE_INT.get(name, ())
            out[col] = pd.Series(_cells(path, col, s, "an integer", _INTEGER, empty,
                                        lambda v: int(v) if v else None),
                                 dtype="Int64" if empty else "int64")
        elif col in BOOLEANS:
            out[col] = pd.Series(_cells(path, col, s, "True or False", _BOOLEAN, BOOLEANS[col],
                                        lambda v: None if v == "" else v == "True"),
                                 dtype=object if BOOLEANS[col] else bool)
        else:  # pragma: no cover - a column the tables gained without a type here
            raise TypeError(f"{name}.{col}: no type to read it as")
    return pd.DataFrame(out, index=df.index)


def _kind(value: Any) -> str:
    """A JSON value's kind, as a message names it."""
    for t, kind in ((bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string"),
                    (list, "a list"), (dict, "an object")):
        if isinstance(value, t):
            return kind
    return "null"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# what explaining reads of each adversary's window: key → (accepts, what it must be)
_WINDOW = {"adversary": (lambda v: isinstance(v, str), "a string"),
           "kind": (lambda v: isinstance(v, str), "a string"),
           "since": (lambda v: v is None or _is_number(v), "a time or null"),
           "window_end": (lambda v: v is None or _is_number(v), "a time or null"),
           "generations": (lambda v: isinstance(v, str), "a string")}
_FILE_NAMES = {f"{t}.{ext}" for t in TABLES for ext in ("csv", "parquet")}


def _summary_problem(s: Any) -> str | None:
    """What makes ``s`` no run summary that reading relies on, or None: an object with a
    ``messages`` count, ``adversaries`` (if any) as explaining reads them, ``files`` (if
    any) a checksum of every CSV table and only of table files."""
    if not isinstance(s, dict):
        return f"a JSON object is expected, found {_kind(s)}"
    if "messages" not in s:
        return "no messages count"
    for key in ("messages", "readable", "recoverable", "lost", "exposed"):
        if key in s and (type(s[key]) is not int or s[key] < 0):
            return f"{key} is {_kind(s[key])} ({s[key]!r}), not a count"
    windows = s.get("adversaries", [])
    if not isinstance(windows, list):
        return f"adversaries is {_kind(windows)}, not a list"
    for i, w in enumerate(windows):
        if not isinstance(w, dict):
            return f"adversaries[{i}] is {_kind(w)}, not an object"
        for key, (accepts, what) in _WINDOW.items():
            if key not in w:
                return f"adversaries[{i}] has no {key}"
            if not accepts(w[key]):
                return f"adversaries[{i}].{key} is {_kind(w[key])}, not {what}"
    if FILES not in s:
        return None  # written before checksums: accepted, unchecked
    files = s[FILES]
    if not isinstance(files, dict):
        return f"{FILES} is {_kind(files)}, not an object of checksums"
    for file, digest in files.items():
        if file not in _FILE_NAMES:
            return f"{FILES} names {file!r}, not a table file"
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            return f"{FILES}[{file!r}] is not a SHA-256 (64 lowercase hex digits)"
    if missing := [f"{t}.csv" for t in TABLES if f"{t}.csv" not in files]:
        return f"{FILES} has no checksum of {', '.join(missing)}"
    return None


def _read_summary(path: Path) -> dict[str, Any]:
    """summary.json, checked to have the shape reading relies on."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8
        raise FolderError(f"{path}: not readable JSON ({one_line(exc)})") from None
    if (problem := _summary_problem(summary)) is not None:
        raise FolderError(f"{path}: not a run summary ({problem})")
    return summary
