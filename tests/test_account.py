"""sim.model.account: the account's users, backup keys, escrow and the EA chain, availability."""

from __future__ import annotations

import random

import pytest

from helpers import MAIL, cheap, keys_of, knows, secrets, substitute
from sim.model import (
    BACKUP,
    EA_USER,
    ESCROW,
    Account,
    BackupKeyError,
    ChainError,
    DecryptionFailed,
    ProtocolError,
    Sealed,
    User,
)
from sim.model.crypto import _backup_id, decode_backup_key, encode_backup_key

# ------------------------------------------------------------------ backup keys (§4)


def test_backup_create_and_recover() -> None:
    acc = Account(cheap(5))
    u = acc.user("alice")
    u.add_device("phone", 0)
    m1 = u.seal("m1", MAIL, b"one", 0)
    u.add_device("laptop", 1)
    u.batch_approve("phone", 2)
    n = len(u.generations)
    text = acc.create_backup_key("alice", "laptop", "backup", 3)
    assert len(text) == 39 and text.count("-") == 7
    bk = u.devices["backup"]
    assert bk.kind == BACKUP and bk.keys is None and bk.backup_id == text[:4]
    assert len(u.generations) == n  # Decision: no new generation
    assert u.boxed("backup") == u.boxed("laptop") == u.boxed("phone") == {1, 2}
    assert u.data_access("backup") == u.data_access("laptop") == 0
    assert u.chain.links[-1].kind == "device_add_and_approve"
    assert set(u.chain.links[-1].signatures) == {"laptop", "backup"}
    m2 = u.seal("m2", "voicemail", b"two", 4)
    u.rotate("phone", 5)  # new generations reach the backup like any device
    m3 = u.seal("m3", MAIL, b"three", 6)
    assert u.boxed("backup") == {1, 2, 3}
    # every physical device is lost
    u.gone("phone", 7, "lost")
    u.gone("laptop", 7, "wiped")
    assert not acc.available("alice", "phone") and not acc.available("alice", "laptop")
    assert acc.available("alice", "backup")
    u.add_device("new", 8)
    assert u.data_access("new") == 8
    assert not any(u.can_decrypt("new", m) for m in (m1, m2, m3))
    # the user types the string, with a typo and in lower case
    chars = text.replace("-", "")
    typo = chars[:10] + ("Z" if chars[10] != "Z" else "Y") + chars[11:]
    approved = acc.recover_with_backup("alice", typo.lower(), "new", 9)
    assert "new" in approved
    assert u.data_access("new") == u.data_access("backup") == 0
    assert u.approval_class("new") >= {"backup", "laptop", "phone", "new"}
    assert knows(u, "new") >= {1, 2, 3}
    assert [u.open(m, u.generation_keys(m.generation, "new")) for m in (m1, m2, m3)] == [
        b"one", b"two", b"three"]
    assert all(u.can_decrypt("new", m) for m in (m1, m2, m3))
    rec = u.chain.links[-1]
    assert rec.kind == "batch_approve" and rec.body["by"] == "backup"
    assert set(rec.signatures) == {"backup"}


def test_backup_never_holds_more_than_its_creator() -> None:
    acc = Account(cheap(6))
    u = acc.user("alice")
    u.add_device("old", 0)
    u.add_device("young", 1)  # not approved: knows only generation 2
    acc.create_backup_key("alice", "young", "bk", 2)
    assert u.boxed("bk") == u.boxed("young") == {2}
    assert 1 not in u.boxed("bk")
    # creating it by the oldest device vouches for the younger devices too (BatchApprove)
    acc.create_backup_key("alice", "old", "bk2", 3)
    assert u.boxed("bk2") == u.boxed("old") == {1, 2}
    assert u.boxed("young") == {1, 2} and u.boxed("bk") == {1, 2}


def test_backup_key_forbidden_revoked_and_wrong() -> None:
    acc = Account(cheap(7), members_may_create_backup_keys=False)
    u = acc.user("alice")
    u.add_device("phone", 0)
    with pytest.raises(ProtocolError):
        acc.create_backup_key("alice", "phone", "bk", 1)
    acc2 = Account(cheap(8))
    u2 = acc2.user("alice")
    u2.add_device("phone", 0)
    text = acc2.create_backup_key("alice", "phone", "bk", 1)
    u2.add_device("new", 2)
    with pytest.raises(ProtocolError):
        acc2.recover_with_backup("alice", text, "not-added", 3)
    u2.revoke("phone", ["bk"], 3)
    with pytest.raises(BackupKeyError, match="revoked"):
        acc2.recover_with_backup("alice", text, "new", 4)


