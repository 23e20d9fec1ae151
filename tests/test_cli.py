"""sim.cli: the dmesim command: run, validate, sweep, plot, explain; options, output, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import sim
from helpers import GOOD, HEAD, HELP, RISK, SAFE, SCENARIOS, USERS, invoke
from sim.cli import main, parse_vary
from sim.sweeps import SweepError

# ---------------------------------------------------------------- run and validate


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
    assert code == 0 and "messages                0" in out
    assert err == "scenario: 1 person, 1 devices, about 0 messages in 30 days\n"  # its size, first
    assert (tmp_path / "o" / "timeline.png").exists()
    assert not (tmp_path / "o" / "approval_graph.png").exists()  # nobody's graph to draw


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


def test_validate_reports_each_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text("")
    code, out, err = invoke("validate", str(good), str(bad))
    assert code == 2 and f"{good}: ok" in out and f"{bad}: the file is empty" in err


def test_validate_goes_on_after_a_file_yaml_cannot_convert(tmp_path: Path) -> None:
    files = []
    for i, text in enumerate([HEAD + "start_date: 2026-13-01\n" + USERS, HEAD + "seed: !!int x\n" + USERS,
                              HEAD + USERS, HEAD + USERS + "horizon: 2d\n"]):
        files.append(tmp_path / f"{i}.yaml")
        files[-1].write_text(text)
    code, out, err = invoke("validate", *map(str, files))
    assert code == 2
    assert out.splitlines() == [f"{files[2]}: ok"]
    assert [line.split(":")[0] for line in err.splitlines()] == [str(files[i]) for i in (0, 1, 3)]


def test_console_script_is_installed_and_traceback_free(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("horizon: 30\nusers: []\n")
    p = subprocess.run([sys.executable, "-m", "sim", "validate", str(f)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "horizon" in p.stderr


# ---------------------------------------------------------------- options and output folders


@pytest.mark.parametrize("args", [["run", HELP, "--seed", "-3"],
                                  ["sweep", HELP, "--seed", "-1", "--reps", "1"],
                                  ["run", HELP, "--seed", str(2**63)],  # stored as int64: 2**63 - 1 at most
                                  ["sweep", HELP, "--seed", str(2**64), "--reps", "1"]])
def test_seed_out_of_range_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    code, out, err = invoke(*args, "--out", str(tmp_path / "out"))
    assert code == 2 and "Invalid value for '--seed'" in err and "Traceback" not in err + out
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


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


# ---------------------------------------------------------------- sweep


def test_parse_vary() -> None:
    assert parse_vary(["a.b=0,1,2", "c={exp: 1d},{uniform: [1d, 2d]}", "d=[1d, 2d]", "e=yes,off"]) == {
        "a.b": [0, 1, 2], "c": [{"exp": "1d"}, {"uniform": ["1d", "2d"]}], "d": ["1d", "2d"],
        "e": [True, False]}
    for bad in ("nothing", "a=", "=1"):
        with pytest.raises(SweepError):
            parse_vary([bad])


def test_cli_sweep_resume_and_refusal(serial: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["sweep", str(RISK), "--reps", "4", "--vary", "behaviour.backup_keys.count=0,2",
            "--vary", "horizon=1y", "--out", str(out), "--batch-size", "2"]
    code, stdout, _ = invoke(*args)
    assert code == 0, stdout
    assert "backup_keys.count=0 " in stdout and "P(any loss)" in stdout
    assert "ran 8 replications" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), serial)
    for kind in ("risk", "fraction", "policy"):
        assert (out / f"{kind}.png").read_bytes()[:4] == b"\x89PNG"

    code, _, err = invoke(*args)
    assert code == 2 and err.count("\n") == 1 and "not empty; add --resume" in err
    sorted((out / "shards").glob("*.parquet"))[0].unlink()
    code, stdout, _ = invoke(*args, "--resume", "--no-charts")
    assert code == 0 and "ran 2 replications (6 reused from earlier shards)" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), serial)
    assert not list(out.glob("*.png"))  # the first run's charts do not stand beside the new table


@pytest.mark.parametrize("args, message", [
    (["--vary", "users.0.devices.0.online=daily,sometimes"], "--vary users.0.devices.0.online=sometimes: "),
    (["--vary", "nonsense"], "expected PATH=v1,v2"),
    (["--vary", "horizon=1y,"], "--vary horizon: an empty value in '1y,' (a stray comma?); write null for none"),
    (["--vary", "horizon=[1d"], "--vary horizon: cannot read '[1d' as YAML values (malformed YAML: expected ',' "
                                "or ']', but got '<stream end>' at line 1, column 4)"),
    # read as scenario files are: no traceback, no key given twice
    (["--vary", "start_date=2026-13-01"], "--vary start_date: cannot read '2026-13-01' as YAML values (cannot "
                                          "read '2026-13-01' as a date (month must be in 1..12)"),
    (["--vary", "behaviour.backup_keys.count=!!int abc"], "--vary behaviour.backup_keys.count: cannot read "
                                                          "'!!int abc' as YAML values (cannot read 'abc' as an integer"),
    (["--vary", "horizon={a: 1, a: 2}"], "--vary horizon: cannot read '{a: 1, a: 2}' as YAML values (duplicate "
                                         "key 'a' (first on line 1) at line 1, column 8)"),
    (["--vary", "horizon=" + "[" * 5000 + "]" * 5000], "--vary horizon: cannot read '" + "[" * 60 + "…' as YAML "
                                                       "values (the YAML is nested too deeply: more than 32 levels"),
    (["--vary", "horizon=" + "[" * 400 + "]" * 400], "(the YAML is nested too deeply: more than 32 levels at line 1, "
                                                     "column 33)"),
    (["--vary", "horizon=!!binary AAAA"], "--vary horizon: cannot read '!!binary AAAA' as YAML values (the tag "
                                          "!!binary is not allowed"),
    (["--workers", "2", "--scheduler", "local"], "not both"),
    (["--scheduler", "udp://x"], "expected 'local' or tcp://HOST:PORT"),
])
def test_cli_sweep_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("sweep", str(RISK), "--reps", "1", "--out", str(tmp_path / "x"), *args)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_cli_sweep_missing_scenario(tmp_path: Path) -> None:
    code, _, err = invoke("sweep", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x"))
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_a_bad_command_line_value_is_blamed_on_vary(tmp_path: Path) -> None:
    f = tmp_path / "good.yaml"
    f.write_text(yaml.safe_dump(SAFE))
    for vary, expected in (
            ("behaviour.backup_keys.count=0,-1", "dmesim: --vary behaviour.backup_keys.count=-1: Input should "
                                                "be greater than or equal to 0 (found -1)"),
            ("users.5.name=x", "dmesim: --vary users.5.name: no list item '5'"),
            ("users.0.devices.0.fate={lost: 3}", "dmesim: --vary users.0.devices.0.fate={lost: 3}: "
                                                 "users[0].devices[0].fate.lost.fixed: duration 3 has no unit")):
        code, _, err = invoke("sweep", str(f), "--reps", "1", "--vary", vary, "--out", str(tmp_path / "x"))
        assert code == 2 and err.count("\n") == 1 and err.startswith(expected), err
        assert str(f) not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (["--vary", "behaviour.backup_keys.count=1,1"],
     "--vary: grid points {behaviour.backup_keys.count: 1} and {behaviour.backup_keys.count: 1} are the "
     "same scenario (a duplicate grid point)"),
    (["--vary", "horizon=1d,24h"], "--vary: grid points {behaviour.backup_keys.count: 0, horizon: 1d} and "
     "{behaviour.backup_keys.count: 0, horizon: 24h} are the same scenario"),
    (["--vary", "horizon=1d", "--vary", "horizon=2d"], "--vary horizon: the path is given twice"),
    (["--vary", "sweep.reps=1,2"], "--vary sweep.reps: the sweep section cannot be varied"),
    (["--scheduler", "foo"], "--scheduler 'foo': expected 'local' or tcp://HOST:PORT"),
])
def test_refused_grids_and_schedulers_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("sweep", str(RISK), "--reps", "1", "--out", str(tmp_path / "x"), *args)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- plot


def test_cli_plot_png_and_svg(df: pd.DataFrame, tmp_path: Path) -> None:
    df.to_parquet(tmp_path / "sweep.parquet")
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "risk", "--out", str(tmp_path / "r.png")])
    assert r.exit_code == 0 and (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "policy", "--by",
                                  "behaviour.backup_keys.count", "--out", str(tmp_path / "c" / "p.svg")])
    assert r.exit_code == 0 and b"<svg" in (tmp_path / "c" / "p.svg").read_bytes()[:500]
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--kind", "fraction", "--out", str(tmp_path / "f.svg")])
    assert r.exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--out", "x.pdf"], "give a .png or .svg file"),
    (["--out", "x.png", "--by", "nope"], "no column 'nope'"),
])
def test_cli_plot_bad_input(df: pd.DataFrame, tmp_path: Path, args: list[str], message: str) -> None:
    df.to_parquet(tmp_path / "sweep.parquet")
    r = CliRunner().invoke(main, ["plot", str(tmp_path), *args])
    assert r.exit_code == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_cli_plot_not_a_sweep(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["plot", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "no such folder" in r.stderr
    r = CliRunner().invoke(main, ["plot", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "not a sweep folder" in r.stderr


# ---------------------------------------------------------------- --decrypt


def test_run_decrypt_option_and_the_summary_says_which(tmp_path: Path) -> None:
    lines = {}
    for option in ([], ["--decrypt", "generations"], ["--decrypt", "messages"]):
        code, out, err = invoke("run", HELP, "--out", str(tmp_path / "r"), "--no-charts", *option)
        assert code == 0, err
        lines[tuple(option)] = next(line for line in out.splitlines() if line.startswith("decryption"))
        summary = json.loads((tmp_path / "r" / "summary.json").read_text())
        assert summary["decrypt"] == (option[1] if option else "messages")  # dmesim run: every message
        assert summary["lost"] == 2
    assert lines[()] == lines[("--decrypt", "messages")] and "every message opened" in lines[()]
    assert "one probe per user, generation and app opened" in lines[("--decrypt", "generations")]
    f = tmp_path / "g.yaml"  # the scenario's decrypt is the default; the option overrides it
    f.write_text(yaml.safe_dump({**SAFE, "decrypt": "generations"}))
    for option, expected in (([], "generations"), (["--decrypt", "messages"], "messages")):
        assert invoke("run", str(f), "--out", str(tmp_path / "g"), "--no-charts", *option)[0] == 0
        assert json.loads((tmp_path / "g" / "summary.json").read_text())["decrypt"] == expected


def test_sweep_decrypt_option_changes_the_operations_not_the_table(tmp_path: Path) -> None:
    tables = {}
    for option in ("generations", "messages"):
        code, _, err = invoke("sweep", HELP, "--reps", "2", "--decrypt", option, "--out", str(tmp_path / option),
                              "--no-charts")
        assert code == 0, err
        tables[option] = pd.read_parquet(tmp_path / option / "sweep.parquet")
    ops = [c for c in tables["messages"].columns if c.startswith("ops_")]
    pd.testing.assert_frame_equal(tables["messages"].drop(columns=ops), tables["generations"].drop(columns=ops))
    assert (tables["messages"]["ops_content_open"] != tables["generations"]["ops_content_open"]).all()
    pd.testing.assert_frame_equal(tables["generations"], sim.sweep(HELP, reps=2))  # a sweep's default
    code, _, err = invoke("sweep", HELP, "--reps", "2", "--out", str(tmp_path / "messages"), "--resume")
    assert code == 2 and "different scenario" in err  # a resume keeps what was decrypted
    code, _, err = invoke("sweep", HELP, "--decrypt", "everything", "--out", str(tmp_path / "x"))
    assert code == 2 and err.count("\n") == 1 and "'everything' is not one of" in err


REFUSED = """
horizon: 40d
argon2: {memory_kib: 64, passes: 1}
users:
  - name: alice
    devices: [{name: phone}, {name: laptop, joins_at: 30d}]
