"""Populations: users entries with count (README, Scenario files; docs/model.md §14, §15) and
the population figures of the summary (sim.results.summary)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import sim
from helpers import run
from histories import scenarios
from sim.results.summary import quarter_days

PEOPLE = """
seed: 4
horizon: 1y
behaviour:
  approval: {probability: 0.7, delay: {exp: 5d}}
  revocation: {probability: 0.5, delay: {exp: 5d}}
traffic: {voicemail: {every: {exp: 9d}}, mail: {every: {exp: 9d}, to: {group: g, k: 2}}}
users:
  - {name: alice, group: g, devices: [{name: phone, online: daily}]}
  - name: "p{i}"
    count: %d
    group: g
    devices:
      - {name: phone, online: daily, fate: {lost: {exp: 200d}}, replacement: {after: {exp: 10d}}}
      - {name: laptop, online: weekly, joins_at: {exp: 30d}, fate: {stolen: {exp: 400d}}}
"""


def own_history(r: Any, user: str) -> list[pd.DataFrame]:
    """What of a person's history their own streams decide: devices, events, voicemail."""
    d = r.devices[r.devices["user"] == user].drop(columns=["generations"])
    e = r.events[r.events["user"] == user][["time", "event", "device", "detail"]]
    v = r.messages[(r.messages["user"] == user) & (r.messages["app"] == "voicemail")][["sent_at"]]
    return [t.reset_index(drop=True) for t in (d, e, v)]


def test_adding_people_shifts_no_one_elses_draws() -> None:
    few, more = run(PEOPLE % 5), run(PEOPLE % 8)
    assert set(more.devices["user"]) - set(few.devices["user"]) == {"p6", "p7", "p8"}
    for user in ["alice", "p1", "p2", "p3", "p4", "p5"]:
        for a, b in zip(own_history(few, user), own_history(more, user), strict=True):
            pd.testing.assert_frame_equal(a, b)
    # each person's correspondents are drawn among the group, which grew: who they mail may change
    assert len(few.devices) > 10 and (few.events["event"] == "stolen").any()


# Four people over 100 days, a voicemail every 10 days each (days 10 … 90): a loses her only
# phone on day 10; b loses his on day 60, replaced 5 days later; c's phone, which approved
# her laptop, is stolen on day 50; nothing happens to d.
KNOWN = """
horizon: 100d
traffic: {voicemail: {every: 10d}}
users:
  - {name: a, devices: [{name: phone}]}
  - {name: b, devices: [{name: phone, replacement: {after: 5d}}]}
  - {name: c, devices: [{name: phone}, {name: laptop}], behaviour: {approval: {}}}
  - {name: d, devices: [{name: phone}]}
timeline:
  - {at: 10d, action: lose, user: a, device: phone}
  - {at: 60d, action: lose, user: b, device: phone}
  - {at: 50d, action: steal, user: c, device: phone}
"""


def test_the_population_figures_of_a_known_history() -> None:
    r = run(KNOWN)
    s = r.summary
    lost = r.messages[r.messages["status"] == "lost"].groupby("user").size().to_dict()
    assert lost == {"a": 9, "b": 6}  # b's mail of days 70-90 goes to the replacement's generation
    assert (s["users"], s["users_with_loss"], s["share_users_with_loss"]) == (4, 2, 0.5)
    assert s["share_users_with_loss_by"] == {"day_25": 0.25, "day_50": 0.25, "day_75": 0.5, "day_100": 0.5}
    fractions = [1.0, 6 / 9, 0.0, 0.0]
    assert s["user_fraction_lost_mean"] == pytest.approx(sum(fractions) / 4)
    assert s["user_fraction_lost_p50"] == pytest.approx(1 / 3)  # halfway between 0 and 6/9
    assert s["user_fraction_lost_p90"] == pytest.approx(6 / 9 + 0.7 * (1 - 6 / 9))  # linear interpolation
    assert s["user_fraction_lost_max"] == 1.0
    assert (s["users_exposed"], s["share_users_exposed"]) == (1, 0.25)  # the thief reads c's messages


def test_the_population_figures_become_sweep_columns() -> None:
    from sim.sweeps.table import summary_row

    row = summary_row(run(KNOWN).summary)
    keys = ["users", "users_with_loss", "share_users_with_loss", "user_fraction_lost_mean",
            "user_fraction_lost_p50", "user_fraction_lost_p90", "user_fraction_lost_max", "users_exposed",
            "share_users_exposed", *(f"share_users_with_loss_by_day_{d}" for d in (25, 50, 75, 100))]
    assert all(isinstance(row[k], int | float) and not isinstance(row[k], bool) for k in keys)


def test_without_messages_the_fractions_are_none() -> None:
    s = run("horizon: 20d\nusers: [{name: a, devices: [{name: p}]}]\n").summary
    assert (s["users"], s["users_with_loss"], s["share_users_with_loss"]) == (1, 0, 0.0)
    assert [s[f"user_fraction_lost_{k}"] for k in ("mean", "p50", "p90", "max")] == [None] * 4


@pytest.mark.parametrize(("horizon", "days"), [(365.0, [91, 183, 274, 365]), (100.0, [25, 50, 75, 100]),
                                               (2.0, [1, 2]), (0.5, [1]), (1095.0, [274, 548, 821, 1095])])
def test_the_days_of_the_share_with_a_loss_are_the_quarters_rounded(horizon: float, days: list[int]) -> None:
    assert quarter_days(horizon) == days


def test_the_share_with_a_loss_by_day_follows_the_first_losses() -> None:
    r = run(PEOPLE % 30)
    s = r.summary
    m: pd.DataFrame = r.messages
    first = m[m["status"] == "lost"].groupby("user")["lost_at"].min()
    for key, share in s["share_users_with_loss_by"].items():
        assert share == (first <= int(key.removeprefix("day_"))).sum() / 31
    shares = list(s["share_users_with_loss_by"].values())
    assert shares == sorted(shares) and shares[-1] == s["share_users_with_loss"] > 0
    per_user = (m["status"] == "lost").groupby(m["user"]).mean()
    assert s["user_fraction_lost_mean"] == pytest.approx(per_user.mean())
    assert s["user_fraction_lost_max"] == per_user.max() and not math.isnan(s["user_fraction_lost_p90"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_the_summary_counts_what_the_messages_table_holds(data: dict[str, Any]) -> None:
    """The summary is counted from columns; the same figures from the table, with pandas."""
    from sim.scenario import validate

    r = sim.run(validate(data), decrypt="generations")
    m, s = r.messages, r.summary
    lost = m[m["status"] == "lost"]
    assert (s["messages"], s["lost"], s["exposed"]) == (len(m), len(lost), int((m["exposed_to"] != "").sum()))
    assert (s["readable"], s["recoverable"]) == tuple(int((m["status"] == k).sum()) for k in ("readable", "recoverable"))
    assert s["first_loss_at"] == (lost["lost_at"].min() if len(lost) else None)
    people = [u["name"] for u in data["users"]]
    by_user = m[m["user"].isin(people)].groupby("user")
    fractions = [by_user.get_group(p)["status"].eq("lost").mean() for p in people if p in by_user.groups]
    assert s["users_with_loss"] == lost[lost["user"].isin(people)]["user"].nunique()
    assert s["user_fraction_lost_max"] == (max(fractions) if fractions else None)
    assert s["user_fraction_lost_mean"] == (pytest.approx(sum(fractions) / len(fractions)) if fractions else None)
    assert s["users_exposed"] == m[(m["exposed_to"] != "") & m["user"].isin(people)]["user"].nunique()
