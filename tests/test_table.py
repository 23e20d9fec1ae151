"""sim.sweeps.table: the sweep table, one tidy row per replication, with labels and cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from helpers import SAFE
from sim.sweeps.table import point_label


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


def test_mapping_values_are_written_as_yaml_text() -> None:
    df = sim.sweep(SAFE, reps=1, vary={"traffic.voicemail.every": [{"exp": "5d"}, "9d"]})
    assert list(df["traffic.voicemail.every"]) == ["{exp: 5d}", "9d"]


def test_labels_tell_apart_paths_that_end_alike() -> None:
    vary = {"users.0.devices.0.online": ["daily", "weekly"], "users.1.devices.0.online": ["daily"],
            "behaviour.backup_keys.count": [0, 1]}
    point = {"users.0.devices.0.online": "weekly", "users.1.devices.0.online": "daily",
             "behaviour.backup_keys.count": 1}
    assert point_label(point, vary) == "devices.0.online=weekly, backup_keys.count=1"  # what varies
    vary["users.1.devices.0.online"].append("rare")
    assert point_label(point, vary) == ("users.0.devices.0.online=weekly, users.1.devices.0.online=daily, "
                                          "backup_keys.count=1")


def test_float_values_round_trip_through_the_grid() -> None:
    df = sim.sweep(SAFE, reps=1, vary={"users.0.devices.0.fate": [None, {"lost": {"exp": "30d"}}]})
    assert df["users.0.devices.0.fate"].isna().tolist() == [True, False]
    assert np.isfinite(df["messages"]).all()