timeline:
  - {at: 5d, action: approve, user: alice, by: laptop}
"""


def test_run_says_its_size_and_every_refusal_and_strict_exits_3(tmp_path: Path) -> None:
    f = tmp_path / "refused.yaml"
    f.write_text(REFUSED)
    code, out, err = invoke("run", str(f), "--out", str(tmp_path / "r"), "--no-charts")
    assert code == 0
    assert err.splitlines()[0] == "scenario: 1 person, 2 devices, about 0 messages in 40 days"
    assert "refused: day 5, alice: approve: laptop has not joined yet (joins on day 30)" in out.splitlines()
    assert "1 action refused (events.csv has them too)" in out
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["refused"][0]["why"].startswith("approve:")
    code, _, _ = invoke("run", str(f), "--out", str(tmp_path / "r"), "--no-charts", "--strict")
    assert code == 3
    code, _, _ = invoke("run", str(SCENARIOS / "help_article.yaml"), "--out", str(tmp_path / "h"), "--strict")
    assert code == 0 and (tmp_path / "h" / "report.html").is_file() and (tmp_path / "h" / "timeline.png").is_file()


def test_report_command_writes_the_page_of_a_run_folder(tmp_path: Path) -> None:
    assert invoke("run", str(SCENARIOS / "help_article.yaml"), "--out", str(tmp_path / "h"), "--no-charts")[0] == 0
    code, out, _ = invoke("report", str(tmp_path / "h"), "--out", str(tmp_path / "page.html"))
    assert code == 0 and out.strip() == f"wrote {tmp_path / 'page.html'}"
    assert "m1" in (tmp_path / "page.html").read_text()
    code, _, err = invoke("report", str(tmp_path / "nothing"))
    assert code == 2 and err.count("\n") == 1 and "not a run folder" in err


def test_ctrl_c_during_a_run_is_one_line_exit_130_and_nothing_written(tmp_path: Path) -> None:
    import os
    import signal
    import time

    long = tmp_path / "long.yaml"
    long.write_text("horizon: 100y\nargon2: {memory_kib: 64, passes: 1}\ntraffic: {mail: {every: {exp: 1h}}}\n"
                    "users: [{name: alice, devices: [{name: phone, fate: {lost: {exp: 1y}}, "
                    "replacement: {after: 1d}}]}]\n")
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(long), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == f"dmesim: interrupted; nothing written to {out}/" and "Traceback" not in err
    assert list(out.iterdir()) == []
