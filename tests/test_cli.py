"""The dmesim command: the main job, bad input, explain."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import sim
from helpers import SCENARIOS, run_file
from sim.cli import main
from sim.results import Result, atomic_write

GOOD = "horizon: 30d\nusers:\n  - name: alice\n    devices:\n      - {name: phone}\n"


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_run_writes_tables_charts_and_summary(tmp_path: Path) -> None:
    code, out, _ = invoke("run", str(SCENARIOS / "help_article.yaml"), "--out", str(tmp_path))
    assert code == 0
    assert "lost" in out and "2 (40.0%)" in out
    for name in ("messages", "devices", "events", "holders", "generations"):
        csv = pd.read_csv(tmp_path / f"{name}.csv")
        pq = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert len(csv) == len(pq) > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["lost"] == 2 and summary["first_loss_at"] == 30.0
    assert summary["ops"]["content_seal"] == 5
    for png in ("timeline.png", "approval_graph.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_run_where_no_device_joins_before_the_horizon(tmp_path: Path) -> None:
    (tmp_path / "late.yaml").write_text("horizon: 30d\nusers:\n  - name: alice\n    devices:\n"
                                        "      - {name: phone, joins_at: 40d}\n")
    code, out, err = invoke("run", str(tmp_path / "late.yaml"), "--out", str(tmp_path / "o"))
    assert code == 0 and "messages                0" in out and not err
    assert (tmp_path / "o" / "timeline.png").exists()
    assert not (tmp_path / "o" / "approval_graph.png").exists()  # nobody's graph to draw


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


def test_explain_a_backup_key_as_what_it_gives_back() -> None:
    r = run_file("only_device_lost_backup", behaviour__backup_keys__use_when_stranded=False)
    text = r.explain("m1", "backup-1")
    assert "Status: recoverable." in text and "holds a box for generation 1" in text
    assert "backup-1 is a backup key, not a device that reads: a device it is recovered onto is " \
           "given generation 1." in text and "cannot decrypt" not in text


@pytest.mark.parametrize(("args", "line"), [
    (["run", "x.yaml", "--seed", "-1"], "dmesim run: Invalid value for '--seed': -1 is not in the range "
                                        "0<=x<=9223372036854775807. (see dmesim run --help)"),
    (["run"], "dmesim run: Missing argument 'SCENARIO'. (see dmesim run --help)"),
    (["sweep", "x.yaml", "--reps", "0"], "dmesim sweep: Invalid value for '--reps': 0 is not in the range x>=1. "
                                         "(see dmesim sweep --help)"),
    (["bogus"], "dmesim: No such command 'bogus'. (see dmesim --help)"),
])
def test_a_bad_command_line_is_one_line(args: list[str], line: str) -> None:
    r = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", line + "\n")


def test_seed_option_changes_a_stochastic_history(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    invoke("run", str(SCENARIOS / "quickstart.yaml"), "--out", str(a), "--no-charts")
    invoke("run", str(SCENARIOS / "quickstart.yaml"), "--out", str(b), "--no-charts", "--seed", "99")
    assert not pd.read_csv(a / "messages.csv").equals(pd.read_csv(b / "messages.csv"))


def test_explain_agrees_with_the_tables(tmp_path: Path) -> None:
    invoke("run", str(SCENARIOS / "help_article.yaml"), "--out", str(tmp_path), "--no-charts")
    code, out, _ = invoke("explain", str(tmp_path), "--message", "m1", "--device", "tablet")
    assert code == 0
    assert "generation 1" in out and "Status: lost." in out
    assert "holds no box for generation 1" in out
    assert "phone (physical, boxed day 0 by phone, unavailable since day 30: phone lost)" in out
    assert "permanently lost" in out and "tablet cannot decrypt it" in out
    assert "left the user's hands" not in out and "No adversary key decrypts it." in out
    code, out, _ = invoke("explain", str(tmp_path), "--message", "m3", "--device", "tablet")
    assert "Status: readable." in out and "tablet decrypts it" in out
    # read back from the files, every explanation is the one of the run in memory
    r = sim.run(SCENARIOS / "help_article.yaml")
    for m in r.messages["message_id"]:
        for d in r.devices["device"]:
            assert invoke("explain", str(tmp_path), "--message", m, "--device", d)[1] == r.explain(m, d) + "\n"
    code, _, err = invoke("explain", str(tmp_path), "--message", "m999", "--device", "tablet")
    assert code == 2 and err.strip() == "dmesim: no message 'm999'"
    code, _, err = invoke("explain", str(tmp_path / "nope"), "--message", "m1", "--device", "tablet")
    assert code == 2 and "not a run folder" in err




@pytest.mark.parametrize("command", ["run", "validate"])
def test_missing_file_and_directory(tmp_path: Path, command: str) -> None:
    code, _, err = invoke(command, str(tmp_path / "nope.yaml"))
    assert code == 2 and err.strip().endswith("nope.yaml: no such file")
    code, _, err = invoke(command, str(tmp_path))
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1


def test_validate_reports_each_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text("")
    code, out, err = invoke("validate", str(good), str(bad))
    assert code == 2 and f"{good}: ok" in out and f"{bad}: the file is empty" in err


def test_schema_is_json_schema() -> None:
    code, out, _ = invoke("schema")
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "Scenario"
    assert {"horizon", "users", "timeline", "behaviour"} <= set(schema["properties"])


def test_console_script_is_installed_and_traceback_free(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("horizon: 30\nusers: []\n")
    p = subprocess.run([sys.executable, "-m", "sim", "validate", str(f)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "horizon" in p.stderr


# ---------------------------------------------------------------- options and output folders

HELP = str(SCENARIOS / "help_article.yaml")


@pytest.mark.parametrize("args", [["run", HELP, "--seed", "-3"],
                                  ["sweep", HELP, "--seed", "-1", "--reps", "1"],
                                  ["run", HELP, "--seed", str(2**63)],  # stored as int64: 2**63 - 1 at most
                                  ["sweep", HELP, "--seed", str(2**64), "--reps", "1"]])
def test_seed_out_of_range_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    code, out, err = invoke(*args, "--out", str(tmp_path / "out"))
    assert code == 2 and "Invalid value for '--seed'" in err and "Traceback" not in err + out
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_seed_beyond_int64_in_the_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(f"seed: {2**64}\n{GOOD}")
    out = str(tmp_path / "out")
    for args in (["validate", str(f)], ["run", str(f), "--out", out], ["sweep", str(f), "--out", out]):
        code, stdout, err = invoke(*args)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err + stdout, err
        assert f"{f}: seed: Input should be less than or equal to 9223372036854775807" in err
    assert not (tmp_path / "out").exists()


def test_out_that_cannot_be_a_folder_is_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    sim.sweep(HELP, reps=1, out=tmp_path / "sweep")
    for args, expected in (
            (["run", HELP, "--out", str(afile)], f"--out {afile}: cannot create the folder: {afile} is a file"),
            (["run", HELP, "--out", str(afile / "sub")],
             f"--out {afile / 'sub'}: cannot create the folder: {afile} is a file"),
            (["plot", str(tmp_path / "sweep"), "--out", str(afile / "x.png")],
             f"--out {afile / 'x.png'}: cannot create the folder {afile}: {afile} is a file")):
        code, stdout, err = invoke(*args)
        assert code == 2 and err.strip() == f"dmesim: {expected}" and "Traceback" not in err + stdout, err
    assert afile.read_text() == "keep me"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_out_the_system_refuses_names_the_path_and_the_reason() -> None:
    code, _, err = invoke("run", HELP, "--out", "/proc/dmesim-out")
    assert code == 2 and err.startswith("dmesim: --out /proc/dmesim-out: cannot create the folder: ")
    assert len(err.strip().splitlines()) == 1 and err.strip() != "dmesim: 2"


def test_no_charts_over_an_earlier_run_removes_its_charts(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert invoke("run", HELP, "--out", str(tmp_path))[0] == 0
    assert (tmp_path / "timeline.png").exists() and (tmp_path / "approval_graph.png").exists()
    code, _, _ = invoke("run", str(SCENARIOS / "only_device_lost.yaml"), "--out", str(tmp_path), "--no-charts")
    assert code == 0
    assert not (tmp_path / "timeline.png").exists() and not (tmp_path / "approval_graph.png").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["scenario"] == "only_device_lost"
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not ours: left alone


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
