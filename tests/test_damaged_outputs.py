"""Damaged run and sweep folders (issue 24, item 3).

Every damage gives one line naming the file and the problem, exit status 2, no traceback,
and removes nothing: a flipped byte (checksum mismatch), a truncated or corrupted Parquet
file, a malformed cell, a summary.json or manifest of the wrong shape, a missing checksum.
Each test damages a copy of a real folder made once per module (help_article, 2 reps).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import sim
from helpers import SCENARIOS
from sim.cli import main
from sim.results import FolderError, Result
from sim.sweeps import SweepError, read_sweep, read_traces

HELP = str(SCENARIOS / "help_article.yaml")
TABLES = ("messages", "devices", "events", "holders", "generations")
SHARD = "p00000-r0000000-0000000.parquet"  # rep 0's batch (--batch-size 1): shard and trace


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fails_in_one_line(args: list[str], folder: Path, problem: str) -> str:
    """Run ``dmesim ARGS``: one line ``dmesim: …problem…`` on stderr, exit status 2, no
    traceback, and every file of ``folder`` as it was."""
    before = files(folder)
    code, out, err = cli(*args)
    assert code == 2, (code, out, err)
    assert err.startswith("dmesim: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert problem in err, err
    assert "Traceback" not in out + err
    assert files(folder) == before  # nothing removed, nothing changed
    return err


def flip(path: Path, word: bytes) -> None:
    """Flip the low bit of the last byte of the first ``word`` in the file: one flipped
    byte that still parses (a CSV cell, a Parquet value) but changes the data."""
    b = bytearray(path.read_bytes())
    i = b.index(word) + len(word) - 1
    b[i] ^= 0x01
    path.write_bytes(bytes(b))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV table (``row`` 0 is the first after the header)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows[row + 1][rows[0].index(column)] = value
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def edit_json(path: Path, change: Callable[[Any], object]) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


# ---------------------------------------------------------------- folders made once


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert cli("run", HELP, "--out", str(out), "--no-charts")[0] == 0
    return out


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "s"
    code, stdout, err = cli("sweep", HELP, "--reps", "2", "--traces", "--batch-size", "1",
                            "--out", str(out), "--no-charts", "--no-progress")
    assert code == 0, stdout + err
    return out


@pytest.fixture
def run_dir(run_folder: Path, tmp_path: Path) -> Path:
    shutil.copytree(run_folder, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def sweep_dir(sweep_folder: Path, tmp_path: Path) -> Path:
    shutil.copytree(sweep_folder, tmp_path / "s")
    return tmp_path / "s"


def explain(run_dir: Path) -> list[str]:
    return ["explain", str(run_dir), "--message", "m1", "--device", "phone"]


def resume(sweep_dir: Path) -> list[str]:
    return ["sweep", HELP, "--reps", "2", "--traces", "--out", str(sweep_dir), "--resume",
            "--no-charts", "--no-progress"]


def plot(sweep_dir: Path) -> list[str]:
    return ["plot", str(sweep_dir), "--out", str(sweep_dir.parent / "risk.png")]


def unfinished(sweep_dir: Path) -> None:
    """As if killed before the table was written: plot reads the shards."""
    for name in ("sweep.parquet", "sweep.parquet.sha256", "sweep.csv", "sweep.csv.sha256"):
        (sweep_dir / name).unlink()


# ---------------------------------------------------------------- run folders: checksums


def test_a_run_folder_records_the_checksum_of_every_table_file(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    recorded = summary["files"]
    assert set(recorded) == {f"{t}.{ext}" for t in TABLES for ext in ("csv", "parquet")}
    for name, digest in recorded.items():
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest, name
    # on disk only: the summary in memory (and so the golden digests) holds no checksums
    assert "files" not in Result.read(run_dir).summary
    assert "files" not in sim.run(HELP).summary
    assert Result.read(run_dir).summary == json.loads(json.dumps(sim.run(HELP).summary))


@pytest.mark.parametrize(("file", "damage"), [
    ("messages.csv", lambda p: flip(p, b"voicemail")),      # a text cell: voicemaim
    ("messages.csv", lambda p: flip(p, b"12.0")),           # a time: day 13, not 12
    ("generations.csv", lambda p: flip(p, b"phone")),       # who created a generation
    ("messages.parquet", lambda p: flip(p, b"voicemail")),  # a value in a Parquet file
    ("events.parquet", truncate),
])
def test_explain_names_a_file_that_changed_after_it_was_written(run_dir: Path, file: str,
                                                                 damage: Callable[[Path], None]) -> None:
    damage(run_dir / file)
    err = fails_in_one_line(explain(run_dir), run_dir, f"{run_dir / file}: checksum mismatch (its SHA-256 is ")
    assert "summary.json records" in err and err.rstrip().endswith("the file changed after it was written")
    with pytest.raises(FolderError, match="checksum mismatch"):
        Result.read(run_dir)


def test_a_table_file_the_summary_lists_must_exist(run_dir: Path) -> None:
    (run_dir / "holders.parquet").unlink()
    fails_in_one_line(explain(run_dir), run_dir,
                      f"{run_dir / 'holders.parquet'}: missing (summary.json records its checksum)")


# ---------------------------------------------------------------- run folders: malformed cells


@pytest.mark.parametrize(("file", "row", "column", "value", "problem"), [
    ("messages.csv", 0, "sent_at", "abc", "line 2, column sent_at: 'abc' is not a time (a number of days)"),
    ("messages.csv", 2, "generation", "1.5", "line 4, column generation: '1.5' is not an integer"),
    ("messages.csv", 0, "generation", "", "line 2, column generation: '' is not an integer"),
    ("messages.csv", 0, "lost_at", "nan", "line 2, column lost_at: 'nan' is not a time"),
    ("events.csv", 1, "time", "abc", "line 3, column time: 'abc' is not a time"),
    ("events.csv", 0, "generation", "x", "line 2, column generation: 'x' is not an integer"),
    ("devices.csv", 0, "available", "maybe", "line 2, column available: 'maybe' is not True or False"),
    ("devices.csv", 1, "generations", "2,x", "line 3, column generations: '2,x' is not a list of generations"),
    ("holders.csv", 0, "boxed_at", "", "line 2, column boxed_at: '' is not a time"),
    ("generations.csv", 0, "generation", "one", "line 2, column generation: 'one' is not an integer"),
    ("messages.csv", 0, "generation", "9", "line 2: generation 9 of alice has no row in generations.csv"),
])
def test_explain_names_a_malformed_cell(run_dir: Path, file: str, row: int, column: str, value: str,
                                        problem: str) -> None:
    set_cell(run_dir / file, row, column, value)
    fails_in_one_line(explain(run_dir), run_dir, f"{run_dir / file}: {problem}")


def test_a_malformed_cell_is_named_in_a_folder_without_checksums(run_dir: Path) -> None:
    """An older folder's cells are checked as closely (explain would raise on them)."""
    edit_json(run_dir / "summary.json", lambda s: {k: v for k, v in s.items() if k != "files"})
    set_cell(run_dir / "messages.csv", 0, "sent_at", "abc")
    fails_in_one_line(explain(run_dir), run_dir,
                      f"{run_dir / 'messages.csv'}: line 2, column sent_at: 'abc' is not a time")


