"""sim.model.chain: sigchain verification; every kind of tampering refused with its own exception."""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from helpers import cheap
from sim.model import EA_USER, Account, DeviceKeys, User
from sim.model.chain import (
    REQUIRED_SIGNERS,
    Chain,
    ChainError,
    ForkError,
    Link,
    LockdownViolation,
    MalformedLink,
    MissingSignature,
    ReorderedLink,
    ReplayedLink,
    RevokedSigner,
    TamperedLink,
    UnknownSigner,
)

SIGNER_FIELDS = {"device", "by", "cosigner"}


@dataclass
class World:
    acc: Account
    u: User
    stolen: dict[str, DeviceKeys]

    @property
    def ea(self) -> User:
        assert self.acc.ea is not None
        return self.acc.ea

    def chains(self) -> dict[str, Chain]:
        return {"alice": self.u.chain, EA_USER: self.ea.chain, "account": self.acc.chain}


def build_world(seed: int = 31) -> World:
    """A user chain holding every user link kind, plus an EA chain and the account chain."""
    acc = Account(cheap(seed))
    u = acc.user("alice")
    stolen: dict[str, DeviceKeys] = {}
    u.add_device("a", 0)                                   # root
    u.add_device("b", 1)                                   # device_add
    u.add_device("c", 2)
    u.batch_approve("a", 3)                                # batch_approve
    acc.create_backup_key("alice", "a", "backup", 4)       # device_add_and_approve
    stolen["c"] = _keys(u, "c")
    u.revoke("a", ["c"], 5)                                # device_revoke
    u.add_device("e", 6)
    stolen["e"] = _keys(u, "e")
    u.revoke_unsigned(["e"], 7)                            # server_revoke
    u.rotate("b", 8)                                       # puk_rotate
    acc.enable_escrow("ea1", 9)                            # EA: root, add_and_approve, lockdown
    acc.enroll_escrow("alice", "a", 10)
    acc.add_ea_device("ea2", 11)                           # EA: device_add (unconfirmed)
    acc.approve_ea_devices("ea1", 12)                      # EA: batch_approve
    assert acc.ea is not None
    stolen["ea:ea2"] = _keys(acc.ea, "ea2")
    acc.revoke_ea_device("ea1", "ea2", 13)                 # EA: device_revoke
    acc.rekey_escrow("alice", "a", 14)                     # device_key_rotate + puk_rotate
    u.add_device("f", 15)
    acc.escrow_recover("alice", "ea1", "f", 16)            # batch_approve with EA cosigner
    u.add_device("g", 17)
    stolen["b"] = _keys(u, "b")
    u.batch_approve("a", 18, revoke=["b"])                 # batch_approve carrying a revocation
    return World(acc, u, stolen)


def _keys(u: User, name: str) -> DeviceKeys:
    keys = u.devices[name].keys
    assert keys is not None
    return keys


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


def test_world_covers_every_user_link_kind(world: World) -> None:
    kinds = Counter(link.kind for link in world.u.chain.links)
    assert set(kinds) == {"root", "device_add", "batch_approve", "device_add_and_approve",
                          "device_revoke", "server_revoke", "puk_rotate", "device_key_rotate"}
    assert any("cosigner" in link.body for link in world.u.chain.links)
    assert {link.kind for link in world.ea.chain.links} >= {"root", "lockdown", "device_add",
                                                            "batch_approve", "device_revoke"}
    assert [link.kind for link in world.acc.chain.links] == ["account_root", "escrow_enable"]


# ------------------------------------------------------------------ valid chains


@pytest.mark.parametrize("which", ["alice", EA_USER, "account"])
def test_whole_valid_chain_reverifies_from_scratch(world: World, which: str) -> None:
    old = world.chains()[which]
    before = world.acc.crypto.ops["verify"]
    fresh = Chain(old.owner, world.acc.crypto, old.external)
    fresh.extend(old.links)
    n_sigs = sum(len(link.signatures) for link in old.links)
    assert world.acc.crypto.ops["verify"] - before == n_sigs  # every signature really checked
    assert fresh.tail == old.tail
    assert fresh.verify_keys == old.verify_keys
    assert fresh.revoked == old.revoked
    assert fresh.confirmed == old.confirmed
    assert fresh.lockdown == old.lockdown
    assert [fresh.seq_of(d) for d in old.verify_keys] == [old.seq_of(d) for d in old.verify_keys]
    # and from the wire: encode → decode → append
    wire = Chain(old.owner, world.acc.crypto, old.external)
    for link in old.links:
        decoded = Link.decode(link.encode())
        assert decoded == link and decoded.hash == link.hash
        wire.append(decoded)
    assert wire.tail == old.tail


