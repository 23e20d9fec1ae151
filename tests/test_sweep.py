"""Monte Carlo sweeps: executors agree, resume loses and repeats nothing, known answers."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import sim
from helpers import SCENARIOS
from sim.cli import main, parse_vary
from sim.results import FolderError
from sim.results import run as run_scenario
from sim.scenario import MAX_SEED, ScenarioError, apply_overrides, load, read_yaml, validate
from sim.stats import loss_risk, risk_curve
from sim.sweeps import (
    SweepError,
    default_batch_size,
    local_cluster,
    read_sweep,
    read_traces,
    runner,
)
from sim.sweeps.table import point_label

RISK = SCENARIOS / "risk_policy.yaml"
# small and quick: one year, two backup policies, four replications each
SMALL: dict[str, Any] = {"reps": 4, "vary": {"behaviour.backup_keys.count": [0, 2], "horizon": ["1y"]}}

# An always-online phone that nobody loses: no loss is possible.
SAFE = {"name": "safe", "horizon": "60d", "argon2": {"memory_kib": 1024, "passes": 1},
        "traffic": {"voicemail": {"every": {"exp": "5d"}}},
        "users": [{"name": "alice", "devices": [{"name": "phone"}]}]}
# The only device is certainly lost on day 10, with no backup key and no replacement.
DOOMED = apply_overrides(SAFE, {"name": "doomed", "users.0.devices.0.fate": {"lost": "10d"},
                                "traffic.voicemail.every": "2d"})


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return sim.sweep(RISK, **SMALL)


# ---------------------------------------------------------------- the table


def test_one_tidy_row_per_replication(serial: pd.DataFrame) -> None:
    df = serial
    assert len(df) == 8 and df["run_id"].is_unique
    assert list(df.columns[:7]) == ["run_id", "point", "rep", "seed", "label",
                                    "behaviour.backup_keys.count", "horizon"]
    assert df[["point", "rep"]].values.tolist() == [[p, r] for p in (0, 1) for r in range(4)]
    assert set(df["behaviour.backup_keys.count"]) == {0, 2} and set(df["horizon"]) == {"1y"}
    assert df["label"].tolist() == ["backup_keys.count=0"] * 4 + ["backup_keys.count=2"] * 4  # what varies
    for col in ("horizon_days", "messages", "readable", "recoverable", "lost", "fraction_lost",
                "any_loss", "first_loss_at", "generations_lost", "ops_content_seal", "ops_argon2id"):
        assert col in df, col
    assert df["any_loss"].dtype == bool
    assert (df["horizon_days"] == 365).all()
    # no backup key made, no Argon2id ran: the operation count is 0, not missing
    assert (df.loc[df["point"] == 0, "ops_argon2id"] == 0).all()
    assert (df.loc[df["point"] == 1, "ops_argon2id"] >= 2).all()
    assert df["any_loss"].equals(df["lost"] > 0)
    assert df["first_loss_at"].isna().equals(~df["any_loss"])


def test_rows_are_the_replications_of_sim_run(serial: pd.DataFrame) -> None:
    """Replication r of every grid point is Simulation(scenario, seed, rep=r)."""
    data = read_yaml(RISK)
    for _, row in serial.iloc[[0, 3, 6]].iterrows():
        s = validate(apply_overrides(data, {"behaviour.backup_keys.count": int(row["behaviour.backup_keys.count"]),
                                            "horizon": "1y"}))
        summary = run_scenario(s, None, int(row["rep"])).summary
        assert row["seed"] == s.seed == summary["seed"]
        for key in ("messages", "lost", "fraction_lost", "any_loss", "generations_lost"):
            assert row[key] == summary[key], key
        assert row["ops_content_seal"] == summary["ops"]["content_seal"]


def test_common_random_numbers_across_grid_points(serial: pd.DataFrame) -> None:
    """Backup keys change nothing about traffic: the same reps send the same messages."""
    by_point = serial.pivot(index="rep", columns="point", values="messages")
    assert by_point[0].equals(by_point[1])


def test_scenario_object_path_and_mapping_give_the_same_table(serial: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(sim.sweep(load(RISK), **SMALL), serial)
    pd.testing.assert_frame_equal(sim.sweep(read_yaml(RISK), **SMALL), serial)


def test_yaml_sweep_section_gives_reps_and_grid() -> None:
    data = {**SAFE, "sweep": {"reps": 2, "vary": {"traffic.voicemail.every": ["5d", "10d"]}}}
    df = sim.sweep(data)
    assert len(df) == 4 and list(df["traffic.voicemail.every"]) == ["5d", "5d", "10d", "10d"]
    # arguments take precedence over the file
    assert len(sim.sweep(data, reps=1, vary={"traffic.voicemail.every": ["1d"]})) == 1


def test_mapping_values_are_written_as_yaml_text() -> None:
    df = sim.sweep(SAFE, reps=1, vary={"traffic.voicemail.every": [{"exp": "5d"}, "9d"]})
    assert list(df["traffic.voicemail.every"]) == ["{exp: 5d}", "9d"]


def test_parse_vary() -> None:
    assert parse_vary(["a.b=0,1,2", "c={exp: 1d},{uniform: [1d, 2d]}", "d=[1d, 2d]", "e=yes,off"]) == {
        "a.b": [0, 1, 2], "c": [{"exp": "1d"}, {"uniform": ["1d", "2d"]}], "d": ["1d", "2d"],
        "e": [True, False]}
    for bad in ("nothing", "a=", "=1"):
        with pytest.raises(SweepError):
            parse_vary([bad])


def test_seeds_are_kept_as_given_or_refused() -> None:
    """The table stores seeds as int64: the largest one is written as it is, a larger one
    is refused (it used to be written as a negative number)."""
    assert sim.sweep(SAFE, reps=1, seed=MAX_SEED)["seed"].tolist() == [MAX_SEED]
    for seed in (MAX_SEED + 1, 2**64, -1):
        with pytest.raises(SweepError, match=f"^seed must be 0 to {MAX_SEED}, found {seed}$"):
            sim.sweep(SAFE, reps=1, seed=seed)


def test_bad_grid_is_one_clear_error() -> None:
    with pytest.raises(SweepError, match=r"^--vary users\.0\.devices\.0\.online=sometimes: "
                                                r"Input should be 'always'"):
        sim.sweep(SAFE, reps=1, vary={"users.0.devices.0.online": ["daily", "sometimes"]})
    with pytest.raises(SweepError, match=r"^--vary users\.3\.name: no list item '3'"):
        sim.sweep(SAFE, reps=1, vary={"users.3.name": ["x"]})
    with pytest.raises(SweepError, match="--seed"):
        sim.sweep(SAFE, reps=1, vary={"seed": [1, 2]})


# ---------------------------------------------------------------- known answers


def test_no_loss_events_means_zero_risk() -> None:
    df = sim.sweep(SAFE, reps=5)
    assert not df["any_loss"].any() and (df["fraction_lost"] == 0).all()
    risk = loss_risk(df)
    assert risk["p"].tolist() == [0.0] and risk["losses"].tolist() == [0]
    assert 0 < risk["high"].iloc[0] < 0.5  # an honest upper bound, not zero
    curve = risk_curve(df)
    assert (curve["p"] == 0).all() and curve["t"].tolist() == [0.0, 60.0]


def test_certain_loss_of_the_only_device_means_risk_one() -> None:
    df = sim.sweep(DOOMED, reps=5)
    assert df["any_loss"].all() and (df["first_loss_at"] == 10.0).all()
    assert loss_risk(df)["p"].tolist() == [1.0]
    curve = risk_curve(df)
    assert curve["t"].tolist() == [0.0, 10.0, 60.0] and curve["p"].tolist() == [0.0, 1.0, 1.0]


# ---------------------------------------------------------------- executors


def test_same_table_from_serial_processes_and_dask(serial: pd.DataFrame, tmp_path: Path) -> None:
    pool = sim.sweep(RISK, **SMALL, workers=2, out=tmp_path / "pool")
    pd.testing.assert_frame_equal(pool, serial)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pool" / "sweep.parquet"), serial)
    pytest.importorskip("distributed")
    dask = sim.sweep(RISK, **SMALL, scheduler="local", batch_size=3, out=tmp_path / "dask")
    pd.testing.assert_frame_equal(dask, serial)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["executor"] == "dask local" and "distributed" in manifest["versions"]


def test_a_killed_sweep_leaves_no_pool_worker_behind(tmp_path: Path) -> None:
    """SIGKILL gives `dmesim sweep --workers 2` no chance to stop its pool: each worker
    notices that its parent is gone and ends."""
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(RISK), "--reps", "100", "--workers", "2",
                             "--batch-size", "1", "--out", str(out), "--no-charts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list((out / "shards").glob("*.parquet")):
        time.sleep(0.01)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.wait()

    def ended(p: Any) -> bool:  # a zombie has ended (nobody may reap an orphan here)
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    try:
        assert len(workers) >= 2
        deadline = time.monotonic() + 10
        while not all(ended(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(ended(p) for p in workers)
    finally:
        for p in workers:  # without the fix, they would wait for work forever
            with suppress(psutil.NoSuchProcess):
                p.kill()


def test_ctrl_c_on_a_local_cluster_sweep_is_one_message(tmp_path: Path) -> None:
    """Ctrl-C at a terminal reaches the whole process group: the workers of
    --scheduler local ignore it, and the sweep stops them and says how to resume."""
    pytest.importorskip("distributed")
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(RISK), "--reps", "200", "--scheduler",
                             "local", "--out", str(out), "--no-charts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list((out / "shards").glob("*.parquet")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmesim: interrupted; finished batches are saved in"), err


def test_local_cluster_runs_without_what_a_sweep_does_not_need() -> None:
    """--scheduler local: no stack sampling in the workers (it slowed sweeps by up to 12%),
    no work stealing, memory checks once a second (the limits still hold)."""
    distributed = pytest.importorskip("distributed")

    def worker(dask_worker: Any) -> tuple[bool, float, float]:
        return ("profile" in dask_worker.periodic_callbacks, dask_worker.memory_manager.memory_monitor_interval,
                dask_worker.periodic_callbacks["monitor"].callback_time)

    with local_cluster() as cluster, distributed.Client(cluster) as client:
        assert list(client.run(worker).values()) == [(False, 1, 1000), (False, 1, 1000)]
        assert "stealing" not in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.extensions))


def test_batch_size_and_threads_do_not_change_the_table(serial: pd.DataFrame) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, batch_size=1), serial)
    with ThreadPoolExecutor(2) as pool:
        pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, executor=pool, batch_size=3), serial)


def test_labels_tell_apart_paths_that_end_alike() -> None:
    vary = {"users.0.devices.0.online": ["daily", "weekly"], "users.1.devices.0.online": ["daily"],
            "behaviour.backup_keys.count": [0, 1]}
    point = {"users.0.devices.0.online": "weekly", "users.1.devices.0.online": "daily",
             "behaviour.backup_keys.count": 1}
    assert point_label(point, vary) == "devices.0.online=weekly, backup_keys.count=1"  # what varies
    vary["users.1.devices.0.online"].append("rare")
    assert point_label(point, vary) == ("users.0.devices.0.online=weekly, users.1.devices.0.online=daily, "
                                          "backup_keys.count=1")


@pytest.mark.parametrize(("total", "workers", "size"), [(24, 2, 1), (100, 2, 4), (100, 1, 7), (5000, 2, 20), (3, 8, 1)])
def test_default_batches_keep_every_worker_busy_to_the_end(total: int, workers: int, size: int) -> None:
    """About 16 tasks per worker (so a worker finishing early takes the next), at most 20 reps each."""
    assert default_batch_size(total, workers) == size


def test_outputs_and_manifest(serial: pd.DataFrame, tmp_path: Path) -> None:
    sim.sweep(RISK, **SMALL, out=tmp_path, traces=True, batch_size=3)
    csv = pd.read_csv(tmp_path / "sweep.csv")
    assert len(csv) == 8 and list(csv.columns) == list(serial.columns)
    assert csv["fraction_lost"].tolist() == pytest.approx(serial["fraction_lost"].tolist())
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["scenario"] == "risk_policy" and m["reps"] == 4
    assert m["seed"] == load(RISK).seed == 11  # the seed used, though no seed was given
    assert m["vary"] == SMALL["vary"] and m["complete"] and m["rows"] == 8
    assert len(m["points"]) == 2 and m["points"][1]["overrides"] == {"behaviour.backup_keys.count": 2,
                                                                      "horizon": "1y"}
    assert len(m["scenario_hash"]) == 16 and {"dmesim", "numpy", "pandas"} <= set(m["versions"])
    traces = read_traces(tmp_path)
    assert traces.groupby("run_id").size().to_dict() == dict(zip(serial["run_id"], serial["messages"],
                                                                  strict=True))
    lost = traces[traces["status"] == "lost"].groupby("run_id").size()
    assert lost.to_dict() == {r: n for r, n in zip(serial["run_id"], serial["lost"], strict=True) if n}
    assert not list(tmp_path.rglob(".*.tmp"))


def test_traces_do_not_depend_on_the_batch_size(tmp_path: Path) -> None:
    """Only reps 0 and 4 lose messages: in batches of three, each batch has a loss; one rep
    per batch (the default for six reps), most batches have no lost_at value at all, and
    the column is still a number."""
    kw: dict[str, Any] = {"reps": 6, "vary": {"behaviour.backup_keys.count": [0], "horizon": ["1y"]}}
    assert sim.sweep(RISK, **kw, out=tmp_path / "default", traces=True)["lost"].gt(0).tolist() == \
        [True, False, False, False, True, False]
    sim.sweep(RISK, **kw, out=tmp_path / "three", traces=True, batch_size=3)
    default, three = read_traces(tmp_path / "default"), read_traces(tmp_path / "three")
    assert default.equals(three) and default["lost_at"].dtype == "float64"


def test_traces_need_an_output_folder() -> None:
    with pytest.raises(SweepError, match="out="):
        sim.sweep(SAFE, reps=1, traces=True)


# ---------------------------------------------------------------- resume


class Interrupted(Exception):
    pass


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every replication the sweep executes (serial runs in this process)."""
    ran: list[int] = []
    real = runner.run_batch

    def run_batch(*args: Any, **kwargs: Any) -> dict[str, Any]:
        ran.extend(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_batch", run_batch)
    return ran


def test_resume_after_interruption_repeats_and_loses_nothing(serial: pd.DataFrame, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_write, written = runner.write_shard, []

    def write_then_die(out: Path, task: Any, *args: Any) -> None:
        if len(written) == 2:
            raise Interrupted  # killed after two finished batches
        real_write(out, task, *args)
        written.append(task)

    monkeypatch.setattr(runner, "write_shard", write_then_die)
    with pytest.raises(Interrupted):
        sim.sweep(RISK, **SMALL, out=tmp_path, batch_size=3)
    assert len(list((tmp_path / "shards").glob("*.parquet"))) == 2
    assert not (tmp_path / "sweep.parquet").exists()
    partial = read_sweep(tmp_path)  # batches of one grid point: reps 0-2 and 3 of point 0
    assert partial[["point", "rep"]].values.tolist() == [[0, 0], [0, 1], [0, 2], [0, 3]]

    monkeypatch.setattr(runner, "write_shard", real_write)
    with pytest.raises(SweepError, match="not empty; add --resume"):
        sim.sweep(RISK, **SMALL, out=tmp_path, batch_size=3)
    ran = counting(monkeypatch)
    df = sim.sweep(RISK, **SMALL, out=tmp_path, resume=True, batch_size=3)
    assert sorted(ran) == [0, 1, 2, 3]  # only the four replications of point 1, once each
    pd.testing.assert_frame_equal(df, serial)
    assert json.loads((tmp_path / "manifest.json").read_text())["executed"] == 4

    ran.clear()  # resuming a finished sweep runs nothing and changes nothing
    pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, out=tmp_path, resume=True), serial)
    assert ran == []


