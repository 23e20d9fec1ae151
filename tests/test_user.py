"""sim.model.user: one user's chain: devices, generations, boxes, approvals, revocation, lockdown."""

from __future__ import annotations

import pytest

from helpers import MAIL, SCENARIOS, cheap, keys_of, knows, small_account
from sim.behaviour.simulation import Simulation
from sim.model import (
    Account,
    DecryptionFailed,
    DeviceKeys,
    ProtocolError,
    Sealed,
    User,
    content_binding,
)
from sim.results import build_result
from sim.scenario import load


def active_classes(u: User) -> list[set[str]]:
    active = {d.name for d in u.active()}
    return [c & active for c in u.classes() if c & active]


def thief_reads(u: User, stolen: DeviceKeys, name: str, m: Sealed) -> bool:
    """Can someone holding a copy of ``name``'s keys read ``m``? Tries the box addressed to
    ``name`` and, for good measure, every other box of that generation."""
    crypto = u.crypto
    for (g, to), box in u.boxes.items():
        if g != m.generation:
            continue
        try:
            seed = crypto.open_box(box.ciphertext, stolen.kem, u.box_binding(g, box.sender, to))
        except DecryptionFailed:
            assert to != name, "the device's own box must open with its keys"
            continue
        assert to == name, "a box addressed to another device opened with stolen keys"
        return u.open(m, crypto.generation_keys(seed)) is not None
    return False


# ------------------------------------------------------------------ the worked example (§3)


def test_worked_example_step_by_step() -> None:
    acc = Account(cheap(1))
    u = acc.user("alice")
    msgs: dict[int, Sealed] = {}

    def seal(at: float) -> None:
        m = u.seal(f"m{u.latest.number}", MAIL, b"sealed to %d" % u.latest.number, at)
        msgs[m.generation] = m

    def check(expect: dict[str, set[int]]) -> None:
        for name, gens in expect.items():
            assert u.boxed(name) == gens, name
            assert knows(u, name) == gens, name
            for g, m in msgs.items():
                assert u.can_decrypt(name, m) == (g in gens), (name, g)

    # a, b, c are added: three classes, each add creates a generation boxed to all
    for t, name in enumerate("abc"):
        u.add_device(name, float(t))
        seal(float(t))
    assert u.classes() == [{"a"}, {"b"}, {"c"}]
    assert [u.data_access(n) for n in "abc"] == [0.0, 1.0, 2.0]
    assert [g.created_by for g in u.generations] == ["a", "b", "c"]
    check({"a": {1, 2, 3}, "b": {2, 3}, "c": {3}})

    # b approves: {a}, {b, c}; b boxes what it knows to c
    assert u.batch_approve("b", 3.0) == ["c"]
    assert u.classes() == [{"a"}, {"b", "c"}]
    assert [u.data_access(n) for n in "abc"] == [0.0, 1.0, 1.0]
    assert len(u.generations) == 3  # approving creates no generation
    check({"a": {1, 2, 3}, "b": {2, 3}, "c": {2, 3}})

    # d is added, c approves: {a}, {b, c, d}
    u.add_device("d", 4.0)
    seal(4.0)
    assert u.classes() == [{"a"}, {"b", "c"}, {"d"}]
    check({"a": {1, 2, 3, 4}, "b": {2, 3, 4}, "c": {2, 3, 4}, "d": {4}})
    assert u.batch_approve("c", 5.0) == ["d"]
    assert u.classes() == [{"a"}, {"b", "c", "d"}]
    assert [u.data_access(n) for n in "abcd"] == [0.0, 1.0, 1.0, 1.0]
    check({"a": {1, 2, 3, 4}, "b": {2, 3, 4}, "c": {2, 3, 4}, "d": {2, 3, 4}})

    # the server adds e: it receives the generation it creates, nothing older
    u.add_device("e", 6.0)
    seal(6.0)
    assert u.classes() == [{"a"}, {"b", "c", "d"}, {"e"}]
    assert u.data_access("e") == 6.0
    check({"a": {1, 2, 3, 4, 5}, "b": {2, 3, 4, 5}, "c": {2, 3, 4, 5}, "d": {2, 3, 4, 5},
           "e": {5}})
    stolen_e = keys_of(u, "e")

    # a revokes e with a BatchApprove: one class {a, b, c, d}, e revoked, new generation
    assert u.batch_approve("a", 7.0, revoke=["e"]) == ["b", "c", "d"]
    assert len(u.generations) == 6 and u.latest.created_by == "a"
    e = u.devices["e"]
    assert e.revoked and e.revoked_signed and e.revoked_at == 7.0
    assert [d.name for d in u.active()] == ["a", "b", "c", "d"]
    assert active_classes(u) == [{"a", "b", "c", "d"}]
    assert {"a", "b", "c", "d"} in u.classes() and u.approval_class("e") == {"e"}
    assert [u.data_access(n) for n in "abcd"] == [0.0, 0.0, 0.0, 0.0]
    assert u.chain.revoked == {"e"}
    assert not u.stale
    seal(7.0)
    check({n: {1, 2, 3, 4, 5, 6} for n in "abcd"})
    assert u.boxed("e") == {5}  # e keeps only the box it had
    assert knows(u, "e") == set()  # ... and erased its keys on learning of the revocation
    # a message sealed after the signed revocation: no box for e, unreadable with e's keys
    assert (6, "e") not in u.boxes
    assert not u.can_decrypt("e", msgs[6])
    assert not thief_reads(u, stolen_e, "e", msgs[6])
    # ... while a thief who copied e's keys still reads what e knew before
    assert thief_reads(u, stolen_e, "e", msgs[5])
    assert not thief_reads(u, stolen_e, "e", msgs[4])
    # the chain re-verifies
    kinds = [lk.kind for lk in u.chain.links]
    assert kinds == ["root", "device_add", "device_add", "batch_approve", "device_add",
                     "batch_approve", "device_add", "batch_approve"]
    assert u.chain.links[-1].body["revoked"] == ["e"]
    assert "generation" in u.chain.links[-1].body


