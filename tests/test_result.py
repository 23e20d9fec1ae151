"""sim.results.result and sim.results.files: run folders written atomically and read back."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sim
from helpers import HELP, SCENARIOS, invoke
from sim.results import Result, atomic_write


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda d: (d / "messages.csv").write_text(""), "messages.csv: not a readable messages table"),
    (lambda d: (d / "summary.json").write_text("{"), "summary.json: not readable JSON"),
    (lambda d: (d / "messages.csv").write_text("message_id,user\nm1,alice\n"),
     "messages.csv: not a messages table (no column sender, app"),
    (lambda d: (d / "devices.csv").write_bytes((d / "devices.csv").read_bytes()[:-5]),
     "devices.csv: truncated (its last row is cut off)"),
    (lambda d: (d / "messages.csv").write_text("\n".join((d / "messages.csv").read_text().splitlines()[:3]) + "\n"),
     "messages.csv: 2 messages, where summary.json counts 5"),
])
def test_explain_on_a_damaged_run_folder_says_which_file(tmp_path: Path, damage: Any, problem: str) -> None:
    invoke("run", str(SCENARIOS / "help_article.yaml"), "--out", str(tmp_path), "--no-charts")
    damage(tmp_path)
    code, out, err = invoke("explain", str(tmp_path), "--message", "m1", "--device", "phone")
    assert code == 2 and not out and err.startswith(f"dmesim: {tmp_path}/{problem}"), err
    assert len(err.strip().splitlines()) == 1


def test_event_generations_are_integers_in_csv_parquet_and_read_back(tmp_path: Path) -> None:
    assert invoke("run", HELP, "--out", str(tmp_path), "--no-charts")[0] == 0
    lines = (tmp_path / "events.csv").read_text().splitlines()
    assert lines[0].endswith(",generation")
    cells = [line.rsplit(",", 1)[1] for line in lines[1:]]
    assert all(c == "" or c.isdigit() for c in cells), cells
    assert "" in cells and "1" in cells and "1.0" not in cells
    in_memory = sim.run(HELP).events
    assert str(in_memory["generation"].dtype) == "Int64"
    pq = pd.read_parquet(tmp_path / "events.parquet")
    pd.testing.assert_frame_equal(pq, in_memory)
    pd.testing.assert_frame_equal(Result.read(tmp_path).events, in_memory)


def test_times_are_numbers_even_when_nothing_is_lost(tmp_path: Path) -> None:
    """household loses nothing: its lost_at columns are empty floats, as read back."""
    r = sim.run(SCENARIOS / "household.yaml")
    assert r.summary["lost"] == 0
    r.write(tmp_path, parquet=False)
    back = Result.read(tmp_path)
    for name in ("messages", "generations"):
        assert str(r.table(name)["lost_at"].dtype) == "float64"
        pd.testing.assert_frame_equal(back.table(name), r.table(name))


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_writes_give_files_the_mode_of_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        atomic_write(tmp_path / "a.txt", lambda p: Path(p).write_text("a"))

        def replace(p: str) -> None:  # a writer that makes a new file under the name
            os.unlink(p)
            Path(p).write_text("b")

        atomic_write(tmp_path / "b.txt", replace)
    finally:
        os.umask(old)
    for name in ("a.txt", "b.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name


def test_run_and_sweep_outputs_are_readable_by_the_group(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert invoke("run", HELP, "--out", str(tmp_path / "run"))[0] == 0
        sim.sweep(HELP, reps=1, out=tmp_path / "sweep", traces=True)
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 15
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}