def test_resume_after_lost_shards_and_with_more_reps(serial: pd.DataFrame, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sim.sweep(RISK, **SMALL, out=tmp_path, batch_size=2)
    shards = sorted((tmp_path / "shards").glob("*.parquet"))
    assert len(shards) == 4
    for shard in shards[1:3]:
        shard.unlink()
    (tmp_path / "sweep.parquet").unlink()
    ran = counting(monkeypatch)
    pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, out=tmp_path, resume=True), serial)
    assert sorted(ran) == [0, 1, 2, 3]  # point 0 reps 2-3 and point 1 reps 0-1
    ran.clear()
    more = sim.sweep(RISK, reps=6, vary=SMALL["vary"], out=tmp_path, resume=True)
    assert sorted(ran) == [4, 4, 5, 5] and len(more) == 12
    pd.testing.assert_frame_equal(more[more["rep"] < 4].reset_index(drop=True), serial)


def test_a_damaged_shard_stops_the_resume_before_anything_is_removed(serial: pd.DataFrame,
                                                                    tmp_path: Path) -> None:
    sim.sweep(RISK, **SMALL, out=tmp_path, batch_size=2)
    shard = sorted((tmp_path / "shards").glob("*.parquet"))[1]
    shard.write_bytes(b"junk")
    table = (tmp_path / "sweep.parquet").read_bytes()
    with pytest.raises(FolderError, match=f"{shard}: not a readable shard"):
        sim.sweep(RISK, **SMALL, out=tmp_path, resume=True)
    assert (tmp_path / "sweep.parquet").read_bytes() == table and (tmp_path / "sweep.csv").exists()
    shard.unlink()  # as the message says: delete it and resume
    pd.testing.assert_frame_equal(sim.sweep(RISK, **SMALL, out=tmp_path, resume=True), serial)
    (tmp_path / "sweep.parquet").write_bytes(b"junk")
    code, _, err = cli("plot", str(tmp_path), "--out", str(tmp_path / "risk.png"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"dmesim: {tmp_path / 'sweep.parquet'}: not a readable sweep table: ")


def test_resume_drops_traces_of_unsaved_batches(serial: pd.DataFrame, tmp_path: Path) -> None:
    sim.sweep(RISK, **SMALL, out=tmp_path, traces=True, batch_size=2)
    sorted((tmp_path / "shards").glob("*.parquet"))[0].unlink()  # its traces were written first
    sim.sweep(RISK, **SMALL, out=tmp_path, traces=True, resume=True, batch_size=1)
    names = lambda d: sorted(p.name for p in (tmp_path / d).glob("*.parquet"))  # noqa: E731
    assert names("traces") == names("shards") and len(names("shards")) == 5
    traces = read_traces(tmp_path)
    assert not traces.duplicated(["point", "rep", "message_id"]).any()
    assert traces.groupby("run_id").size().sum() == serial["messages"].sum()


def test_resume_refuses_a_different_sweep(tmp_path: Path) -> None:
    sim.sweep(SAFE, reps=1, out=tmp_path)
    with pytest.raises(SweepError, match="different --vary grid"):
        sim.sweep(SAFE, reps=1, vary={"horizon": ["30d"]}, out=tmp_path, resume=True)
    with pytest.raises(SweepError, match="different --vary grid"):  # the same scenario, another column
        sim.sweep(SAFE, reps=1, vary={"horizon": [SAFE["horizon"]]}, out=tmp_path, resume=True)
    with pytest.raises(SweepError, match="different seed"):
        sim.sweep(SAFE, reps=1, seed=3, out=tmp_path, resume=True)
    with pytest.raises(SweepError, match="different scenario"):
        sim.sweep(DOOMED, reps=1, out=tmp_path, resume=True)


# ---------------------------------------------------------------- the command


def test_cli_sweep_resume_and_refusal(serial: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["sweep", str(RISK), "--reps", "4", "--vary", "behaviour.backup_keys.count=0,2",
            "--vary", "horizon=1y", "--out", str(out), "--batch-size", "2"]
    code, stdout, _ = cli(*args)
    assert code == 0, stdout
    assert "backup_keys.count=0 " in stdout and "P(any loss)" in stdout
    assert "ran 8 replications" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), serial)
    for kind in ("risk", "fraction", "policy"):
        assert (out / f"{kind}.png").read_bytes()[:4] == b"\x89PNG"

    code, _, err = cli(*args)
    assert code == 2 and err.count("\n") == 1 and "not empty; add --resume" in err
    sorted((out / "shards").glob("*.parquet"))[0].unlink()
    code, stdout, _ = cli(*args, "--resume", "--no-charts")
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
                                                       "values (the YAML is nested too deeply)"),
    (["--vary", "horizon=" + "[" * 400 + "]" * 400], "--vary horizon=" + "[" * 399 + "]" * 399 + ": expected a"),
    (["--vary", "horizon=!!binary AAAA"], "--vary horizon=b'\\x00\\x00\\x00': expected a duration"),
    (["--workers", "2", "--scheduler", "local"], "not both"),
    (["--scheduler", "udp://x"], "expected 'local' or tcp://HOST:PORT"),
])
def test_cli_sweep_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = cli("sweep", str(RISK), "--reps", "1", "--out", str(tmp_path / "x"), *args)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_cli_sweep_missing_scenario(tmp_path: Path) -> None:
    code, _, err = cli("sweep", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x"))
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_float_values_round_trip_through_the_grid() -> None:
    df = sim.sweep(SAFE, reps=1, vary={"users.0.devices.0.fate": [None, {"lost": {"exp": "30d"}}]})
    assert df["users.0.devices.0.fate"].isna().tolist() == [True, False]
    assert np.isfinite(df["messages"]).all()


def test_killed_sweep_resumes_without_loss_or_repeat(serial: pd.DataFrame, tmp_path: Path) -> None:
    """SIGKILL a real `dmesim sweep` after two saved batches, then --resume."""
    out = tmp_path / "killed"
    args = ["sweep", str(RISK), "--reps", "4", "--vary", "behaviour.backup_keys.count=0,2",
            "--vary", "horizon=1y", "--out", str(out), "--batch-size", "1", "--no-charts"]
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (proc.poll() is None and time.monotonic() < deadline
           and len(list((out / "shards").glob("*.parquet"))) < 2):
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    saved = len(read_sweep(out))
    assert 2 <= saved < 8 and not (out / "sweep.parquet").exists()
    code, stdout, _ = cli(*args, "--resume")
    assert code == 0 and f"ran {8 - saved} replications ({saved} reused from earlier shards)" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), serial)


