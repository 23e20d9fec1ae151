"""scenarios/*.yaml: each included scenario's story and outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers import SCENARIOS, crypto_calls, device, readers, repeated, run_file, status
from sim.model import EA_USER
from sim.scenario import EA_BACKUP, load, read_yaml
from sizes import SMALL_PEOPLE, included, large


def test_every_included_scenario_validates() -> None:
    from sim.scenario import load

    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) >= 12
    for f in files:
        assert load(f).horizon > 0


def test_every_included_scenario_still_validates() -> None:
    for f in sorted(SCENARIOS.glob("*.yaml")):
        load(f)


class TestHelpArticle:
    """Messages: m1 (day 1) and m2 (day 5) under generation 1, m3 (day 12) under 2,
    m4 (day 21) under 3, m5 (day 40) under 4."""

    def test_second_device_reads_new_data_at_once_but_old_only_after_approval(self) -> None:
        r = run_file("help_article", horizon="15d")
        assert readers(r, "m3") == {"phone", "laptop"}  # new data: at once
        assert readers(r, "m1") == {"phone"}  # older data: not before approval
        assert device(r, "alice", "laptop")["data_access"] == 10.0

    def test_third_device_approved_by_second_gets_the_seconds_data_access(self) -> None:
        r = run_file("help_article", horizon="25d")
        assert device(r, "alice", "tablet")["data_access"] == 10.0
        assert device(r, "alice", "tablet")["approved_by"] == "laptop"
        assert readers(r, "m3") == {"phone", "laptop", "tablet"}
        assert readers(r, "m1") == {"phone"}

    def test_oldest_approving_too_gives_the_oldest_data_access(self) -> None:
        # Variant of the story: the phone approves on day 25, before it is lost.
        from sim.scenario import read_yaml

        events = read_yaml(SCENARIOS / "help_article.yaml")["timeline"]
        events.append({"at": "25d", "action": "approve", "user": "alice", "by": "phone"})
        r = run_file("help_article", timeline=events)
        assert device(r, "alice", "tablet")["data_access"] == 0.0
        assert set(status(r).values()) == {"readable"}

    def test_oldest_lost_before_approving_loses_the_oldest_data(self) -> None:
        r = run_file("help_article")
        st = status(r)
        assert st == {"m1": "lost", "m2": "lost", "m3": "readable", "m4": "readable", "m5": "readable"}
        lost = r.messages[r.messages["status"] == "lost"]
        assert set(lost["lost_at"]) == {30.0}
        assert set(lost["lost_cause"]) == {"phone lost"}
        assert readers(r, "m5") == {"laptop", "tablet"}
        assert r.summary["first_loss_at"] == 30.0

    def test_backup_key_made_early_loses_nothing(self) -> None:
        r = run_file("help_article_backup")
        assert set(status(r).values()) == {"readable"}
        assert readers(r, "m1") == {"laptop", "tablet"}
        assert device(r, "alice", "tablet")["data_access"] == 0.0
        assert "backup_recover" in set(r.events["event"])

    def test_escrow_admin_recovers_it(self) -> None:
        r = run_file("help_article_escrow")
        assert set(status(r).values()) == {"readable"}
        assert readers(r, "m1") == {"laptop", "tablet"}
        assert "escrow_recover" in set(r.events["event"])
        # without the recovery the same history has m1, m2 only recoverable via escrow
        r2 = run_file("help_article_escrow", horizon="31d6h")
        assert status(r2)["m1"] == "recoverable"
        assert r2.messages.set_index("message_id").loc["m1", "recoverable_via"] == "escrow"


def test_new_device_while_older_devices_stay_offline() -> None:
    before = run_file("offline_old_devices", horizon="39d")
    first = before.messages.iloc[0]
    assert first["sent_at"] < 5.0
    assert readers(before, first["message_id"]) == {"phone"}
    assert device(before, "alice", "laptop")["approved_by"] == ""
    after = run_file("offline_old_devices")
    assert device(after, "alice", "laptop")["approved_by"] == "phone"
    approve = after.events[after.events["event"] == "batch_approve"]
    assert list(approve["time"]) == [42.0]
    assert readers(after, first["message_id"]) == {"phone", "laptop"}
    assert after.summary["lost"] == 0


def test_only_device_lost_without_backup_loses_everything_before() -> None:
    r = run_file("only_device_lost")
    m = r.messages
    old, new = m[m["sent_at"] < 100], m[m["sent_at"] > 103]
    assert len(old) and (old["status"] == "lost").all() and (old["lost_at"] == 100.0).all()
    assert (new["status"] == "readable").all()
    assert r.summary["any_loss"] and r.summary["first_loss_at"] == 100.0


def test_only_device_lost_with_backup_loses_nothing() -> None:
    r = run_file("only_device_lost_backup")
    assert r.summary["lost"] == 0 and r.summary["messages"] > 10
    assert set(r.messages["readable_by"]) == {"phone#2"}
    assert device(r, "alice", "phone#2")["data_access"] == 0.0


def test_late_backup_holds_only_what_its_creator_held() -> None:
    r = run_file("late_backup")
    m = r.messages
    backup = device(r, "alice", "backup-1")
    assert "1" not in backup["generations"].split(",")  # the tablet never had generation 1
    assert (m[m["sent_at"] < 60]["status"] == "lost").all()
    assert (m[m["sent_at"] < 60]["lost_at"] == 120.0).all()
    assert (m[m["sent_at"] > 60]["status"] == "readable").all()
    assert device(r, "alice", "laptop")["approved_by"] == "backup-1"


def test_web_revocation_leaves_the_key_stale_until_a_device_rotates() -> None:
    r = run_file("web_revoke")
    m = r.messages
    phone_gens = {int(g) for g in device(r, "alice", "phone")["generations"].split(",")}
    window = m[(m["sent_at"] > 51) & (m["sent_at"] < 70)]
    assert len(window) and set(window["generation"]) <= phone_gens  # still sealed to a stale key
    later = m[m["sent_at"] > 70]
    assert len(later) and not set(later["generation"]) & phone_gens
    rotate = r.events[r.events["event"] == "rotate"]
    assert list(rotate["time"]) == [70.0] and list(rotate["device"]) == ["laptop"]
    assert bool(device(r, "alice", "phone")["revoked_signed"]) is False


def test_escrow_enabled_late_leaves_a_member_who_never_comes_online_unescrowed() -> None:
    r = run_file("escrow_late")
    m = r.messages
    assert (m[m["user"] == "alice"]["status"] == "readable").all()
    bob_old = m[(m["user"] == "bob") & (m["sent_at"] < 300)]
    assert len(bob_old) and (bob_old["status"] == "lost").all()
    assert not ((r.devices["user"] == "bob") & (r.devices["kind"] == "escrow")).any()
    assert ((r.devices["user"] == "alice") & (r.devices["kind"] == "escrow")).any()


def test_escrow_admins_lose_everything_then_member_loses_all_devices() -> None:
    r = run_file("escrow_admins_lost")
    gens = r.generations.set_index(["user", "generation"])
    # the EA device is lost on day 100, the EA backup's paper 100 days after escrow was enabled
    assert gens.loc[(EA_USER, 1), "lost_at"] == 110.0
    assert device(r, EA_USER, EA_BACKUP)["lost_at"] == 110.0
    assert (r.summary["generations_lost"], r.summary["ea_generations_lost"]) == (1, 1)
    old = r.messages[r.messages["sent_at"] < 200]
    assert len(old) and (old["status"] == "lost").all() and (old["lost_at"] == 200.0).all()
    # before the admins' losses the same member would have been recoverable through escrow
    early = run_file("escrow_admins_lost", horizon="95d")
    assert early.devices.set_index(["user", "device"]).loc[("alice", "escrow"), "available"]


def test_household_three_years_replaces_phones() -> None:
    r = run_file("household")
    phones = r.devices[(r.devices["label"] == "phone")]
    assert r.summary["horizon"] == 3 * 365
    assert r.summary["messages"] > 500
    assert len(phones) >= 3  # at least one replacement over three years
    assert set(r.messages["status"]) <= {"readable", "recoverable", "lost"}


@pytest.mark.parametrize("name", ["household", "quickstart"])
def test_same_seed_same_tables_different_seed_different_history(name: str) -> None:
    a, b, c = run_file(name), run_file(name), run_file(name, seed=12345)
    for t in ("messages", "devices", "events", "holders", "generations"):
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t))
    assert a.summary == b.summary
    assert not a.events[["time", "event"]].equals(c.events[["time", "event"]])


def test_quickstart_loses_nothing_and_replaces_the_phone() -> None:
    r = run_file("quickstart")
    assert r.summary["lost"] == 0 and r.summary["messages"] > 100
    laptop = device(r, "alice", "laptop")
    assert laptop["approved_by"] == "phone" and laptop["data_access"] == 0.0
    phone = device(r, "alice", "phone")
    assert phone["lost_at"] == 180.0 and phone["revoked_signed"] is True
    assert device(r, "alice", "phone#2")["data_access"] == 0.0
    assert device(r, "alice", "backup-1")["kind"] == "backup"
    assert (r.messages["readable_by"].str.contains("laptop")).all()


def test_approval_habits_prompt_answered_in_time_or_not() -> None:
    prompt = run_file("approval_habits", users__0__devices__0__online="daily",
                      behaviour__approval__delay="1h", users__0__devices__0__fate=None)
    assert device(prompt, "alice", "laptop")["approved_by"] == "phone"
    assert prompt.summary["lost"] == 0
    # the phone never comes online to show the prompt, and is lost on day 20
    never = run_file("approval_habits", users__0__devices__0__online="never",
                     users__0__devices__0__fate={"lost": "20d"})
    m = never.messages
    assert device(never, "alice", "laptop")["approved_by"] == ""
    first_week = m[m["sent_at"] < 7]
    assert len(first_week) and (first_week["status"] == "lost").all()
    assert (first_week["lost_at"] == 20.0).all()
    assert (m[m["sent_at"] > 7]["status"] == "readable").all()


def test_risk_policy_backup_keys_decide_the_loss() -> None:
    sure_loss = {"users__0__devices__0__fate": {"lost": "100d"}}
    none = run_file("risk_policy", behaviour__backup_keys__count=0, **sure_loss)
    assert none.summary["any_loss"] and none.summary["first_loss_at"] == 100.0
    kept = run_file("risk_policy", behaviour__backup_keys__count=2,
                    behaviour__backup_keys__paper_lost=None, **sure_loss)
    assert not kept.summary["any_loss"]
    assert "backup_recover" in set(kept.events["event"])


def test_no_cryptographic_operation_is_repeated() -> None:
    """The benchmarks' floor is every operation a run counts, so none may be a repeat:
    each box and each message opened once per key (an adversary holding a reader's seed
    or a taken device's opened seeds opens nothing again), each seal, signature,
    verification and generation derivation made once. A key derived again from the same
    secret by another party (a backup string typed into a new device) is a new operation."""
    from sim.results import run as run_scenario
    from sim.scenario import load

    for f in included():
        with crypto_calls() as calls:
            ops = run_scenario(load(f)).summary["ops"]
        assert sum(calls.values()) == sum(n for k, n in ops.items() if not k.startswith(("device_keygen", "argon2")))
        assert not repeated(calls), f"{f.name} repeats {repeated(calls)}"
    for f in large():  # a smaller population, two months, every message opened
        with crypto_calls() as calls:
            ops = run_file(f.stem, decrypt="messages", **smaller(f)).summary["ops"]
        assert sum(calls.values()) == sum(n for k, n in ops.items() if not k.startswith(("device_keygen", "argon2")))
        assert not repeated(calls), f"{f.name} repeats {repeated(calls)}"


# ---------------------------------------------------------------- populations (tests/sizes.py)


def smaller(path: Path, people: int = 12, horizon: str = "60d") -> dict[str, Any]:
    """Overrides (for run_file) that make each entry of a large scenario stand for at most
    ``people`` people, over ``horizon``."""
    entries = read_yaml(path)["users"]
    return {"horizon": horizon, **{f"users__{i}__count": min(u["count"], people)
                                   for i, u in enumerate(entries) if "count" in u}}


def test_only_marked_scenarios_are_large_and_the_rest_stay_small() -> None:
    assert [f.stem for f in large()] == ["company", "consumers"]
    for f in included():
        assert len(load(f).people()) <= SMALL_PEOPLE, f.name
    for f in large():
        assert len(load(f).people()) > SMALL_PEOPLE, f"{f.name} is small: drop its size marker"


COMPANY = {"users__0__count": 200, "horizon": "1y"}  # a fifth of the company, for a year
NO_ESCROW = {"account__escrow": None, "behaviour__escrow": None}


def test_company_escrow_recovers_everyone_who_would_lose_without_it() -> None:
    kept, without = run_file("company", **COMPANY), run_file("company", **COMPANY, **NO_ESCROW)
    assert kept.summary["users"] == without.summary["users"] == 200
    assert kept.summary["users_with_loss"] == 0 and kept.summary["share_users_with_loss"] == 0.0
    lost = without.messages[without.messages["status"] == "lost"]
    recovered = kept.events[kept.events["event"] == "escrow_recover"]
    assert without.summary["users_with_loss"] == lost["user"].nunique() >= 1
    assert set(lost["user"]) <= set(recovered["user"])  # the same histories: only escrow differs
    physical = ["user", "device", "added_at", "lost_at"]
    pd.testing.assert_frame_equal(kept.devices[kept.devices["kind"] == "physical"][physical].reset_index(drop=True),
                                  without.devices[without.devices["kind"] == "physical"][physical]
                                  .reset_index(drop=True))
    # the employees mail five colleagues each, and both devices were refreshed or lost at times
    mail = kept.messages[kept.messages["app"] == "mail"]
    assert (mail.groupby("sender")["user"].nunique() <= 6).all()
    assert set(kept.devices[kept.devices["device"].str.contains("#")]["device"].str[:5]) == {"lapto", "phone"}


def test_consumers_without_a_backup_key_lose_and_with_one_recover() -> None:
    r = run_file("consumers", horizon="2y", users__0__count=60, users__1__count=15, users__2__count=40,
                 users__3__count=10)
    m = r.messages
    entry = m["user"].str.rstrip("0123456789")
    lost = m[m["status"] == "lost"].assign(entry=entry).groupby("entry")["user"].nunique()
    assert r.summary["users"] == 125 and r.summary["users_with_loss"] == lost.sum()
    assert lost.get("phone", 0) >= 5 and lost.get("phone", 0) > lost.get("phonekey", 0)
    assert "backup_recover" in set(r.events["event"])
    # each consumer mails three others of the group, besides the copy kept
    assert (m[m["app"] == "mail"].groupby("sender")["user"].nunique() == 4).all()


@pytest.mark.slow
def test_company_in_full_loses_nothing_with_escrow() -> None:
    r = run_file("company")
    s = r.summary
    assert (s["users"], s["horizon"]) == (1000, 3 * 365)
    assert s["users_with_loss"] == 0 and "escrow_recover" in set(r.events["event"])
    assert s["messages"] > 50_000


@pytest.mark.slow
def test_consumers_in_full_lose_more_the_fewer_keys_and_devices_they_hold() -> None:
    r = run_file("consumers")
    s = r.summary
    assert s["users"] == 500 and 0.05 < s["share_users_with_loss"] < 0.4
    shares = list(s["share_users_with_loss_by"].values())
    assert shares == sorted(shares) and shares[-1] == s["share_users_with_loss"]
    m = r.messages
    with_loss = m[m["status"] == "lost"].groupby(m["user"].str.rstrip("0123456789"))["user"].nunique()
    people = {"phone": 240, "phonekey": 60, "duo": 160, "duokey": 40}
    share = {e: with_loss.get(e, 0) / n for e, n in people.items()}
    assert share["phone"] > share["phonekey"] and share["phone"] > share["duo"]
