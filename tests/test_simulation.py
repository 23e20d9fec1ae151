"""sim.behaviour.simulation: one replication, against brute force on random scenarios; names it makes up."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import crypto_calls, derived_again, events, repeated, run
from histories import scenarios
from sim.behaviour.record import RunRecord
from sim.behaviour.simulation import Simulation
from sim.model import APP_KEY, PHYSICAL, DecryptionFailed
from sim.results import build_result
from sim.results import run as run_scenario
from sim.scenario import Scenario, load, validate
from sizes import included


def brute_force(record: RunRecord) -> dict[str, set[str]]:
    """Every in-hand physical device tries every message with keys from its own boxes,
    derived afresh (no cache of the model is used)."""
    account = record.account
    crypto = account.crypto
    out: dict[str, set[str]] = {}
    for m in record.sealed:
        u = account.users[m.user]
        out[m.message_id] = set()
        for d in u.devices.values():
            if d.kind != PHYSICAL or not account.available(u.id, d.name):
                continue
            box = u.boxes.get((m.generation, d.name))
            if box is None:
                continue
            seed = crypto.open_box(box.ciphertext, d.keys.kem,
                                   f"{u.id}/{box.generation}/{box.sender}/{d.name}".encode())
            key = getattr(crypto.generation_keys(seed), APP_KEY[m.app])
            try:
                plain = crypto.open_content(m.ciphertext, key, m.binding)
            except DecryptionFailed:
                continue
            if plain == m.message_id.encode():
                out[m.message_id].add(d.name)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_readable_by_equals_brute_force_decryption(data: dict[str, Any]) -> None:
    record = Simulation(validate(data)).run()
    result = build_result(record)
    expected = brute_force(record)
    got = {row.message_id: {x for x in str(row.readable_by or "").split(",") if x}
           for row in result.messages.itertuples()}
    assert got == expected
    for row in result.messages.itertuples():
        assert (row.status == "readable") == bool(got[row.message_id])
        if row.status == "lost":
            assert row.lost_at >= 0 and row.lost_cause
    # an adversary reads no message sent after its window closed
    readers_of = result.messages["exposed_to"].str.split(",")
    for w in result.summary["adversaries"]:
        if w["window_end"] is not None:
            hit = result.messages[[w["adversary"] in xs for xs in readers_of]]
            assert (hit["sent_at"] < w["window_end"]).all(), w


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_each_copy_belongs_to_the_latest_generation_at_its_send_time(data: dict[str, Any]) -> None:
    """Drawn traffic is placed after the run: each copy still goes to the generation
    that was its user's latest when it was sent, never to one before or after (one
    created at the same instant comes before a drawn send, and before or after a
    scripted one, as the timeline orders them)."""
    record = Simulation(validate(data)).run()
    messages = build_result(record).messages
    assert list(messages.message_id) == [f"m{i}" for i in range(1, len(messages) + 1)]
    assert messages.sent_at.is_monotonic_increasing
    for row in messages.itertuples():
        created = [g.created_at for g in record.account.users[row.user].generations]
        assert sum(t < row.sent_at for t in created) <= row.generation <= sum(t <= row.sent_at for t in created)
        assert row.generation >= 1
        assert row.sent_at < record.scenario.horizon


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_cryptographic_operation_is_repeated_in_random_histories(data: dict[str, Any]) -> None:
    """With escrow, backup keys, losses, thefts and every adversary in play, no box or
    message is opened twice with one key and nothing is sealed, signed, verified or
    derived twice: the counters the benchmarks' floor prices are all needed."""
    simulation = Simulation(validate(data))
    with crypto_calls() as calls:
        record = simulation.run()
        build_result(record)
    assert not repeated(calls)
    assert not derived_again(record.adversaries, calls)  # nor an adversary what the device it took derived


def freed_when_dropped(scenario: Scenario) -> bool:
    """Run ``scenario`` and drop everything of it: after a garbage collection, is its
    account (and every key in it) gone?"""
    record = Simulation(scenario).run()
    build_result(record)
    account = weakref.ref(record.account)
    del record
    gc.collect()
    return account() is None


@pytest.mark.parametrize("path", included(), ids=lambda p: p.stem)  # large ones aside (tests/sizes.py)
def test_a_finished_run_is_freed_when_dropped(path: Path) -> None:
    """Nothing outside a run keeps it: a sweep frees each replication once it is done."""
    assert freed_when_dropped(load(path))


@settings(max_examples=10, deadline=None)
@given(scenarios(), st.integers(0, 3))
def test_same_seed_and_rep_same_tables(data: dict[str, Any], rep: int) -> None:
    s = validate(data)
    a, b = run_scenario(s, rep=rep), run_scenario(s, rep=rep)
    assert a.messages.equals(b.messages) and a.events.equals(b.events)
    assert a.summary == b.summary


# ---------------------------------------------------------------- names the simulation makes up


def test_automatic_names_never_clash_with_devices_on_the_chain() -> None:
    """A scripted backup key without a name after a paper was lost, and a scripted server
    device named like the server's next automatic one: each gets a fresh name."""
    r = run("""
adversary: {server_devices: {fixed: 20d}}
users:
  - name: alice
    devices: [{name: phone}]
timeline:
  - {at: 1d, action: create_backup_key, user: alice, by: phone}
  - {at: 5d, action: paper_lost, user: alice, device: backup-1}
  - {at: 10d, action: create_backup_key, user: alice, by: phone}
  - {at: 15d, action: server_add_device, user: alice, name: server-1}
""")
    kinds = r.devices.set_index("device")["kind"].to_dict()
    assert {k: kinds[k] for k in ("backup-1", "backup-2", "server-1", "server-2")} == {
        "backup-1": "backup", "backup-2": "backup", "server-1": "physical", "server-2": "physical"}
    assert events(r, "refused") == []


def test_automatic_names_leave_the_names_of_devices_that_join_later() -> None:
    r = run("""
users:
  - name: alice
    devices: [{name: phone}, {name: backup-1, joins_at: 5d}]
timeline:
  - {at: 1d, action: create_backup_key, user: alice, by: phone}
""")
    kinds = r.devices.set_index("device")["kind"].to_dict()
    assert (kinds["backup-1"], kinds["backup-2"]) == ("physical", "backup")
    assert events(r, "refused") == []