# ---------------------------------------------------------------- the grid, checked before anything runs


def test_a_bad_sweep_section_is_blamed_on_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**SAFE, "sweep": {"vary": {"behaviour.backup_keys.count": [1, -1]}}}))
    with pytest.raises(ScenarioError) as exc:
        sim.sweep(f, reps=1)
    assert str(exc.value).startswith(f"{f}: sweep.vary.behaviour.backup_keys.count[1]: Input should be")
    for args in (["validate", str(f)], ["sweep", str(f), "--reps", "1", "--out", str(tmp_path / "x")]):
        code, _, err = cli(*args)
        assert code == 2 and err.count("\n") == 1 and "sweep.vary.behaviour.backup_keys.count[1]" in err
    assert not (tmp_path / "x").exists()
    # --vary replaces the file's values of that path, but the file is still wrong
    code, _, err = cli("sweep", str(f), "--reps", "1", "--vary", "behaviour.backup_keys.count=0",
                       "--out", str(tmp_path / "x"))
    assert code == 2 and "sweep.vary" in err


def test_a_bad_command_line_value_is_blamed_on_vary(tmp_path: Path) -> None:
    f = tmp_path / "good.yaml"
    f.write_text(yaml.safe_dump(SAFE))
    for vary, expected in (
            ("behaviour.backup_keys.count=0,-1", "dmesim: --vary behaviour.backup_keys.count=-1: Input should "
                                                "be greater than or equal to 0 (found -1)"),
            ("users.5.name=x", "dmesim: --vary users.5.name: no list item '5'"),
            ("users.0.devices.0.fate={lost: 3}", "dmesim: --vary users.0.devices.0.fate={lost: 3}: "
                                                 "users[0].devices[0].fate.lost.fixed: duration 3 has no unit")):
        code, _, err = cli("sweep", str(f), "--reps", "1", "--vary", vary, "--out", str(tmp_path / "x"))
        assert code == 2 and err.count("\n") == 1 and err.startswith(expected), err
        assert str(f) not in err
    assert not (tmp_path / "x").exists()


