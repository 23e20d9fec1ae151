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
    assert send_times(stream.every, _no_stream, 35.0).tolist() == [10.0, 20.0, 30.0]


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


def test_correspondents_are_k_distinct_others_drawn_once_from_the_persons_own_stream() -> None:
    from sim.behaviour.people import Person
    from sim.behaviour.streams import STREAMS, name_key, streams
    from sim.behaviour.traffic import Group, correspondents
    from sim.scenario import Behaviour, Correspondents, Traffic

    group = Group([f"p{i}" for i in range(1, 8)])
    pick = Correspondents(group="g", k=6)
    for name in group.names + ["outsider"]:
        person = Person(streams(5, 0, name_key(name)), name, Behaviour(), Traffic())
        chosen = correspondents(person, pick, group)
        assert len(set(chosen)) == 6 and name not in chosen and set(chosen) <= set(group.names)
        assert set(person._rngs) == {("correspondents",)}  # drawn from its own stream, nothing else
        # the draw is numpy's choice among the others, mapped past the person's own place
        rng = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(0, STREAMS["correspondents"], name_key(name))))
        others = [n for n in group.names if n != name]
        assert chosen == [others[c] for c in rng.choice(len(others), size=6, replace=False)]


def test_mail_within_a_group_goes_to_each_senders_own_correspondents() -> None:
    r = run("""
horizon: 200d
traffic: {mail: {every: 2d, to: {group: club, k: 2}}}
users:
  - {name: "m{i}", count: 6, group: club, devices: [{name: phone}]}
  - {name: outsider, devices: [{name: phone}], traffic: {mail: {every: 2d, to: {group: club, k: 6}}}}
""", seed=3)
    m = r.messages[r.messages["app"] == "mail"]
    to = {sender: set(g["user"]) - {sender} for sender, g in m.groupby("sender")}
    assert all(len(to[f"m{i}"]) == 2 and to[f"m{i}"] <= {f"m{j}" for j in range(1, 7)} for i in range(1, 7))
    assert to["outsider"] == {f"m{j}" for j in range(1, 7)}  # not in the group: any six of its people
    assert (m.groupby("sender").size() > 2 * 60).all()  # each mail is two copies: recipient's and sender's
