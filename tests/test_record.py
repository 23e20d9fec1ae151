"""sim.behaviour.record: a run's message copies as columns, in time order, and their groups
by (user, generation, app)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings

from histories import scenarios
from sim.behaviour import APPS, Copies, Send, Simulation
from sim.scenario import validate


def _part(at: list[float], user: list[int], gen: list[int], app: list[int], sender: list[int]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(c) for c in (at, user, gen, app, sender))


def test_copies_are_in_time_order_and_a_tie_keeps_the_order_of_the_parts() -> None:
    names: dict[str, int] = {}
    scripted = Copies.of_sends([Send(5.0, "bo", 1, "mail", "al")], names)
    drawn = _part([5.0, 2.0], [names["al"], names["bo"]], [2, 1], [0, 0], [0, 0])
    c = Copies.of([scripted, drawn], names)
    assert c.names == ("bo", "al")  # in the order first met
    assert c.at.tolist() == [2.0, 5.0, 5.0]
    assert [c.names[u] for u in c.user] == ["bo", "bo", "al"]  # the scripted copy first at day 5
    assert [APPS[a] for a in c.app] == ["voicemail", "mail", "voicemail"]
    assert c.message_ids() == ["m1", "m2", "m3"]


def test_groups_gather_the_copies_of_one_user_generation_and_app() -> None:
    c = Copies.of([_part([1.0, 2.0, 3.0, 4.0, 5.0], [0, 1, 0, 0, 0], [1, 1, 1, 2, 1], [0, 0, 1, 0, 0],
                         [0, 0, 0, 0, 0])], ["a", "b"])
    g = c.groups()
    members = [m.tolist() for m in g.members]
    assert sorted(members) == [[0, 4], [1], [2], [3]]
    assert all(g.of[m].tolist() == [i] * len(m) for i, m in enumerate(members))
    assert g.size.tolist() == [len(m) for m in members]


def test_no_copies_make_no_groups() -> None:
    c = Copies.of([_part([], [], [], [], [])], [])
    assert len(c.at) == 0 and c.groups().members == [] and c.message_ids() == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_each_copy_goes_to_its_users_latest_generation_at_its_send_time(data: dict[str, Any]) -> None:
    record = Simulation(validate(data), decrypt="generations").run()
    c = record.copies
    assert np.all(np.diff(c.at) >= 0)
    for at, user, g in zip(c.at.tolist(), c.user.tolist(), c.generation.tolist(), strict=True):
        created = [gen.created_at for gen in record.account.users[c.names[user]].generations]
        assert g == sum(t <= at for t in created) >= 1