def test_a_grid_point_bad_only_in_combination_is_named() -> None:
    with pytest.raises(SweepError, match=r"^--vary: grid point \{users\.0\.devices\.0\.fate: \{lost: 0d\}, "
                                                r"users\.0\.devices\.0\.replacement: \{after: 0d\}\}: "
                                                r"users\[0\]\.devices\[0\]: replacement: with the fate and the "
                                                "replacement both after 0 days"):
        sim.sweep(SAFE, reps=1, vary={"users.0.devices.0.fate": [{"lost": "0d"}],
                                      "users.0.devices.0.replacement": [{"after": "0d"}]})


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
    code, _, err = cli("sweep", str(RISK), "--reps", "1", "--out", str(tmp_path / "x"), *args)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x").exists()


def test_an_unreachable_scheduler_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    @contextmanager
    def unreachable(*args: Any) -> Any:
        raise SweepError("cannot reach the dask scheduler tcp://nowhere:8786: timed out")
        yield

    out = tmp_path / "x"
    monkeypatch.setattr(runner, "executor_for", unreachable)
    code, _, err = cli("sweep", str(RISK), "--reps", "1", "--vary", "horizon=30d",
                       "--scheduler", "tcp://nowhere:8786", "--out", str(out))
    assert code == 2 and "cannot reach the dask scheduler" in err
    assert not out.exists()
    monkeypatch.undo()  # the corrected command is not refused for a folder the failure left
    code, stdout, err = cli("sweep", str(RISK), "--reps", "1", "--vary", "horizon=30d", "--out", str(out),
                            "--no-charts")
    assert code == 0 and (out / "sweep.parquet").exists(), err