# ------------------------------------------------------------------ revocation and rotation


def test_signed_device_revoke_rotates_at_once() -> None:
    acc = Account(cheap(2))
    u = acc.user("alice")
    u.add_device("a", 0)
    u.add_device("thief", 1)
    u.batch_approve("a", 2)
    before = u.seal("m1", "voicemail", b"before", 3)
    stolen = keys_of(u, "thief")
    g = u.revoke("a", ["thief"], 4)
    assert g == u.latest.number == 3 and not u.stale
    after = u.seal("m2", "voicemail", b"after", 5)
    assert after.generation == g
    assert g not in u.boxed("thief")
    assert thief_reads(u, stolen, "thief", before)
    assert not thief_reads(u, stolen, "thief", after)
    assert u.can_decrypt("a", before) and u.can_decrypt("a", after)
    with pytest.raises(ProtocolError):
        u.revoke("thief", ["a"], 6)  # a revoked device cannot sign
    with pytest.raises(ProtocolError):
        u.revoke("a", ["thief"], 6)  # already revoked


def test_unsigned_revocation_leaves_exposure_window_until_rotate() -> None:
    acc = Account(cheap(3))
    u = acc.user("alice")
    u.add_device("a", 0)
    u.add_device("b", 1)
    u.batch_approve("a", 2)
    u.add_device("e", 3)  # the server's device
    stolen = keys_of(u, "e")
    gens_e_knew = u.boxed("e")
    n = len(u.generations)
    u.revoke_unsigned(["e"], 4, via="admin")
    assert u.stale and len(u.generations) == n  # no rotation
    e = u.devices["e"]
    assert e.revoked and not e.revoked_signed
    assert u.chain.links[-1].kind == "server_revoke" and not u.chain.links[-1].signatures
    exposed = u.seal("m1", MAIL, b"in the window", 5)
    assert exposed.generation in gens_e_knew  # sealed to a generation the revoked device knew
    assert thief_reads(u, stolen, "e", exposed)  # real decryption with e's keys
    assert u.can_decrypt("a", exposed) and u.can_decrypt("b", exposed)
    # the first active device to come online rotates
    g = u.rotate("b", 6)
    assert not u.stale and g == n + 1
    safe = u.seal("m2", MAIL, b"after rotate", 7)
    assert safe.generation == g and g not in u.boxed("e")
    assert not thief_reads(u, stolen, "e", safe)
    assert u.can_decrypt("a", safe) and u.can_decrypt("b", safe)


def test_user_cannot_revoke_escrow_device() -> None:
    """PROTOCOL §1: the escrow device cannot be revoked by the user (only disabling escrow does)."""
    acc = Account(cheap(4))
    u = acc.user("alice")
    u.add_device("phone", 0)
    acc.enable_escrow("ea1", 1)
    acc.enroll_escrow("alice", "phone", 2)
    with pytest.raises(ProtocolError):
        u.revoke("phone", ["escrow"], 3)
    with pytest.raises(ProtocolError):
        u.batch_approve("phone", 3, revoke=["escrow"])
    assert not u.devices["escrow"].revoked


def test_refused_revocation_changes_nothing() -> None:
    """A revocation the protocol refuses (here: one target already revoked) must leave no
    trace: the other targets stay unrevoked and keep their keys."""
    acc = Account(cheap(16))
    u = acc.user("alice")
    u.add_device("a", 0)
    u.add_device("b", 1)
    u.add_device("e", 2)
    u.revoke_unsigned(["e"], 3)
    links, gens = len(u.chain.links), len(u.generations)
    with pytest.raises(ProtocolError):
        u.revoke("a", ["b", "e"], 4)
    with pytest.raises(ProtocolError):
        u.batch_approve("a", 4, revoke=["b", "e"])
    assert len(u.chain.links) == links and len(u.generations) == gens
    assert not u.devices["b"].revoked and "b" not in u.chain.revoked
    assert u.devices["b"].keys is not None and u.devices["b"].gone_at is None
    assert knows(u, "b") == u.boxed("b")


