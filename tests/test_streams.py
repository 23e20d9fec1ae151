"""sim.behaviour.streams: random streams named by purpose and by name; the entropy of keys."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
import yaml

from helpers import SCENARIOS, device_history
from sim.behaviour import streams
from sim.behaviour.streams import STREAMS, Draws, key_entropy, name_key, stream
from sim.results import run as run_scenario
from sim.scenario import Exp, Fixed, load, validate


def test_a_named_stream_is_the_documented_seed_sequence() -> None:
    expected = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(2, STREAMS["fates"], 99)))
    assert stream(7, 2, "fates", 99).random(10).tolist() == expected.random(10).tolist()


def test_policies_compare_on_the_same_device_histories() -> None:
    """A sweep's grid points share each replication's history: varying the backup-key
    policy, or letting the server add devices that the user revokes, moves no device's
    joining, loss or replacement."""
    base = yaml.safe_load((SCENARIOS / "risk_policy.yaml").read_text())
    base["users"][0]["devices"][0]["fate"] = {"lost": {"exp": "120d"}}  # several losses in 2 years
    for rep in range(3):
        histories = []
        for change in ({"count": 0}, {"count": 1}, {"count": 2},
                       {"adversary": {"server_devices": {"exp": "60d"}}}):
            data = base | {"sweep": None}
            if "count" in change:
                data = data | {"behaviour": base["behaviour"] | {
                    "backup_keys": base["behaviour"]["backup_keys"] | change}}
            else:
                data = data | change | {"behaviour": base["behaviour"] | {"notice": {"delay": "3d"}}}
            histories.append(device_history(run_scenario(validate(data), rep=rep), "alice"))
        assert len(histories[0]) > 2
        assert all(h == histories[0] for h in histories), rep


def test_inserting_a_user_changes_no_other_users_history() -> None:
    alice = {"name": "alice", "devices": [
        {"name": "phone", "online": "daily", "fate": {"lost": {"exp": "60d"}}, "replacement": {"after": {"exp": "3d"}}},
        {"name": "laptop", "joins_at": {"exp": "20d"}, "online": "weekly"}]}
    bob = {"name": "bob", "devices": [{"name": "tab", "online": "daily", "fate": {"lost": {"exp": "30d"}}}]}
    base = {"horizon": "200d", "seed": 3, "argon2": {"memory_kib": 8, "passes": 1},
            "behaviour": {"approval": {"delay": {"exp": "2d"}}, "revocation": {"delay": {"exp": "1d"}}},
            "traffic": {"voicemail": {"every": {"exp": "7d"}}}}

    def alice_of(users: list[dict[str, Any]]) -> tuple[Any, ...]:
        r = run_scenario(validate(base | {"users": users}))
        e, m = r.events[r.events["user"] == "alice"], r.messages[r.messages["user"] == "alice"]
        return (e[["time", "event", "device", "detail"]].values.tolist(),
                m[["sent_at", "generation", "status"]].values.tolist())

    alone = alice_of([alice])
    assert alice_of([alice, bob]) == alone
    assert alice_of([bob, alice]) == alone


def test_the_ea_attack_and_the_ea_paper_move_no_ea_device_loss() -> None:
    base = {"horizon": "2y", "argon2": {"memory_kib": 8, "passes": 1},
            "users": [{"name": "alice", "devices": [{"name": "phone"}]}],
            "account": {"escrow": {"enabled_at": "10d", "admins": [{"name": "admin", "devices": [
                {"name": "ea1", "fate": {"lost": {"exp": "200d"}}},
                {"name": "ea2", "joins_at": {"exp": "30d"}, "fate": {"lost": {"exp": "300d"}}}]}]}}}

    def ea_losses(extra: dict[str, Any]) -> list[Any]:
        data = base | extra
        if "ea_backup_paper_lost" in extra:
            data = base | {"account": {"escrow": base["account"]["escrow"] | extra}}
        r = run_scenario(validate(data))
        ea = r.devices[(r.devices["user"] == "escrow-admins") & (r.devices["kind"] == "ea")]
        return ea[["device", "added_at", "lost_at"]].values.tolist()

    alone = ea_losses({})
    assert ea_losses({"adversary": {"ea_compromise": {"probability": 0.5, "after": {"exp": "90d"}}}}) == alone
    assert ea_losses({"ea_backup_paper_lost": {"exp": "1y"}}) == alone


def test_a_story_without_chance_makes_no_random_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed durations, certain outcomes and drawn traffic with fixed gaps and no recipient
    to pick draw nothing, so they make no stream (making one costs more than a small run's
    draws); drawn gaps do make their person's traffic stream."""
    made: list[tuple[object, ...]] = []
    real = streams.stream
    monkeypatch.setattr(streams, "stream", lambda *a: made.append(a) or real(*a))
    for name in ("help_article", "only_device_lost", "ea_compromise", "late_backup"):
        run_scenario(load(SCENARIOS / f"{name}.yaml"))
    assert made == []
    run_scenario(load(SCENARIOS / "quickstart.yaml"))
    assert "traffic" in {a[2] for a in made}