# ---------------------------------------------------------------- resume quirks


def test_resume_with_the_seed_actually_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim.sweep(SAFE, reps=2, out=tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == 0
    ran = counting(monkeypatch)
    df = sim.sweep(SAFE, reps=2, seed=0, out=tmp_path, resume=True)  # the same seed, spelled out
    assert len(df) == 2 and ran == []
    with pytest.raises(SweepError, match=r"different seed \(0, not 3\)"):
        sim.sweep(SAFE, reps=2, seed=3, out=tmp_path, resume=True)
    # a sweep of an earlier format drew other histories: resuming it would mix them
    m = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(m | {"dmesim_sweep": 1, "seed": None}))
    with pytest.raises(SweepError, match=r"earlier dmesim \(format 1, now 2\)"):
        sim.sweep(SAFE, reps=4, out=tmp_path, resume=True)
    assert ran == []


def test_resume_never_drops_replications(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, f = tmp_path / "s", tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(SAFE))
    full = sim.sweep(f, reps=4, out=out)
    table = (out / "sweep.parquet").read_bytes()
    with pytest.raises(SweepError, match="holds a sweep of 4 replications per grid point; resume with "
                                                "--reps 4 or more"):
        sim.sweep(f, reps=2, out=out, resume=True)
    assert (out / "sweep.parquet").read_bytes() == table
    code, _, err = cli("sweep", str(f), "--reps", "2", "--out", str(out), "--resume")
    assert code == 2 and err.count("\n") == 1 and "--reps 4 or more" in err
    assert (out / "sweep.parquet").read_bytes() == table
    ran = counting(monkeypatch)  # without --reps, resume keeps the sweep's own count (not 100)
    code, stdout, err = cli("sweep", str(f), "--out", str(out), "--resume", "--no-charts")
    assert code == 0 and ran == [] and "ran 0 replications (4 reused" in stdout, err
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), full)