# ------------------------------------------------------------------ lockdown


def test_lockdown_requires_one_class_and_a_backup_key() -> None:
    acc = Account(cheap(14))
    u = acc.user("alice")
    u.add_device("a", 0)
    u.add_device("b", 1)
    with pytest.raises(ProtocolError, match="single approval class"):
        u.enable_lockdown("a", 2)
    u.batch_approve("a", 2)
    with pytest.raises(ProtocolError, match="backup"):
        u.enable_lockdown("a", 3)
    acc.create_backup_key("alice", "a", "bk", 3)
    u.enable_lockdown("a", 4)
    assert u.chain.lockdown
    n = len(u.generations)
    u.add_device("c", 5)
    assert len(u.generations) == n and u.boxed("c") == set()
    with pytest.raises(ProtocolError):
        u.batch_approve("c", 6)
    assert u.batch_approve("b", 7) == ["bk", "c"]
    assert knows(u, "c") == knows(u, "a")


# ------------------------------------------------------------------ boxes and content


@pytest.mark.parametrize("post_quantum", [False, True])
def test_real_box_on_a_user_is_bound_to_user_generation_sender_recipient(post_quantum: bool) -> None:
    acc = small_account(22, post_quantum)
    u = acc.users["alice"]
    g = u.latest.number
    box = u.boxes[(g, "b")]
    keys = u.devices["b"].keys
    assert keys is not None
    good = u.box_binding(g, box.sender, "b")
    assert acc.crypto.open_box(box.ciphertext, keys.kem, good) == u.knows("b")[g]
    for wrong in (acc.users["bob"].box_binding(g, box.sender, "b"),
                  u.box_binding(g - 1, box.sender, "b"),
                  u.box_binding(g, "c" if box.sender != "c" else "a", "b"),
                  u.box_binding(g, box.sender, "a")):
        assert wrong != good
        with pytest.raises(DecryptionFailed):
            acc.crypto.open_box(box.ciphertext, keys.kem, wrong)


def test_content_binding() -> None:
    acc = small_account(23)
    u = acc.users["alice"]
    m = u.seal("m1", MAIL, b"hi", 20.0)
    key = u.generation_keys(m.generation, "a").email
    assert acc.crypto.open_content(m.ciphertext, key, m.binding) == b"hi"
    assert m.binding == content_binding("alice", MAIL, m.generation, "m1")
    for wrong in (content_binding("bob", MAIL, m.generation, "m1"),
                  content_binding("alice", "voicemail", m.generation, "m1"),
                  content_binding("alice", MAIL, m.generation - 1, "m1"),
                  content_binding("alice", MAIL, m.generation, "m2")):
        with pytest.raises(DecryptionFailed):
            acc.crypto.open_content(m.ciphertext, key, wrong)
    # the voicemail key of the same generation does not open mail
    with pytest.raises(DecryptionFailed):
        acc.crypto.open_content(m.ciphertext, u.generation_keys(m.generation, "a").voicemail,
                                m.binding)


def test_each_reading_device_derives_the_generation_keys_itself_once() -> None:
    """The creator of a generation derived its keys when it made it; any other device
    derives them from the seed it opened, once, and decrypts with its own keys."""
    crypto = cheap(25)
    u = Account(crypto).user("alice")
    u.add_device("a", 0)
    u.add_device("b", 1)  # creates generation 2, boxed to a and b
    m = u.seal("m1", MAIL, b"hi", 2.0)
    assert m.generation == 2 and crypto.ops["generation_derive"] == 2
    assert u.can_decrypt("b", m)  # the creator: no new derivation
    assert crypto.ops["generation_derive"] == 2
    assert u.can_decrypt("a", m) and u.can_decrypt("a", u.seal("m2", MAIL, b"again", 3.0))
    assert crypto.ops["generation_derive"] == 3  # a derived generation 2 once
    assert u.generation_keys(2, "a") is not u.generation_keys(2, "b")
    assert u.generation_keys(2, "a").public() == u.generations[1].public
    u.gone("a", 4.0, "wiped")  # a wiped device forgets what it derived
    assert not u.devices["a"].derived and not u.can_decrypt("a", m)


def test_a_message_relabelled_as_another_does_not_open() -> None:
    """The reader rebuilds the HPKE info from what it takes the message to be (user, app,
    generation, id), not from the binding the ciphertext comes with."""
    record = Simulation(load(SCENARIOS / "help_article.yaml")).run()
    result = build_result(record)
    row = result.messages[result.messages["status"] == "readable"].iloc[0]
    sealed = next(m for m in record.sealed if m.message_id == row["message_id"])
    u, reader = record.account.users[sealed.user], row["readable_by"].split(",")[0]
    assert u.can_decrypt(reader, sealed)
    assert not u.can_decrypt(reader, sealed._replace(message_id="m99"))
    assert not u.can_decrypt(reader, sealed._replace(app="mail" if sealed.app == "voicemail" else "voicemail"))
