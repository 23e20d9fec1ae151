"""sim.sweeps.store: a sweep's folder (manifest, shards, traces, table) and what a resume refuses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import sim
from helpers import DOOMED, RISK, SAFE, SMALL, counting, invoke
from sim.results import FolderError
from sim.scenario import load, validate
from sim.sweeps import SweepError, read_traces


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


def test_resume_drops_traces_of_unsaved_batches(serial: pd.DataFrame, tmp_path: Path) -> None:
    sim.sweep(RISK, **SMALL, out=tmp_path, traces=True, batch_size=2)
    sorted((tmp_path / "shards").glob("*.parquet"))[0].unlink()  # its traces were written first
    sim.sweep(RISK, **SMALL, out=tmp_path, traces=True, resume=True, batch_size=1)
    names = lambda d: sorted(p.name for p in (tmp_path / d).glob("*.parquet"))  # noqa: E731
    assert names("traces") == names("shards") and len(names("shards")) == 5
    traces = read_traces(tmp_path)
    assert not traces.duplicated(["point", "rep", "message_id"]).any()
    assert traces.groupby("run_id").size().sum() == serial["messages"].sum()


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
    code, _, err = invoke("plot", str(tmp_path), "--out", str(tmp_path / "risk.png"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"dmesim: {tmp_path / 'sweep.parquet'}: not a readable sweep table: ")


def test_a_file_in_shards_that_is_no_shard_is_named(tmp_path: Path) -> None:
    sim.sweep(SAFE, reps=2, batch_size=1, out=tmp_path)
    (tmp_path / "sweep.parquet").unlink()
    foreign = tmp_path / "shards" / "zz.parquet"  # a run's message table, say
    sim.run(validate(SAFE)).messages.to_parquet(foreign)
    problem = f"{foreign}: not a shard of this sweep (no column run_id, point, rep, seed, label; delete it"
    code, stdout, err = invoke("plot", str(tmp_path), "--out", str(tmp_path / "r.png"))
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"dmesim: {problem}"), err
    with pytest.raises(FolderError, match=re.escape(problem)):
        sim.sweep(SAFE, reps=2, out=tmp_path, resume=True)
    shutil.copytree(tmp_path / "shards", tmp_path / "traces")  # summary shards are no message tables
    with pytest.raises(FolderError, match="traces/p00000-r0000000-0000000.parquet: not a shard of "
                                                 "this sweep \\(no column message_id"):
        read_traces(tmp_path)
    foreign.unlink()
    assert len(sim.sweep(SAFE, reps=2, out=tmp_path, resume=True)) == 2


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
    code, _, err = invoke("sweep", str(f), "--reps", "2", "--out", str(out), "--resume")
    assert code == 2 and err.count("\n") == 1 and "--reps 4 or more" in err
    assert (out / "sweep.parquet").read_bytes() == table
    ran = counting(monkeypatch)  # without --reps, resume keeps the sweep's own count (not 100)
    code, stdout, err = invoke("sweep", str(f), "--out", str(out), "--resume", "--no-charts")
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
            code, stdout, err = invoke(*args)
            assert code == 2 and err.count("\n") == 1 and "Traceback" not in err + stdout
            assert err.startswith(f"dmesim: {out / 'manifest.json'}: "), err


def test_resume_refuses_shards_without_a_manifest(tmp_path: Path) -> None:
    sim.sweep(SAFE, reps=1, out=tmp_path)
    for name in ("manifest.json", "sweep.parquet", "sweep.csv"):
        (tmp_path / name).unlink()
    with pytest.raises(SweepError, match="manifest.json is missing"):
        sim.sweep(SAFE, reps=1, out=tmp_path, resume=True)