# ---------------------------------------------------------------- run folders: summary.json


@pytest.mark.parametrize(("change", "problem"), [
    (lambda s: [1, 2], "a JSON object is expected, found a list"),
    (lambda s: "summary", "a JSON object is expected, found a string"),
    (lambda s: {k: v for k, v in s.items() if k != "messages"}, "no messages count"),
    (lambda s: s | {"messages": "5"}, "messages is a string ('5'), not a count"),
    (lambda s: s | {"messages": True}, "messages is a boolean (True), not a count"),
    (lambda s: s | {"lost": -1}, "lost is a number (-1), not a count"),
    (lambda s: s | {"adversaries": {}}, "adversaries is an object, not a list"),
    (lambda s: s | {"adversaries": [{"adversary": "thief"}]}, "adversaries[0] has no kind"),
    (lambda s: s | {"adversaries": [{"adversary": "t", "kind": "thief", "since": "day 3",
                                     "window_end": None, "generations": "1"}]},
     "adversaries[0].since is a string, not a time or null"),
    (lambda s: s | {"files": ["messages.csv"]}, "files is a list, not an object of checksums"),
    (lambda s: s | {"files": s["files"] | {"messages.csv": "abc"}},
     "files['messages.csv'] is not a SHA-256 (64 lowercase hex digits)"),
    (lambda s: s | {"files": s["files"] | {"../secret": "0" * 64}}, "files names '../secret', not a table file"),
    (lambda s: s | {"files": {k: v for k, v in s["files"].items() if k != "events.csv"}},
     "files has no checksum of events.csv"),
])
def test_explain_refuses_a_summary_of_the_wrong_shape(run_dir: Path, change: Callable[[Any], object],
                                                      problem: str) -> None:
    edit_json(run_dir / "summary.json", change)
    fails_in_one_line(explain(run_dir), run_dir, f"{run_dir / 'summary.json'}: not a run summary ({problem})")


