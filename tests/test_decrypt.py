"""Deciding who reads what per message or per generation (sim.results.build): the same
tables and summary either way, from far fewer operations per generation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from helpers import SCENARIOS
from histories import scenarios
from sim.results import Result
from sizes import included

TABLES = ("messages", "devices", "holders", "generations", "events")


def same_results(a: Result, b: Result) -> None:
    for name in TABLES:
        pd_a, pd_b = getattr(a, name), getattr(b, name)
        assert pd_a.equals(pd_b), name
    strip = {"ops", "simpy_events", "decrypt"}
    assert {k: v for k, v in a.summary.items() if k not in strip} == \
        {k: v for k, v in b.summary.items() if k not in strip}


@pytest.mark.parametrize("path", included(), ids=lambda p: p.stem)  # large ones aside (tests/sizes.py)
def test_every_included_scenario_reads_the_same_per_generation(path: Path) -> None:
    for seed in (1, 2, 3):
        by_message = sim.run(path, seed=seed, decrypt="messages")
        by_generation = sim.run(path, seed=seed, decrypt="generations")
        same_results(by_message, by_generation)
        assert (by_message.summary["decrypt"], by_generation.summary["decrypt"]) == ("messages", "generations")


def test_per_generation_seals_one_probe_per_user_generation_and_app() -> None:
    r = sim.run(SCENARIOS / "household.yaml", decrypt="generations")
    groups = r.messages.groupby(["user", "generation", "app"]).ngroups
    ops: dict[str, Any] = r.summary["ops"]
    assert ops["content_seal"] == groups < len(r.messages)
    # each reader of a generation opens each of its probes: as many opens as readable groups' readers
    readable = r.messages[r.messages["status"] == "readable"].drop_duplicates(["user", "generation", "app"])
    assert ops["content_open"] == sum(len(x.split(",")) for x in readable["readable_by"])
    assert sim.run(SCENARIOS / "household.yaml").summary["ops"]["content_seal"] == len(r.messages)


def test_the_scenario_says_how_to_decide_and_a_call_may_override_it() -> None:
    from sim.scenario import load
    s = load(SCENARIOS / "help_article.yaml").model_copy(update={"decrypt": "generations"})
    assert sim.run(s).summary["decrypt"] == "generations"
    assert sim.run(s, decrypt="messages").summary["decrypt"] == "messages"
    with pytest.raises(ValueError, match="decrypt must be one of messages, generations"):
        sim.run(s, decrypt="bytes")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans())
def test_random_histories_read_the_same_per_generation(data: dict[str, Any], post_quantum: bool) -> None:
    """Escrow, backup keys, losses, every adversary, post-quantum keys or not: deciding per
    generation changes no table and no summary figure but the operation counts."""
    from sim.scenario import validate

    s = validate({**data, "post_quantum": post_quantum})
    same_results(sim.run(s, decrypt="messages"), sim.run(s, decrypt="generations"))