def test_the_purposes_keep_their_indices() -> None:
    """A purpose's index is part of every stream of that purpose: renumbering one would
    change every history. Index 0 is the keys' (drawn from key_entropy, not numpy)."""
    assert STREAMS == {"keys": 0, "escrow_admins": 1, "traffic": 2, "sessions": 3, "fates": 4, "approval": 5,
                       "fingerprint": 6, "revocation": 7, "notice": 8, "backup": 9, "recovery": 10, "escrow": 11,
                       "mitm": 12, "leak": 13, "server": 14, "ea_attack": 15,
                       "correspondents": 16}


def test_a_name_key_is_the_first_eight_bytes_of_its_sha256() -> None:
    assert name_key("alice") == int.from_bytes(hashlib.sha256(b"alice").digest()[:8], "big")
    assert name_key("phone#2") == int.from_bytes(hashlib.sha256(b"phone#2").digest()[:8], "big")
    assert len({name_key(n) for n in ("alice", "bob", "phone", "phone#2", "")}) == 5


def test_the_streams_of_a_person_are_keyed_by_their_name_then_by_what_is_asked() -> None:
    of_alice = streams.streams(7, 2, name_key("alice"))
    expected = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(2, STREAMS["fates"], name_key("alice"), 5)))
    assert of_alice("fates", 5).random(4).tolist() == expected.random(4).tolist()
    assert of_alice("fates", 5).random(4).tolist() == stream(7, 2, "fates", name_key("alice"), 5).random(4).tolist()
    # another purpose, name, replication or seed: another stream
    first = stream(7, 2, "fates", name_key("alice"), 5).random()
    for other in (stream(7, 2, "approval", name_key("alice"), 5), stream(7, 2, "fates", name_key("bob"), 5),
                  stream(7, 3, "fates", name_key("alice"), 5), stream(8, 2, "fates", name_key("alice"), 5)):
        assert other.random() != first


def test_key_entropy_is_blake2b_of_seed_and_replication() -> None:
    assert key_entropy(7, 2) == hashlib.blake2b(b"7/2", digest_size=32, person=b"dmesim/entropy").digest()
    assert len({key_entropy(7, 2), key_entropy(7, 3), key_entropy(8, 2), key_entropy(72, 0)}) == 4


def no_stream(*purpose: Any) -> np.random.Generator:
    raise AssertionError(f"a stream was made for {purpose}")


def test_a_certain_outcome_or_a_fixed_duration_draws_nothing() -> None:
    draws = Draws(no_stream)
    assert draws.chance(1.0, "approval") is True and draws.chance(1.5, "approval") is True
    assert draws.chance(0.0, "approval") is False
    assert draws.draw(Fixed.model_validate({"fixed": "2d"}), "fates", 9) == 2.0


def test_each_purpose_draws_from_its_own_stream_made_once() -> None:
    """Draws of one purpose do not move another's: the fates drawn are the same whether or
    not approvals were drawn in between."""
    made: list[tuple[Any, ...]] = []

    def make(purpose: str, *extra: int) -> np.random.Generator:
        made.append((purpose, *extra))
        return stream(3, 0, purpose, *extra)

    exp = Exp.model_validate({"exp": "2d"})
    alone = Draws(make)
    fates = [alone.draw(exp, "fates", 1) for _ in range(3)]
    mixed = Draws(make)
    interleaved = []
    for _ in range(3):
        interleaved.append(mixed.draw(exp, "fates", 1))
        mixed.chance(0.5, "approval")
    assert interleaved == fates
    reference = stream(3, 0, "fates", 1)
    assert fates == [float(reference.exponential(2.0)) for _ in range(3)]
    assert made == [("fates", 1), ("fates", 1), ("approval",)]  # one stream per purpose and Draws
    assert mixed.rng("approval") is mixed.rng("approval")


def test_an_uncertain_chance_is_one_draw_below_the_probability() -> None:
    draws = Draws(lambda purpose, *extra: stream(5, 1, purpose, *extra))
    reference = stream(5, 1, "revocation").random(20)
    assert [draws.chance(0.3, "revocation") for _ in range(20)] == (reference < 0.3).tolist()