def test_resume_refuses_a_corrupt_manifest_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "s"
    sim.sweep(SAFE, reps=1, vary={"horizon": ["60d"]}, out=out)
    (out / "sweep.parquet").unlink()  # unfinished: plot reads the manifest
    m = json.loads((out / "manifest.json").read_text())
    for text in ("{not json", "[1, 2]", '{"reps": "many"}', json.dumps(m | {"reps": True}),  # true is no count
                 json.dumps(m | {"vary": {"x": [1]}})):  # a path its grid points do not set
        (out / "manifest.json").write_text(text)
        for args in (["sweep", str(RISK), "--out", str(out), "--resume"],
                     ["plot", str(out), "--out", str(tmp_path / "r.png")]):
            code, stdout, err = cli(*args)
            assert code == 2 and err.count("\n") == 1 and "Traceback" not in err + stdout
            assert err.startswith(f"dmesim: {out / 'manifest.json'}: "), err


def test_a_file_in_shards_that_is_no_shard_is_named(tmp_path: Path) -> None:
    sim.sweep(SAFE, reps=2, batch_size=1, out=tmp_path)
    (tmp_path / "sweep.parquet").unlink()
    foreign = tmp_path / "shards" / "zz.parquet"  # a run's message table, say
    sim.run(validate(SAFE)).messages.to_parquet(foreign)
    problem = f"{foreign}: not a shard of this sweep (no column run_id, point, rep, seed, label; delete it"
    code, stdout, err = cli("plot", str(tmp_path), "--out", str(tmp_path / "r.png"))
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"dmesim: {problem}"), err
    with pytest.raises(FolderError, match=re.escape(problem)):
        sim.sweep(SAFE, reps=2, out=tmp_path, resume=True)
    shutil.copytree(tmp_path / "shards", tmp_path / "traces")  # summary shards are no message tables
    with pytest.raises(FolderError, match="traces/p00000-r0000000-0000000.parquet: not a shard of "
                                                 "this sweep \\(no column message_id"):
        read_traces(tmp_path)
    foreign.unlink()
    assert len(sim.sweep(SAFE, reps=2, out=tmp_path, resume=True)) == 2