def test_account_refuses_strings_that_do_not_derive_the_backup_key() -> None:
    crypto = cheap(11)
    acc = Account(crypto)
    u = acc.user("alice")
    u.add_device("phone", 0)
    text = acc.create_backup_key("alice", "phone", "backup", 1)
    name, keys = acc.backup_keys("alice", text)
    assert name == "backup"
    assert keys.verify_key == u.devices["backup"].verify_key
    assert keys.kem_public == u.devices["backup"].kem_public
    # one typo is still the same key
    chars = text.replace("-", "")
    typo = substitute(text, 9, "Z" if chars[9] != "Z" else "Y")
    assert acc.backup_keys("alice", typo)[1].verify_key == keys.verify_key
    # two typos: refused, not a wrong key
    typo2 = substitute(typo, 20, "Z" if chars[20] != "Z" else "Y")
    with pytest.raises(BackupKeyError):
        acc.backup_keys("alice", typo2)
    # a well-formed string of another key: refused with a clear error
    other = encode_backup_key(secrets(1, seed=12)[0])
    assert other[:4] != text[:4]
    with pytest.raises(BackupKeyError, match="no backup key"):
        acc.backup_keys("alice", other)
    # another user's salt: the same string does not name a key of bob
    acc.user("bob").add_device("pc", 2)
    with pytest.raises(BackupKeyError):
        acc.backup_keys("bob", text)


def test_same_key_id_but_other_secret_is_refused() -> None:
    """A string that decodes cleanly to the key ID on the chain, but to another secret,
    derives other keys and is refused (never used as if it were the backup key)."""
    seen: dict[str, bytes] = {}
    rnd = random.Random(5)
    while True:
        s = rnd.randbytes(16)
        kid = _backup_id(s)
        if kid in seen and seen[kid] != s:
            s1, s2 = seen[kid], s
            break
        seen[kid] = s
    crypto = cheap(13)
    crypto.new_backup_string = lambda: encode_backup_key(s1)  # type: ignore[method-assign]
    acc = Account(crypto)
    u = acc.user("alice")
    u.add_device("phone", 0)
    text = acc.create_backup_key("alice", "phone", "backup", 1)
    assert decode_backup_key(text) == (kid, s1)
    impostor = encode_backup_key(s2)
    assert decode_backup_key(impostor) == (kid, s2)
    with pytest.raises(BackupKeyError, match="does not derive"):
        acc.backup_keys("alice", impostor)
    with pytest.raises(BackupKeyError):
        acc.recover_with_backup("alice", impostor, "phone", 2)


# ------------------------------------------------------------------ escrow (§5)


def _escrowed_member(seed: int) -> tuple[Account, User, str, list[Sealed]]:
    acc = Account(cheap(seed))
    u = acc.user("alice")
    msgs = []
    u.add_device("phone", 0)
    msgs.append(u.seal("m1", MAIL, b"m1", 0))
    acc.create_backup_key("alice", "phone", "backup", 1)
    ea_text = acc.enable_escrow("ea1", 2)
    esc = acc.enroll_escrow("alice", "phone", 3)
    assert esc.kind == ESCROW and esc.keys is None and esc.escrow_blob is not None
    assert u.boxed("escrow") == u.boxed("phone")
    u.add_device("laptop", 4)
    msgs.append(u.seal("m2", "voicemail", b"m2", 4))
    u.batch_approve("phone", 5)
    u.rotate("laptop", 6)
    msgs.append(u.seal("m3", MAIL, b"m3", 6))
    return acc, u, ea_text, msgs


def test_enable_escrow_creates_locked_down_ea_chain_with_backup() -> None:
    acc = Account(cheap(9))
    assert acc.ea is None
    text = acc.enable_escrow("ea1", 0, backup_name="ea-paper")
    ea = acc.ea
    assert ea is not None and ea.id == EA_USER
    assert ea.chain.lockdown
    assert ea.devices["ea-paper"].kind == BACKUP and ea.devices["ea-paper"].backup_id == text[:4]
    assert acc.chain.links[-1].kind == "escrow_enable"
    assert acc.chain.links[-1].body["ea_root"] == ea.chain.links[0].hash.hex()
    with pytest.raises(ProtocolError):
        acc.enable_escrow("ea9", 1)
    with pytest.raises(ProtocolError):
        acc.user(EA_USER)