def test_a_flipped_count_in_the_summary_disagrees_with_the_tables(run_dir: Path) -> None:
    """summary.json holds no checksum of itself; its counts are checked against the tables."""
    edit_json(run_dir / "summary.json", lambda s: s | {"lost": s["lost"] + 1})
    fails_in_one_line(explain(run_dir), run_dir,
                      f"{run_dir / 'summary.json'}: lost is 3, where messages.csv holds 2 lost messages")


def test_a_run_folder_without_checksums_is_read_unchecked(run_dir: Path) -> None:
    """A folder written before checksums (no "files") is accepted: its other checks apply."""
    edit_json(run_dir / "summary.json", lambda s: {k: v for k, v in s.items() if k != "files"})
    flip(run_dir / "messages.parquet", b"voicemail")  # nothing records what it was
    code, out, err = cli(*explain(run_dir))
    assert code == 0 and not err and "Message m1" in out
    assert Result.read(run_dir).summary == json.loads(json.dumps(sim.run(HELP).summary))


# ---------------------------------------------------------------- sweep folders: shards


@pytest.mark.parametrize(("damage", "problem"), [
    (truncate, "not a readable shard (delete it, and resume to run its replications again): "),
    (lambda p: p.write_bytes(b"PAR1" + bytes(100) + b"PAR1"), "not a readable shard"),
    (lambda p: flip(p, b"base"), "checksum mismatch (its SHA-256 is "),  # the label: basd
    (lambda p: Path(f"{p}.sha256").unlink(),
     f"no checksum ({SHARD}.sha256 is missing; delete it, and resume to run its replications again)"),
])
def test_a_damaged_shard_is_one_line_for_plot_and_resume(sweep_dir: Path, damage: Callable[[Path], None],
                                                         problem: str) -> None:
    shard = sweep_dir / "shards" / SHARD
    damage(shard)
    # resume: the table, the other shard, the traces, everything stays
    fails_in_one_line(resume(sweep_dir), sweep_dir, f"{shard}: {problem}")
    unfinished(sweep_dir)  # plot reads the shards
    fails_in_one_line(plot(sweep_dir), sweep_dir, f"{shard}: {problem}")
    with pytest.raises(FolderError, match="^" + str(shard)):
        read_sweep(sweep_dir)


def test_a_malformed_sidecar_is_named(sweep_dir: Path) -> None:
    sidecar = sweep_dir / "shards" / f"{SHARD}.sha256"
    sidecar.write_text("not a checksum\n")
    fails_in_one_line(resume(sweep_dir), sweep_dir,
                      f"{sidecar}: not a checksum file (expected one line '<SHA-256>  {SHARD}'")


def test_following_the_advice_resumes_the_sweep(sweep_dir: Path, sweep_folder: Path) -> None:
    shard = sweep_dir / "shards" / SHARD
    flip(shard, b"base")
    fails_in_one_line(resume(sweep_dir), sweep_dir, f"{shard}: checksum mismatch")
    shard.unlink()  # as the line says: delete it, and resume
    code, out, err = cli(*resume(sweep_dir))
    assert code == 0 and "ran 1 replications (1 reused from earlier shards)" in out, out + err
    pd.testing.assert_frame_equal(read_sweep(sweep_dir), read_sweep(sweep_folder))
    assert files(sweep_dir).keys() == files(sweep_folder).keys()


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda p: flip(p, b"base"), "checksum mismatch (its SHA-256 is "),
    (truncate, "not a readable sweep table: "),
    (lambda p: Path(f"{p}.sha256").unlink(), "no checksum (sweep.parquet.sha256 is missing"),
])
def test_plot_names_a_damaged_sweep_table(sweep_dir: Path, damage: Callable[[Path], None], problem: str) -> None:
    damage(sweep_dir / "sweep.parquet")
    fails_in_one_line(plot(sweep_dir), sweep_dir, f"{sweep_dir / 'sweep.parquet'}: {problem}")


def test_plot_names_a_changed_sweep_csv_and_a_resume_rewrites_the_table(sweep_dir: Path,
                                                                          sweep_folder: Path) -> None:
    flip(sweep_dir / "sweep.csv", b"base")
    err = fails_in_one_line(plot(sweep_dir), sweep_dir, f"{sweep_dir / 'sweep.csv'}: checksum mismatch")
    assert err.rstrip().endswith("(resume the sweep to write it again from its shards)")
    code, out, _ = cli(*resume(sweep_dir))  # as the line says
    assert code == 0 and "ran 0 replications (2 reused from earlier shards)" in out, out
    assert files(sweep_dir).keys() == files(sweep_folder).keys()
    pd.testing.assert_frame_equal(read_sweep(sweep_dir), read_sweep(sweep_folder))
    assert cli(*plot(sweep_dir))[0] == 0


