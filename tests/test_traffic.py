"""sim.behaviour.traffic: drawn send times, recipients, and the generation of each copy."""

from __future__ import annotations

from functools import partial

import numpy as np

from helpers import run
from sim.behaviour.traffic import send_times
from sim.results import run as run_scenario
from sim.scenario import Stream, validate


def test_send_times_cover_the_horizon_at_the_drawn_rate() -> None:
    stream = Stream.model_validate({"every": {"exp": "2d"}})
    times = send_times(stream.every, partial(np.random.default_rng, 3), 2000.0)
    assert np.all(np.diff(times) > 0) and times[0] > 0 and times[-1] < 2000.0
    assert abs(len(times) - 1000) < 5 * np.sqrt(1000)  # Poisson: mean 1000, sd about 32


def _no_stream() -> np.random.Generator:
    raise AssertionError("fixed gaps draw nothing")


def test_fixed_gaps_land_exactly() -> None:
    stream = Stream.model_validate({"every": "10d"})
    assert send_times(stream.every, _no_stream, 35.0) == [10.0, 20.0, 30.0]


def test_mail_reaches_a_recipient_only_once_they_have_a_device() -> None:
    s = validate({
        "horizon": "100d", "seed": 1,
        "users": [
            {"name": "a", "devices": [{"name": "p", "joins_at": "0d"}],
             "traffic": {"mail": {"every": "10d", "to": ["b"]}}},
            {"name": "b", "devices": [{"name": "p", "joins_at": "45d"},
                                      {"name": "q", "joins_at": "70d"}]},
        ]})
    m = run_scenario(s).messages
    rows = list(m[["message_id", "user", "sender", "sent_at", "generation"]].itertuples(index=False, name=None))
    before = [r for r in rows if r[3] < 45]
    assert [(r[1], r[3]) for r in before] == [("a", t) for t in (10.0, 20.0, 30.0, 40.0)]
    after = [r for r in rows if r[3] >= 45]
    assert [(r[1], r[3]) for r in after] == [(u, float(t)) for t in range(50, 100, 10) for u in ("b", "a")]
    # b's copies: generation 1 until q joins on day 70 (a device add makes generation 2)
    assert [(r[3], r[4]) for r in after if r[1] == "b"] == [(50.0, 1), (60.0, 1), (70.0, 2), (80.0, 2), (90.0, 2)]
    assert {r[2] for r in rows} == {"a"}
    assert [r[0] for r in rows] == [f"m{i}" for i in range(1, len(rows) + 1)]


def test_a_drawn_send_at_the_instant_a_device_joins_goes_to_the_generation_it_adds() -> None:
    """Drawn traffic has no place in the event order: a send at an instant comes after
    every event of that instant (here, on day 14, the replacement joining)."""
    r = run("""
horizon: 20d
traffic: {voicemail: {every: 7d}}
users:
  - name: alice
    devices: [{name: phone, fate: {lost: 10d}, replacement: {after: 4d}}]
""")
    assert r.generations["created_at"].tolist() == [0.0, 14.0]
    assert r.messages[["sent_at", "generation", "readable_by"]].values.tolist() == [
        [7.0, 1, ""], [14.0, 2, "phone#2"]]