def test_fork_copies_state(world: World) -> None:
    chain = world.u.chain
    for n in range(len(chain.links) + 1):
        f = chain.fork(n)
        assert f.links == chain.links[:n]
        assert f.tail == ((0, bytes(32)) if n == 0 else (n, chain.links[n - 1].hash))


def test_chain_still_verifies_after_cosigning_ea_device_is_revoked_later() -> None:
    """An escrow recovery co-signed by an EA device that is revoked *afterwards* was valid
    when it was made; revocation is not retroactive (RevokedSigner: 'revoked earlier on
    the chain'), so the member's chain must still verify from scratch."""
    acc = Account(cheap(32))
    u = acc.user("alice")
    u.add_device("phone", 0)
    acc.enable_escrow("ea1", 1)
    acc.enroll_escrow("alice", "phone", 2)
    acc.add_ea_device("ea2", 3)
    acc.approve_ea_devices("ea1", 4)
    u.add_device("new", 5)
    acc.escrow_recover("alice", "ea2", "new", 6)
    fresh = Chain("alice", acc.crypto, u.chain.external)
    fresh.extend(u.chain.links)  # verifies while ea2 is an EA device
    ea2 = acc.ea.devices["ea2"].keys  # type: ignore[union-attr]  # kept by whoever has the device
    assert ea2 is not None
    acc.revoke_ea_device("ea1", "ea2", 7)
    later = Chain("alice", acc.crypto, u.chain.external)
    later.extend(u.chain.links)
    assert later.tail == u.chain.tail
    # but a *new* recovery it co-signs, naming an EA position from before its revocation, is
    # refused once the member's chain has named a later one (the re-key the revocation asks for)
    acc.rekey_escrow("alice", "phone", 8)
    esc = acc.escrow_keys("alice", "ea1")
    u.add_device("newer", 9)
    link = u.chain.make("batch_approve", {"by": "escrow", "approved": ["newer"], "revoked": [],
                                          "cosigner": "ea:ea2", "ea_seq": 5},
                        {"escrow": esc.signing, "ea:ea2": ea2.signing})
    with pytest.raises(TamperedLink, match="names EA chain position 5, older than"):
        u.chain.append(link)


# ------------------------------------------------------------------ body tampering