# ---------------------------------------------------------------- sweep folders: traces


def test_a_damaged_trace_stops_the_resume_and_read_traces(sweep_dir: Path) -> None:
    trace = sweep_dir / "traces" / SHARD
    flip(trace, b"voicemail")
    advice = f"delete it and {sweep_dir / 'shards' / SHARD}, and resume to run its replications again"
    err = fails_in_one_line(resume(sweep_dir), sweep_dir, f"{trace}: checksum mismatch")
    assert err.rstrip().endswith(f"({advice})")
    with pytest.raises(FolderError, match="^" + str(trace) + ": checksum mismatch"):
        read_traces(sweep_dir)
    truncate(trace)
    with pytest.raises(FolderError, match="^" + str(trace) + ": not a readable trace"):
        read_traces(sweep_dir)
    Path(f"{trace}.sha256").unlink()
    fails_in_one_line(resume(sweep_dir), sweep_dir, f"{trace}: no checksum ({SHARD}.sha256 is missing")


# ---------------------------------------------------------------- sweep folders: the manifest


@pytest.mark.parametrize(("change", "problem"), [
    (lambda m: [1, 2], "not a dmesim sweep manifest (a JSON object is expected)"),
    (lambda m: m | {"reps": "many"}, "not a dmesim sweep manifest (reps is 'many', not a positive count)"),
    (lambda m: m | {"reps": True}, "not a dmesim sweep manifest (reps is True, not a positive count)"),
    (lambda m: {k: v for k, v in m.items() if k != "points"}, "not a dmesim sweep manifest (points is not a list)"),
    (lambda m: m | {"vary": {"horizon": ["1y"]}},
     "not a dmesim sweep manifest (points[0] does not set the paths of vary)"),
    (lambda m: m | {"checksums": "md5"}, "not a dmesim sweep manifest (checksums is 'md5', not 'sha256')"),
])
def test_a_manifest_of_the_wrong_shape_is_one_line(sweep_dir: Path, change: Callable[[Any], object],
                                                   problem: str) -> None:
    edit_json(sweep_dir / "manifest.json", change)
    where = f"{sweep_dir / 'manifest.json'}: {problem}"
    fails_in_one_line(plot(sweep_dir), sweep_dir, where)  # a finished sweep: the table's checksum
    fails_in_one_line(resume(sweep_dir), sweep_dir, where)
    unfinished(sweep_dir)
    fails_in_one_line(plot(sweep_dir), sweep_dir, where)
    with pytest.raises(SweepError, match="^" + str(sweep_dir / "manifest.json")):
        read_sweep(sweep_dir)


# ---------------------------------------------------------------- sweeps of an earlier dmesim


def test_a_sweep_without_checksums_is_read_unchecked_and_resumed(sweep_dir: Path, sweep_folder: Path) -> None:
    """No "checksums" in the manifest and no sidecars: read as before; a resume gives its
    new files sidecars (checked where present) and leaves the manifest without the key."""
    edit_json(sweep_dir / "manifest.json", lambda m: {k: v for k, v in m.items() if k != "checksums"})
    for sidecar in sweep_dir.rglob("*.sha256"):
        sidecar.unlink()
    pd.testing.assert_frame_equal(read_sweep(sweep_dir), read_sweep(sweep_folder))
    assert len(read_traces(sweep_dir)) == len(read_traces(sweep_folder))
    code, out, err = cli("sweep", HELP, "--reps", "3", "--traces", "--out", str(sweep_dir), "--resume",
                         "--no-charts", "--no-progress")
    assert code == 0 and "ran 1 replications (2 reused from earlier shards)" in out, out + err
    assert "checksums" not in json.loads((sweep_dir / "manifest.json").read_text())
    new = "p00000-r0000002-0000002.parquet"
    assert {p.name for p in sweep_dir.rglob("*.sha256")} == {f"{new}.sha256", "sweep.parquet.sha256",
                                                            "sweep.csv.sha256"}
    assert len(read_sweep(sweep_dir)) == 3
    flip(sweep_dir / "shards" / new, b"base")  # a new file's sidecar is checked
    (sweep_dir / "sweep.parquet").unlink()
    with pytest.raises(FolderError, match="checksum mismatch"):
        read_sweep(sweep_dir)
