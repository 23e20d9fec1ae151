"""sim.sweeps.runner: sweep(), the replications of each grid point on common random numbers, and resume."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import sim
from helpers import RISK, SAFE, SMALL, counting, invoke
from sim.results import run as run_scenario
from sim.scenario import MAX_SEED, ScenarioError, apply_overrides, load, read_yaml, validate
from sim.sweeps import SweepError, read_sweep, runner


def test_rows_are_the_replications_of_sim_run(serial: pd.DataFrame) -> None:
    """Replication r of every grid point is sim.run(scenario, seed, rep=r), decided per
    generation (a sweep's default): one content seal per user, generation and app."""
    data = read_yaml(RISK)
    for _, row in serial.iloc[[0, 3, 6]].iterrows():
        s = validate(apply_overrides(data, {"behaviour.backup_keys.count": int(row["behaviour.backup_keys.count"]),
                                            "horizon": "1y"}))
        result = run_scenario(s, None, int(row["rep"]), decrypt="generations")
        summary = result.summary
        assert row["seed"] == s.seed == summary["seed"]
        for key in ("messages", "lost", "fraction_lost", "any_loss", "generations_lost"):
            assert row[key] == summary[key], key
        assert row["ops_content_seal"] == summary["ops"]["content_seal"]
        assert row["ops_content_seal"] == result.messages.groupby(["user", "generation", "app"]).ngroups


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


def test_seeds_are_kept_as_given_or_refused() -> None:
    """The table stores seeds as int64: the largest one is written as it is, a larger one
    is refused (it used to be written as a negative number)."""
    assert sim.sweep(SAFE, reps=1, seed=MAX_SEED)["seed"].tolist() == [MAX_SEED]
    for seed in (MAX_SEED + 1, 2**64, -1):
        with pytest.raises(SweepError, match=f"^seed must be 0 to {MAX_SEED}, found {seed}$"):
            sim.sweep(SAFE, reps=1, seed=seed)


def test_traces_need_an_output_folder() -> None:
    with pytest.raises(SweepError, match="out="):
        sim.sweep(SAFE, reps=1, traces=True)


# ---------------------------------------------------------------- the grid, checked before anything runs


def test_bad_grid_is_one_clear_error() -> None:
    with pytest.raises(SweepError, match=r"^--vary users\.0\.devices\.0\.online=sometimes: "
                                                r"Input should be 'always'"):
        sim.sweep(SAFE, reps=1, vary={"users.0.devices.0.online": ["daily", "sometimes"]})
    with pytest.raises(SweepError, match=r"^--vary users\.3\.name: no list item '3'"):
        sim.sweep(SAFE, reps=1, vary={"users.3.name": ["x"]})
    with pytest.raises(SweepError, match="--seed"):
        sim.sweep(SAFE, reps=1, vary={"seed": [1, 2]})


def test_a_bad_sweep_section_is_blamed_on_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**SAFE, "sweep": {"vary": {"behaviour.backup_keys.count": [1, -1]}}}))
    with pytest.raises(ScenarioError) as exc:
        sim.sweep(f, reps=1)
    assert str(exc.value).startswith(f"{f}: sweep.vary.behaviour.backup_keys.count[1]: Input should be")
    for args in (["validate", str(f)], ["sweep", str(f), "--reps", "1", "--out", str(tmp_path / "x")]):
        code, _, err = invoke(*args)
        assert code == 2 and err.count("\n") == 1 and "sweep.vary.behaviour.backup_keys.count[1]" in err
    assert not (tmp_path / "x").exists()
    # --vary replaces the file's values of that path, but the file is still wrong
    code, _, err = invoke("sweep", str(f), "--reps", "1", "--vary", "behaviour.backup_keys.count=0",
                       "--out", str(tmp_path / "x"))
    assert code == 2 and "sweep.vary" in err


def test_a_grid_point_bad_only_in_combination_is_named() -> None:
    with pytest.raises(SweepError, match=r"^--vary: grid point \{users\.0\.devices\.0\.fate: \{lost: 0d\}, "
                                                r"users\.0\.devices\.0\.replacement: \{after: 0d\}\}: "
                                                r"users\[0\]\.devices\[0\]: replacement: with the fate and the "
                                                "replacement both after 0 days"):
        sim.sweep(SAFE, reps=1, vary={"users.0.devices.0.fate": [{"lost": "0d"}],
                                      "users.0.devices.0.replacement": [{"after": "0d"}]})


def test_a_grid_valid_only_in_combination_runs() -> None:
    """Renaming the device and the backup key's maker together: each value alone would be a
    bad scenario, every grid point is a good one."""
    data = apply_overrides(SAFE, {"behaviour": {"backup_keys": {"count": 1, "by": "phone"}}})
    data["sweep"] = {"vary": {"users.0.devices.0.name": ["handset"], "behaviour.backup_keys.by": ["handset"]}}
    df = sim.sweep(data, reps=2)
    assert len(df) == 2 and (df["ops_argon2id"] > 0).all()
    validate(data)


def test_an_unreachable_scheduler_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    @contextmanager
    def unreachable(*args: Any) -> Any:
        raise SweepError("cannot reach the dask scheduler tcp://nowhere:8786: timed out")
        yield

    out = tmp_path / "x"
    monkeypatch.setattr(runner, "executor_for", unreachable)
    code, _, err = invoke("sweep", str(RISK), "--reps", "1", "--vary", "horizon=30d",
                       "--scheduler", "tcp://nowhere:8786", "--out", str(out))
    assert code == 2 and "cannot reach the dask scheduler" in err
    assert not out.exists()
    monkeypatch.undo()  # the corrected command is not refused for a folder the failure left
    code, stdout, err = invoke("sweep", str(RISK), "--reps", "1", "--vary", "horizon=30d", "--out", str(out),
                            "--no-charts")
    assert code == 0 and (out / "sweep.parquet").exists(), err


# ---------------------------------------------------------------- resume


class Interrupted(Exception):
    pass


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
    code, stdout, _ = invoke(*args, "--resume")
    assert code == 0 and f"ran {8 - saved} replications ({saved} reused from earlier shards)" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), serial)


def test_resume_after_changing_the_files_sweep_reps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep section is no part of the scenario a resume compares: more reps in the file
    are run, fewer drop nothing."""
    f, out = tmp_path / "s.yaml", tmp_path / "s"
    f.write_text(yaml.safe_dump({**SAFE, "sweep": {"reps": 2}}))
    sim.sweep(f, out=out)
    ran = counting(monkeypatch)
    for reps, expected in ((3, [2]), (1, [])):
        f.write_text(yaml.safe_dump({**SAFE, "sweep": {"reps": reps}}))
        code, stdout, err = invoke("sweep", str(f), "--out", str(out), "--resume", "--no-charts")
        assert code == 0 and ran == expected and f"({3 - len(expected)} reused" in stdout, err
        ran.clear()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), sim.sweep(SAFE, reps=3))