def _alter(value: Any) -> Any:
    """A different value of the same shape."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        if value and all(ch in "0123456789abcdef" for ch in value):
            mid = len(value) // 2
            return value[:mid] + ("0" if value[mid] != "0" else "1") + value[mid + 1:]
        return value + "x"
    if isinstance(value, list):
        return [*value, "intruder"] if not value else value[:-1]
    if isinstance(value, dict):
        key = sorted(value)[0]
        return {**value, key: _alter(value[key])}
    raise AssertionError(f"cannot alter {value!r}")  # pragma: no cover


@pytest.mark.parametrize("which", ["alice", EA_USER, "account"])
def test_changed_body_with_old_signatures_is_tampered(world: World, which: str) -> None:
    chain = world.chains()[which]
    n = 0
    for i, link in enumerate(chain.links):
        base = chain.fork(i)
        for field_name in sorted(link.body):
            if field_name in SIGNER_FIELDS or not REQUIRED_SIGNERS[link.kind]:
                # (unsigned server links carry no signature to break)
                continue
            body = {**link.body, field_name: _alter(link.body[field_name])}
            forged = Link(link.seq, link.prev, link.kind, body, dict(link.signatures))
            assert forged.payload != link.payload
            with pytest.raises(TamperedLink):
                base.append(forged)
            n += 1
        base.append(link)  # the genuine link still goes in afterwards
    assert n >= len(chain.links)


def test_renamed_signer_lacks_signature(world: World) -> None:
    chain = world.u.chain
    for i, link in enumerate(chain.links):
        if "by" not in link.body:
            continue
        other = "a" if link.body["by"] != "a" else "f"
        body = {**link.body, "by": other}
        forged = Link(link.seq, link.prev, link.kind, body, dict(link.signatures))
        with pytest.raises(MissingSignature):
            chain.fork(i).append(forged)


# ------------------------------------------------------------------ byte flips on the wire

MASKS = (0x01, 0x20, 0xFF)
UNSIGNED = {kind for kind, roles in REQUIRED_SIGNERS.items() if not roles}


def _changed_fields(a: Link, b: Link) -> str:
    parts = [f for f in ("seq", "prev", "kind") if getattr(a, f) != getattr(b, f)]
    parts += [f"body.{k}" for k in sorted(set(a.body) | set(b.body)) if a.body.get(k) != b.body.get(k)]
    if a.signatures != b.signatures:
        parts.append("signatures")
    return ",".join(parts)


@pytest.mark.parametrize("which", ["alice", EA_USER, "account"])
def test_every_flipped_byte_is_refused(world: World, which: str) -> None:
    """Flip each byte of each encoded link (three masks) and offer it to a chain lacking
    that link. It must fail to decode (MalformedLink) or be refused by append with a
    ChainError, never accepted and never crash with another exception.

    Not counted as tampering: a flip that decodes to the *identical* link (e.g. upper-case
    hex in ``prev``), and a changed *unsigned* link (``server_revoke``): the server may
    author those, so there is no signature to break; they must still not crash."""
    chain = world.chains()[which]
    outcomes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for i, link in enumerate(chain.links):
        enc = link.encode()
        base = chain.fork(i)
        for pos in range(len(enc)):
            for mask in MASKS:
                flipped = bytearray(enc)
                flipped[pos] ^= mask
                where = (f"link {i} ({link.kind}) byte {pos} ^{mask:#04x} near "
                         f"{bytes(flipped[max(0, pos - 24):pos + 8])!r}")
                try:
                    decoded = Link.decode(bytes(flipped))
                except MalformedLink:
                    outcomes["MalformedLink"] += 1
                    continue
                except Exception as exc:  # decode must only raise MalformedLink
                    category = f"decode raised {type(exc).__name__}"
                    outcomes[category] += 1
                    examples.setdefault(category, f"{where}: {exc}")
                    continue
                if decoded == link:
                    outcomes["same link"] += 1
                    continue
                try:
                    base.append(decoded)
                except ChainError as exc:
                    outcomes[type(exc).__name__] += 1
                    continue
                except Exception as exc:
                    category = f"append raised {type(exc).__name__} (not a ChainError)"
                    outcomes[category] += 1
                    examples.setdefault(category, f"{where}: {exc!r}")
                    continue
                base = chain.fork(i)
                if link.kind in UNSIGNED and decoded.kind in UNSIGNED:
                    outcomes["unsigned link changed"] += 1
                    continue
                category = f"ACCEPTED with changed {_changed_fields(link, decoded)}"
                outcomes[category] += 1
                examples.setdefault(category, where)
    assert outcomes["MalformedLink"] > 0 and outcomes["TamperedLink"] > 0
    bad = {k: v for k, v in outcomes.items() if k in examples}
    assert not bad, ("flipped links not refused with a ChainError:\n" + "\n".join(
        f"  {n} x {k}\n      e.g. {examples[k]}" for k, n in sorted(bad.items())))


# ------------------------------------------------------------------ signers


def test_wrong_signer_key_is_tampered(world: World) -> None:
    u, full = world.u, world.u.chain.fork(len(world.u.chain.links))
    g = _keys(u, "g")
    # "a" is on the chain, but g signs in its name
    link = full.make("batch_approve", {"by": "a", "approved": [], "revoked": []}, {"a": g.signing})
    with pytest.raises(TamperedLink):
        full.append(link)
    link = full.make("puk_rotate", {"by": "a", "generation": {"n": 99}}, {"a": g.signing})
    with pytest.raises(TamperedLink):
        full.append(link)
    # a new device must sign with the key it declares
    other = world.acc.crypto.new_device_keys()
    mallory = world.acc.crypto.new_device_keys()
    body = {"device": "h", "kind": "physical", "verify_key": other.verify_key.hex(),
            "kem": other.kem_public.raw.hex()}
    with pytest.raises(TamperedLink):
        full.append(full.make("device_add", body, {"h": mallory.signing}))
    # the same body signed with the declared key is fine
    full.append(full.make("device_add", body, {"h": other.signing}))
    assert "h" in full.verify_keys


def test_signer_not_on_the_chain_is_unknown(world: World) -> None:
    full = world.u.chain.fork(len(world.u.chain.links))
    mallory = world.acc.crypto.new_device_keys()
    link = full.make("batch_approve", {"by": "mallory", "approved": [], "revoked": []},
                     {"mallory": mallory.signing})
    with pytest.raises(UnknownSigner):
        full.append(link)
    # an EA-looking cosigner that is no EA device
    link = full.make("batch_approve", {"by": "a", "approved": [], "revoked": [],
                                       "cosigner": "ea:nobody"},
                     {"a": _keys(world.u, "a").signing, "ea:nobody": mallory.signing})
    with pytest.raises(UnknownSigner):
        full.append(link)
    # a device of another user is not a device of this chain
    bob = Account(cheap(99)).user("bob")
    bob.add_device("pc", 0)
    link = full.make("puk_rotate", {"by": "pc", "generation": {"n": 1}},
                     {"pc": _keys(bob, "pc").signing})
    with pytest.raises(UnknownSigner):
        full.append(link)


def test_revoked_signer(world: World) -> None:
    full = world.u.chain.fork(len(world.u.chain.links))
    for name in ("c", "e", "b"):  # signed revoke, unsigned revoke, revoke inside a BatchApprove
        assert name in full.revoked
        link = full.make("batch_approve", {"by": name, "approved": [], "revoked": []},
                         {name: world.stolen[name].signing})
        with pytest.raises(RevokedSigner):
            full.append(link)
        link = full.make("device_revoke", {"by": name, "revoked": ["a"], "generation": {"n": 9}},
                         {name: world.stolen[name].signing})
        with pytest.raises(RevokedSigner):
            full.append(link)
    # before its revocation, the same signer was accepted
    i = next(i for i, lk in enumerate(world.u.chain.links)
             if lk.kind == "device_revoke" and "c" in lk.body["revoked"])
    early = world.u.chain.fork(i)
    early.append(early.make("batch_approve", {"by": "c", "approved": [], "revoked": []},
                            {"c": world.stolen["c"].signing}))


def test_revoked_ea_device_cannot_cosign_a_new_link(world: World) -> None:
    """ea2 was revoked on the EA chain; a *new* link on a member chain co-signed by it
    (e.g. an escrow recovery by a departed admin who kept the keys) must be refused.
    (Links it co-signed before its revocation stay valid: see
    test_chain_still_verifies_after_cosigning_ea_device_is_revoked_later.)"""
    assert world.ea.devices["ea2"].revoked
    full = world.u.chain.fork(len(world.u.chain.links))
    link = full.make("batch_approve", {"by": "a", "approved": [], "revoked": [],
                                       "cosigner": "ea:ea2"},
                     {"a": _keys(world.u, "a").signing, "ea:ea2": world.stolen["ea:ea2"].signing})
    with pytest.raises((RevokedSigner, UnknownSigner)):
        full.append(link)


def test_missing_signatures(world: World) -> None:
    u, full = world.u, world.u.chain.fork(len(world.u.chain.links))
    a = _keys(u, "a")
    with pytest.raises(MissingSignature):
        full.append(full.make("batch_approve", {"by": "a", "approved": [], "revoked": []}, {}))
    # signed, but by someone other than "by"
    with pytest.raises(MissingSignature):
        full.append(full.make("puk_rotate", {"by": "a", "generation": {"n": 9}},
                              {"g": _keys(u, "g").signing}))
    # DeviceAddAndApprove needs both the approver and the new device
    new = world.acc.crypto.new_device_keys()
    body = {"device": "bk2", "kind": "backup", "verify_key": new.verify_key.hex(),
            "kem": new.kem_public.raw.hex(), "by": "a", "approved": ["bk2"]}
    with pytest.raises(MissingSignature):
        full.append(full.make("device_add_and_approve", body, {"a": a.signing}))
    with pytest.raises(MissingSignature):
        full.append(full.make("device_add_and_approve", body, {"bk2": new.signing}))
    # an escrow recovery without the EA co-signature
    rec = next(lk for lk in u.chain.links if "cosigner" in lk.body)
    i = u.chain.links.index(rec)
    stripped = Link(rec.seq, rec.prev, rec.kind, rec.body,
                    {k: v for k, v in rec.signatures.items() if k != rec.body["cosigner"]})
    with pytest.raises(MissingSignature):
        u.chain.fork(i).append(stripped)
    # a device_add without the new device's own signature
    dev_add = next(lk for lk in u.chain.links if lk.kind == "device_add")
    j = u.chain.links.index(dev_add)
    with pytest.raises(MissingSignature):
        u.chain.fork(j).append(Link(dev_add.seq, dev_add.prev, dev_add.kind, dev_add.body, {}))
    # both complete versions are accepted
    full.append(full.make("device_add_and_approve", body, {"a": a.signing, "bk2": new.signing}))


def test_invalid_signature_encoding_is_tampered(world: World) -> None:
    link = world.u.chain.links[1]
    name = next(iter(link.signatures))
    forged = Link(link.seq, link.prev, link.kind, link.body, {name: "zz" * 64})
    with pytest.raises(TamperedLink):
        world.u.chain.fork(1).append(forged)


# ------------------------------------------------------------------ position


def test_fork_at_same_seq(world: World) -> None:
    chain = world.u.chain
    n = len(chain.links)
    a = _keys(world.u, "a")
    rival_base = chain.fork(n - 1)
    rival = rival_base.make("puk_rotate", {"by": "a", "generation": {"n": 77}}, {"a": a.signing})
    assert rival.seq == chain.links[-1].seq and rival.hash != chain.links[-1].hash
    rival_base.append(rival)  # valid on its own branch
    with pytest.raises(ForkError):
        chain.fork(n).append(rival)
    # an older position too
    rival3 = chain.fork(3).make("puk_rotate", {"by": "a", "generation": {"n": 78}}, {"a": a.signing})
    with pytest.raises(ForkError):
        chain.fork(n).append(rival3)
    # right next seq, but not extending this tip
    full = chain.fork(n)
    detached = Link(n + 1, bytes(32), "puk_rotate", {"by": "a", "generation": {"n": 79}})
    detached = Link(detached.seq, detached.prev, detached.kind, detached.body,
                    {"a": world.acc.crypto.sign(a.signing, detached.payload).hex()})
    with pytest.raises(ForkError):
        full.append(detached)
    # a second root, and a device added twice
    root = chain.links[0]
    with pytest.raises(ForkError):
        full.append(full.make("root", root.body, {"a": a.signing}))
    again = {k: v for k, v in chain.links[1].body.items() if k != "generation"}
    with pytest.raises(ForkError):
        full.append(full.make("device_add", again, {"b": world.stolen["b"].signing}))


def test_replayed_link(world: World) -> None:
    chain = world.u.chain
    full = chain.fork(len(chain.links))
    for link in (chain.links[-1], chain.links[0], chain.links[3]):
        with pytest.raises(ReplayedLink):
            full.append(link)
    assert full.tail == chain.tail


def test_reordered_link(world: World) -> None:
    chain = world.u.chain
    for k in range(len(chain.links) - 2):
        early = chain.fork(k)
        with pytest.raises(ReorderedLink):
            early.append(chain.links[k + 1])  # seq k+2 before seq k+1
        early.append(chain.links[k])
        early.append(chain.links[k + 1])  # in order it is fine
    # the first link of a chain must be a root
    with pytest.raises(ReorderedLink):
        Chain("alice", world.acc.crypto).append(
            Link(1, bytes(32), "puk_rotate", {"by": "a"}, {}))


# ------------------------------------------------------------------ lockdown


def test_lockdown_violations_on_ea_chain(world: World) -> None:
    ea_chain = world.ea.chain
    assert ea_chain.lockdown
    f = ea_chain.fork(len(ea_chain.links))
    crypto = world.acc.crypto
    new = crypto.new_device_keys()
    body = {"device": "ea3", "kind": "ea", "verify_key": new.verify_key.hex(),
            "kem": new.kem_public.raw.hex()}
    # an unconfirmed device may not bring a generation
    with pytest.raises(LockdownViolation):
        f.append(f.make("device_add", {**body, "generation": {"n": 5}}, {"ea3": new.signing}))
    f.append(f.make("device_add", body, {"ea3": new.signing}))
    assert "ea3" in f.verify_keys and "ea3" not in f.confirmed
    # nor approve
    with pytest.raises(LockdownViolation):
        f.append(f.make("batch_approve", {"by": "ea3", "approved": [], "revoked": []},
                        {"ea3": new.signing}))
    # a confirmed device may, and that confirms the new one
    ea1 = _keys(world.ea, "ea1")
    f.append(f.make("batch_approve", {"by": "ea1", "approved": ["ea3"], "revoked": []},
                    {"ea1": ea1.signing}))
    assert "ea3" in f.confirmed


# ------------------------------------------------------------------ minimal repros of the above


def test_signature_hex_is_canonical(world: World) -> None:
    """Upper-casing a signature's hex keeps the same signature bytes but changes the link's
    encoding and hash; such a link must not be accepted (else anyone can re-hash links and
    change fingerprints without a key)."""
    link = world.u.chain.links[1]
    name = next(iter(link.signatures))
    recased = Link(link.seq, link.prev, link.kind, link.body,
                   {name: link.signatures[name].upper()})
    assert recased.hash != link.hash
    with pytest.raises(ChainError):
        world.u.chain.fork(1).append(recased)


def test_links_are_canonical_json() -> None:
    """A link's encoding is JSON with sorted keys, no spaces and UTF-8 (names may be any
    text), and decodes to the same link; the same text with escapes is another encoding."""
    body = {"device": "Büro-Laptop ✓", "by": "phone", "approved": ["b", "a"], "n": 3, "x": None}
    link = Link(2, bytes(32), "batch_approve", body, {"phone": "00ff"})
    expected = json.dumps({"seq": 2, "prev": bytes(32).hex(), "kind": "batch_approve", "body": body,
                           "signatures": {"phone": "00ff"}}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
    assert link.encode() == expected.encode()
    assert Link.decode(link.encode()) == link
    with pytest.raises(MalformedLink):
        Link.decode(expected.replace("ü", "\\u00fc").encode())


def test_a_link_keeps_only_its_encoding() -> None:
    """orjson's bytes hold a buffer of at least 4 KiB whatever their length: a link keeps a
    copy of its payload at its own size (else a long run's chains take several times the memory)."""
    links = [Link(i, bytes(32), "batch_approve", {"by": "phone", "approved": ["laptop"]}, {}) for i in range(200)]
    tracemalloc.start()
    try:
        for link in links:
            assert link.payload and link.hash
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept / len(links) < 2048  # payload, hash and the attributes that hold them, not 4 KiB more


@pytest.mark.parametrize("field_name", ["device", "verify_key", "by"])
def test_link_missing_a_body_field_is_a_chain_error(world: World, field_name: str) -> None:
    """A link whose body lacks a field its kind needs is refused with a ChainError
    (MalformedLink), not a KeyError."""
    chain = world.u.chain
    i = next(i for i, lk in enumerate(chain.links)
             if lk.kind == "device_add_and_approve" and field_name in lk.body)
    link = chain.links[i]
    body = {k: v for k, v in link.body.items() if k != field_name}
    forged = Link(link.seq, link.prev, link.kind, body, dict(link.signatures))
    with pytest.raises(ChainError):
        chain.fork(i).append(forged)
    with pytest.raises((MalformedLink, ChainError)):
        chain.fork(i).append(Link.decode(forged.encode()))


def test_link_with_non_hex_key_is_a_chain_error(world: World) -> None:
    chain = world.u.chain
    link = chain.links[1]
    body = {**link.body, "verify_key": "zz" + link.body["verify_key"][2:]}
    forged = Link(link.seq, link.prev, link.kind, body, dict(link.signatures))
    with pytest.raises(ChainError):
        chain.fork(1).append(forged)


def test_lockdown_unconfirmed_device_brings_no_generation_by_rotate_or_revoke(world: World) -> None:
    """PROTOCOL §3 lockdown: "no generation of theirs is accepted" -- not through a
    DeviceAdd, and not through a PerUserKeyRotate or a DeviceRevoke either."""
    ea_chain = world.ea.chain
    f = ea_chain.fork(len(ea_chain.links))
    new = world.acc.crypto.new_device_keys()
    f.append(f.make("device_add", {"device": "ea3", "kind": "ea",
                                   "verify_key": new.verify_key.hex(),
                                   "kem": new.kem_public.raw.hex()}, {"ea3": new.signing}))
    assert "ea3" not in f.confirmed
    with pytest.raises(LockdownViolation):
        f.append(f.make("puk_rotate", {"by": "ea3", "generation": {"n": 6}}, {"ea3": new.signing}))
    with pytest.raises(LockdownViolation):
        f.append(f.make("device_revoke", {"by": "ea3", "revoked": ["ea-backup"],
                                          "generation": {"n": 6}}, {"ea3": new.signing}))


# ------------------------------------------------------------------ who may sign what (review s8)


def _tip(chain: Chain) -> Chain:
    return chain.fork(len(chain.links))


def test_a_key_rotation_is_signed_by_another_device_of_the_chain(world: World) -> None:
    """Signed only by the key it brings, a device_key_rotate would let anyone re-key a device
    (then sign as it), plant a signer never added, or bring back a revoked one."""
    mallory = world.acc.crypto.new_device_keys()

    def rotate(device: str, chain: Chain) -> Link:
        body = {"device": device, "by": device, "kind": "physical", "verify_key": mallory.verify_key.hex(),
                "kem": mallory.kem_public.raw.hex()}
        return chain.make("device_key_rotate", body, {device: mallory.signing})

    for chain, device in [(world.u.chain, "a"), (world.u.chain, "ghost"), (world.u.chain, "c"),
                          (world.ea.chain, "ea1")]:
        forked = _tip(chain)
        with pytest.raises(TamperedLink, match="a key rotation re-keys a device of the chain, signed by another"):
            forked.append(rotate(device, forked))
        assert forked.verify_keys.get(device) != mallory.verify_key


def test_another_chains_device_signs_only_as_an_escrow_cosigner(world: World) -> None:
    ea1 = _keys(world.ea, "ea1").signing
    for kind, body in [("device_revoke", {"by": "ea:ea1", "revoked": ["a"]}),
                       ("batch_approve", {"by": "ea:ea1", "approved": [], "revoked": ["a"]}),
                       ("puk_rotate", {"by": "ea:ea1", "generation": {"n": 99}})]:
        full = _tip(world.u.chain)
        with pytest.raises(UnknownSigner, match="ea:ea1 is not a device of this chain"):
            full.append(full.make(kind, body, {"ea:ea1": ea1}))


def test_an_escrow_recovery_needs_an_ea_device_as_cosigner(world: World) -> None:
    """Co-signed by the escrow device itself or by the member's own device, no EA device signs."""
    u, escrow = world.u, world.acc.escrow_keys("alice", "ea1").signing
    for cosigner, key in [("escrow", escrow), ("f", _keys(u, "f").signing)]:
        full = _tip(u.chain)
        link = full.make("batch_approve", {"by": "escrow", "approved": [], "revoked": [], "cosigner": cosigner},
                         {"escrow": escrow, cosigner: key})
        with pytest.raises(MissingSignature, match="an escrow recovery needs an EA device's co-signature"):
            full.append(link)


def test_a_signature_the_link_does_not_require_is_refused(world: World) -> None:
    """It signs nothing that matters, but changes the link's hash, and so the fingerprints."""
    link = world.u.chain.links[1]
    extra = Link(link.seq, link.prev, link.kind, link.body, {**link.signatures, "mallory": "00" * 64})
    with pytest.raises(TamperedLink, match=r"carries signatures it does not require \(mallory\)"):
        world.u.chain.fork(1).append(extra)
    with pytest.raises(TamperedLink):
        world.u.chain.fork(1).append(Link.decode(extra.encode()))