def test_escrow_recovery_after_losing_everything() -> None:
    acc, u, ea_text, msgs = _escrowed_member(10)
    assert u.boxed("escrow") == {1, 2, 3}
    u.gone("phone", 7, "lost")
    u.gone("laptop", 7, "lost")
    u.gone("backup", 7, "paper_lost")
    for name in ("phone", "laptop", "backup"):
        assert not acc.available("alice", name)
    assert acc.available("alice", "escrow")
    u.add_device("new", 8)
    assert not any(u.can_decrypt("new", m) for m in msgs)
    held = u.boxed("escrow")
    approved = acc.escrow_recover("alice", "ea1", "new", 9)
    assert "new" in approved
    assert u.boxed("new") >= held and knows(u, "new") >= held
    assert [u.open(m, u.generation_keys(m.generation, "new")) for m in msgs] == [b"m1", b"m2", b"m3"]
    assert all(u.can_decrypt("new", m) for m in msgs)
    assert u.data_access("new") == u.data_access("escrow") == 0
    rec = u.chain.links[-1]
    assert rec.kind == "batch_approve" and rec.body["by"] == "escrow"
    assert rec.body["cosigner"] == "ea:ea1" and set(rec.signatures) == {"escrow", "ea:ea1"}

    # the EA backup key alone still reaches the escrow device
    acc.ea.gone("ea1", 10, "lost")  # type: ignore[union-attr]
    assert acc.available("alice", "escrow")
    keys = acc.escrow_keys("alice", "ea1", backup_text=ea_text)
    assert keys.verify_key == u.devices["escrow"].verify_key
    # ... until the EA paper is lost too: escrowed data is lost
    acc.ea.gone("ea-backup", 11, "paper_lost")  # type: ignore[union-attr]
    assert not acc.available("alice", "escrow")
    u.add_device("new2", 12)
    with pytest.raises(ProtocolError):
        acc.escrow_recover("alice", "ea1", "new2", 13)
    assert not any(u.can_decrypt("new2", m) for m in msgs[:2])


def test_an_escrow_recovery_needs_a_confirmed_ea_device_to_co_sign() -> None:
    """PROTOCOL §5.5: signed by the escrow device *and* the EA device; §3 lockdown: an
    unconfirmed EA device may not approve, so it may not co-sign an approval either."""
    acc, u, _, _ = _escrowed_member(12)
    u.add_device("new", 8)
    esc_keys = acc.escrow_keys("alice", "ea1")
    with pytest.raises(ChainError, match="needs an EA device's co-signature"):
        u.batch_approve("escrow", 9, keys=esc_keys)
    ea = acc.ea
    assert ea is not None
    e2 = ea.add_device("ea2", 9, kind="ea")  # unconfirmed in lockdown
    assert e2.keys is not None
    with pytest.raises(ChainError):
        u.batch_approve("escrow", 9, keys=esc_keys, cosigner=("ea:ea2", e2.keys.signing, ea.chain.tail[0]))
    assert "new" not in u.approval_class("escrow")
    acc.approve_ea_devices("ea1", 10)
    u.batch_approve("escrow", 11, keys=esc_keys, cosigner=("ea:ea2", e2.keys.signing, ea.chain.tail[0]))
    assert "new" in u.approval_class("escrow")


def test_escrow_gap_member_never_enrolled() -> None:
    acc = Account(cheap(11))
    acc.user("alice").add_device("phone", 0)
    acc.enable_escrow("ea1", 1)
    u = acc.user("bob")
    u.add_device("pc", 2)
    u.add_device("new", 3)
    assert acc.escrow_device("bob") is None
    with pytest.raises(ProtocolError):
        acc.escrow_recover("bob", "ea1", "new", 4)


