"""The results of one replication (README, *Results*): its tables and summary, written
to a run folder and read back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from .explain import explain
from .files import FolderError, atomic_write, ends_a_line
from .tables import COLUMNS, NULLABLE_INT, TABLES, TEXT, TIMES

Rows = list[Any]  # a table's rows (NamedTuples or tuples in COLUMNS order) before pandas


class Result:
    """The tables of one replication (see the README's *Results* section) and its summary.

    Tables are kept as plain rows and become DataFrames when first asked for, so a sweep
    that needs only the summary pays nothing for pandas."""

    def __init__(self, tables: Mapping[str, Rows | pd.DataFrame], summary: dict[str, Any]) -> None:
        self._tables = dict(tables)
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
            if not ends_a_line(path):  # every table is written whole, ending its last row
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
        """Why ``device`` can or cannot read ``message_id``, as a chain of facts."""
        return explain(self, message_id, device)