def test_resume_after_changing_the_files_sweep_reps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep section is no part of the scenario a resume compares: more reps in the file
    are run, fewer drop nothing."""
    f, out = tmp_path / "s.yaml", tmp_path / "s"
    f.write_text(yaml.safe_dump({**SAFE, "sweep": {"reps": 2}}))
    sim.sweep(f, out=out)
    ran = counting(monkeypatch)
    for reps, expected in ((3, [2]), (1, [])):
        f.write_text(yaml.safe_dump({**SAFE, "sweep": {"reps": reps}}))
        code, stdout, err = cli("sweep", str(f), "--out", str(out), "--resume", "--no-charts")
        assert code == 0 and ran == expected and f"({3 - len(expected)} reused" in stdout, err
        ran.clear()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), sim.sweep(SAFE, reps=3))


def test_resume_refuses_shards_without_a_manifest(tmp_path: Path) -> None:
    sim.sweep(SAFE, reps=1, out=tmp_path)
    for name in ("manifest.json", "sweep.parquet", "sweep.csv"):
        (tmp_path / name).unlink()
    with pytest.raises(SweepError, match="manifest.json is missing"):
        sim.sweep(SAFE, reps=1, out=tmp_path, resume=True)


def test_a_grid_valid_only_in_combination_runs() -> None:
    """Renaming the device and the backup key's maker together: each value alone would be a
    bad scenario, every grid point is a good one."""
    data = apply_overrides(SAFE, {"behaviour": {"backup_keys": {"count": 1, "by": "phone"}}})
    data["sweep"] = {"vary": {"users.0.devices.0.name": ["handset"], "behaviour.backup_keys.by": ["handset"]}}
    df = sim.sweep(data, reps=2)
    assert len(df) == 2 and (df["ops_argon2id"] > 0).all()
    validate(data)