def test_ea_revocation_rekey_and_recovery() -> None:
    acc, u, _, msgs = _escrowed_member(12)
    ea = acc.ea
    assert ea is not None
    acc.add_ea_device("ea2", 7)
    acc.approve_ea_devices("ea1", 8)
    stolen_ea2 = keys_of(ea, "ea2")
    old_blob = u.devices["escrow"].escrow_blob
    assert old_blob is not None and old_blob.ea_generation == ea.latest.number
    old_esc_key = u.devices["escrow"].verify_key
    n_ea, n_user = len(ea.generations), len(u.generations)
    acc.revoke_ea_device("ea1", "ea2", 9)
    assert len(ea.generations) == n_ea + 1 and ea.latest.number not in ea.boxed("ea2")
    assert u.escrow_stale
    # only a device of the escrow device's class may re-key
    u.add_device("stranger", 10)
    with pytest.raises(ProtocolError):
        acc.rekey_escrow("alice", "stranger", 10)
    acc.rekey_escrow("alice", "laptop", 11)
    assert not u.escrow_stale
    assert len(u.generations) == n_user + 2  # stranger's add, then the re-key's PUK rotation
    assert u.latest.created_by == "laptop"
    esc = u.devices["escrow"]
    assert esc.escrow_blob is not None and esc.escrow_blob.ea_generation == ea.latest.number
    assert esc.verify_key != old_esc_key
    assert u.chain.verify_keys["escrow"] == esc.verify_key
    assert u.latest.number in u.boxed("escrow")
    assert u.boxed("escrow") == {g.number for g in u.generations}
    # the revoked EA device does not know the EA generation the new blob is sealed to
    assert (esc.escrow_blob.ea_generation, "ea2") not in ea.boxes
    tried = 0
    for (g, to), box in ea.boxes.items():
        if g == esc.escrow_blob.ea_generation:
            tried += 1
            with pytest.raises(DecryptionFailed):
                acc.crypto.open_box(box.ciphertext, stolen_ea2.kem, ea.box_binding(g, box.sender, to))
    assert tried >= 2
    msgs.append(u.seal("m4", MAIL, b"m4", 12))
    # recovery still works afterwards
    u.gone("phone", 13, "lost")
    u.gone("laptop", 13, "wiped")
    u.add_device("new", 14)
    acc.escrow_recover("alice", "ea1", "new", 15)
    assert [u.open(m, u.generation_keys(m.generation, "new")) for m in msgs] == [b"m1", b"m2", b"m3", b"m4"]
    assert u.data_access("new") == 0


def test_ea_lockdown_new_device_knows_nothing_until_approved() -> None:
    acc = Account(cheap(13))
    acc.enable_escrow("ea1", 0)
    ea = acc.ea
    assert ea is not None and ea.chain.lockdown
    n = len(ea.generations)
    acc.add_ea_device("ea2", 1)
    assert len(ea.generations) == n  # an unconfirmed device brings no generation
    assert "ea2" not in ea.chain.confirmed
    assert ea.boxed("ea2") == set() and knows(ea, "ea2") == set()
    # it may not approve, nor be the EA device of a recovery
    with pytest.raises((ProtocolError, ChainError)):
        acc.approve_ea_devices("ea2", 2)
    # an EA rotation while it is unconfirmed does not reach it
    ea.rotate("ea1", 3)
    assert ea.boxed("ea2") == set()
    u = acc.user("alice")
    u.add_device("phone", 4)
    acc.enroll_escrow("alice", "phone", 5)
    u.add_device("new", 6)
    with pytest.raises(ProtocolError):
        acc.escrow_recover("alice", "ea2", "new", 7)
    # a confirmed device approves: boxes existing EA generations, no rotation
    assert "ea2" in acc.approve_ea_devices("ea1", 8)
    assert len(ea.generations) == n + 1
    assert "ea2" in ea.chain.confirmed
    assert knows(ea, "ea2") == knows(ea, "ea1") == {g.number for g in ea.generations}
    m = u.seal("m1", MAIL, b"x", 9)
    acc.escrow_recover("alice", "ea2", "new", 10)
    assert u.can_decrypt("new", m)


def test_unconfirmed_ea_device_cannot_rotate_the_ea_key() -> None:
    """Lockdown (PROTOCOL §3): no generation of an unconfirmed device is accepted.
    Otherwise a server-added EA device could rotate the EA per-user key to one it chose,
    and every escrow blob sealed afterwards would be sealed to it."""
    acc = Account(cheap(15))
    acc.enable_escrow("ea1", 0)
    ea = acc.ea
    assert ea is not None
    acc.add_ea_device("evil", 1)
    n = len(ea.generations)
    with pytest.raises((ProtocolError, ChainError)):
        ea.rotate("evil", 2)
    assert len(ea.generations) == n
    with pytest.raises((ProtocolError, ChainError)):
        ea.revoke("evil", ["ea-backup"], 3)
    assert len(ea.generations) == n and not ea.devices["ea-backup"].revoked
