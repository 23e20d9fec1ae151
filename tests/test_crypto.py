"""sim.model.crypto: backup-key strings, keys drawn from the seed, fingerprints, post-quantum keys, boxes, counters."""

from __future__ import annotations

import hashlib
import random
import re

import pytest

from helpers import MAIL, cheap, secrets, small_account, substitute
from sim.behaviour.streams import key_entropy
from sim.model import Account
from sim.model.crypto import (
    BackupKeyError,
    Crypto,
    DecryptionFailed,
    _backup_id,
    decode_backup_key,
    encode_backup_key,
)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$")


# ------------------------------------------------------------------ backup-key strings


@pytest.mark.parametrize("secret", secrets(20), ids=bytes.hex)
def test_backup_key_round_trip_and_format(secret: bytes) -> None:
    text = encode_backup_key(secret)
    assert FORMAT.match(text), text
    assert len(text.split("-")) == 8 and all(len(g) == 4 for g in text.split("-"))
    key_id, back = decode_backup_key(text)
    assert back == secret
    assert key_id == text[:4] == _backup_id(secret)
    # whitespace and missing dashes are tolerated
    assert decode_backup_key(text.replace("-", ""))[1] == secret
    assert decode_backup_key(text.replace("-", " "))[1] == secret


def test_encode_rejects_wrong_secret_length() -> None:
    for n in (0, 15, 17, 32):
        with pytest.raises(ValueError):
            encode_backup_key(bytes(n))


@pytest.mark.parametrize("secret", secrets(3, seed=1), ids=bytes.hex)
def test_every_single_substitution_is_corrected(secret: bytes) -> None:
    text = encode_backup_key(secret)
    chars = text.replace("-", "")
    expected = (text[:4], secret)
    checked = 0
    for pos in range(32):
        for c in CROCKFORD:
            if c == chars[pos]:
                continue
            typo = substitute(text, pos, c)
            assert decode_backup_key(typo) == expected, (pos, c, typo)
            assert decode_backup_key(typo.lower()) == expected, (pos, c, typo)
            checked += 1
    assert checked == 32 * 31


def _key_with_ones_and_zeros() -> tuple[bytes, str]:
    for secret in secrets(500, seed=2):
        text = encode_backup_key(secret)
        body = text.replace("-", "")
        if body.count("1") >= 2 and "0" in body:
            return secret, text
    raise AssertionError("no key with 1s and 0s found")  # pragma: no cover


def test_lower_case_and_ambiguous_letters() -> None:
    secret, text = _key_with_ones_and_zeros()
    assert decode_backup_key(text.lower())[1] == secret
    # I and L (either case) read as 1, O (either case) as 0
    ones = iter("ILil" * 10)
    mangled = "".join(next(ones) if ch == "1" else ch for ch in text)
    mangled = mangled.replace("0", "O")
    assert mangled != text and ("I" in mangled or "L" in mangled) and "O" in mangled
    assert decode_backup_key(mangled) == (text[:4], secret)
    assert decode_backup_key(mangled.lower()) == (text[:4], secret)
    # ... and still one real typo on top of that is corrected
    pos = next(i for i in range(32) if mangled.replace("-", "")[i] not in "ILilOo")
    other = "Z" if mangled.replace("-", "")[pos] != "Z" else "Y"
    assert decode_backup_key(substitute(mangled, pos, other))[1] == secret


def test_two_errors_are_refused_never_a_wrong_secret() -> None:
    rnd = random.Random(7)
    keys = secrets(10, seed=3)
    wrong, accepted, tried = [], [], 0
    for secret in keys:
        text = encode_backup_key(secret)
        chars = text.replace("-", "")
        for _ in range(1500):
            p1, p2 = rnd.sample(range(32), 2)
            typo = text
            for p in (p1, p2):
                typo = substitute(typo, p, rnd.choice([c for c in CROCKFORD if c != chars[p]]))
            tried += 1
            try:
                _, got = decode_backup_key(typo)
            except BackupKeyError:
                continue
            (accepted if got == secret else wrong).append((text, typo))
    assert tried == 15000
    assert wrong == [], f"{len(wrong)} two-error strings decoded to a WRONG secret: {wrong[:3]}"
    assert accepted == [], f"{len(accepted)} two-error strings were accepted: {accepted[:3]}"


def test_two_errors_exhaustive_in_check_region() -> None:
    """Every pair of errors in the last group (check characters included) is refused."""
    secret = secrets(1, seed=4)[0]
    text = encode_backup_key(secret)
    chars = text.replace("-", "")
    n = 0
    for p1 in range(28, 32):
        for p2 in range(p1 + 1, 32):
            for c1 in CROCKFORD:
                for c2 in CROCKFORD:
                    if c1 == chars[p1] or c2 == chars[p2]:
                        continue
                    typo = substitute(substitute(text, p1, c1), p2, c2)
                    with pytest.raises(BackupKeyError):
                        decode_backup_key(typo)
                    n += 1
    assert n == 6 * 31 * 31


@pytest.mark.parametrize("text", [
    "",
    "ABCD-EFGH",
    "0" * 31,
    "0" * 33,
    "UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU",
    "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-67*9",
])
def test_unreadable_strings_are_refused(text: str) -> None:
    with pytest.raises(BackupKeyError):
        decode_backup_key(text)


def test_random_strings_are_refused() -> None:
    rnd = random.Random(8)
    outcomes = []
    for _ in range(5000):
        text = "".join(rnd.choice(CROCKFORD) for _ in range(32))
        try:
            decode_backup_key(text)
        except BackupKeyError:
            outcomes.append("refused")
        else:
            outcomes.append("decoded")  # possible (a valid code word), but ~never
    assert outcomes.count("refused") >= 4990


def test_a_character_outside_the_alphabet_is_corrected_as_an_erasure() -> None:
    secret = bytes(range(16))
    text = encode_backup_key(secret).replace("-", "")
    for pos in range(32):
        typed = text[:pos] + "U" + text[pos + 1:]
        assert decode_backup_key(typed)[1] == secret
    # an erasure plus a wrong character is two errors: refused
    wrong = "1" if text[10] != "1" else "2"
    with pytest.raises(BackupKeyError):
        decode_backup_key("U" + text[1:10] + wrong + text[11:])


# ------------------------------------------------------------------ reproducibility


def _trace(acc: Account) -> dict[str, object]:
    assert acc.ea is not None
    users = {**acc.users, "ea": acc.ea}
    return {
        "device_keys": {(u, n): (d.verify_key, d.kem_public.raw)
                        for u, user in users.items() for n, d in user.devices.items()},
        "generations": {(u, g.number): tuple(g.public[a].raw for a in sorted(g.public))
                        for u, user in users.items() for g in user.generations},
        "chain_hashes": {u: [link.hash for link in user.chain.links] for u, user in users.items()},
        "account_chain": [link.hash for link in acc.chain.links],
        "fingerprints": {u: acc.fingerprint(u) for u in [*acc.users, "escrow-admins"]},
        "backup_strings": dict(acc.backup_strings),
    }


def test_same_seed_same_keys_hashes_and_fingerprints() -> None:
    t1, t2 = _trace(small_account(42)), _trace(small_account(42))
    for k in t1:
        assert t1[k] == t2[k], k
    assert len(t1["device_keys"]) >= 8  # type: ignore[arg-type]
    fp = t1["fingerprints"]["alice"]  # type: ignore[index]
    assert re.fullmatch(r"[0-9a-f]{4}( [0-9a-f]{4}){15}", fp)


def test_different_seed_different_keys_hashes_and_fingerprints() -> None:
    t1, t2 = _trace(small_account(42)), _trace(small_account(43))
    assert t1["device_keys"].keys() == t2["device_keys"].keys()  # type: ignore[attr-defined]
    for key in t1["device_keys"]:  # type: ignore[attr-defined]
        assert t1["device_keys"][key] != t2["device_keys"][key], key  # type: ignore[index]
    for key in t1["generations"]:  # type: ignore[attr-defined]
        assert t1["generations"][key] != t2["generations"][key], key  # type: ignore[index]
    for user in t1["chain_hashes"]:  # type: ignore[attr-defined]
        h1, h2 = t1["chain_hashes"][user], t2["chain_hashes"][user]  # type: ignore[index]
        assert len(h1) == len(h2) and not set(h1) & set(h2), user
    for user in t1["fingerprints"]:  # type: ignore[attr-defined]
        assert t1["fingerprints"][user] != t2["fingerprints"][user]  # type: ignore[index]
    assert t1["backup_strings"] != t2["backup_strings"]


def test_fingerprint_tracks_both_tails() -> None:
    acc = small_account(1)
    before = acc.fingerprint("alice")
    assert acc.fingerprint("alice") == before  # pure
    acc.users["alice"].rotate("a", 10.0)
    after_user = acc.fingerprint("alice")
    assert after_user != before
    assert acc.fingerprint("bob") != after_user


def test_key_material_is_a_function_of_seed_and_replication_only() -> None:
    """Keys are drawn from (seed, rep) alone: the same draws again give the same bytes,
    each draw differs from every other, and another seed or replication gives others."""
    def draws(seed: int, rep: int) -> list[bytes]:
        c = Crypto(key_entropy(seed, rep))
        return [c.random(n) for n in (32, 16, 32, 5, 32)]

    a = draws(7, 0)
    assert a == draws(7, 0)
    # the i-th draw is BLAKE2b of its number, keyed by the entropy, whatever sizes came before
    assert a == [hashlib.blake2b(b"%d" % i, digest_size=len(x), key=key_entropy(7, 0),
                                 person=b"dmesim/keys").digest() for i, x in enumerate(a, 1)]
    assert [len(x) for x in a] == [32, 16, 32, 5, 32]
    assert len(set(a)) == len(a)
    others = {x for seed, rep in ((7, 1), (8, 0), (0, 7)) for x in draws(seed, rep)}
    assert not others & set(a)
    assert Crypto(key_entropy(7, 0)).new_device_keys().verify_key == Crypto(key_entropy(7, 0)).new_device_keys().verify_key


# ------------------------------------------------------------------ post-quantum


def test_post_quantum_mail_is_hybrid_voicemail_is_x25519() -> None:
    acc = small_account(3, post_quantum=True)
    u = acc.users["alice"]
    for g in u.generations:
        assert g.public["email"].hybrid
        assert not g.public["voicemail"].hybrid
        assert not g.public["general"].hybrid
        assert len(g.public["email"].raw) == 32 + 1184  # X25519 + ML-KEM-768 public key
        assert len(g.public["voicemail"].raw) == 32
    for d in u.devices.values():
        assert d.kem_public.hybrid
    # boxes open, and both kinds of content decrypt on a device that knows the generation
    assert set(u.knows("a")) == u.boxed("a") == {g.number for g in u.generations}
    mail = u.seal("m1", MAIL, b"post-quantum mail", 11.0)
    vm = u.seal("v1", "voicemail", b"voicemail", 11.0)
    for d in ("a", "b"):
        assert u.can_decrypt(d, mail) and u.can_decrypt(d, vm)
    assert u.open(mail, u.generation_keys(mail.generation, "b")) == b"post-quantum mail"
    assert u.open(vm, u.generation_keys(vm.generation, "b")) == b"voicemail"


def test_classical_mode_is_x25519_everywhere() -> None:
    acc = small_account(3)
    u = acc.users["alice"]
    assert all(not k.hybrid for g in u.generations for k in g.public.values())
    assert all(not d.kem_public.hybrid for d in u.devices.values())


# ------------------------------------------------------------------ boxes and counters


def test_box_opens_only_with_its_binding_and_key() -> None:
    crypto = cheap(21)
    dev, other = crypto.new_device_keys(), crypto.new_device_keys()
    seed = crypto.random(32)
    binding = b"alice/3/phone/laptop"
    box = crypto.seal_box(seed, dev.kem_public, binding)
    assert crypto.open_box(box, dev.kem, binding) == seed
    for wrong in (b"bob/3/phone/laptop", b"alice/4/phone/laptop",
                  b"alice/3/tablet/laptop", b"alice/3/phone/tablet"):
        with pytest.raises(DecryptionFailed):
            crypto.open_box(box, dev.kem, wrong)
    with pytest.raises(DecryptionFailed):
        crypto.open_box(box, other.kem, binding)
    tampered = bytearray(box)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        crypto.open_box(bytes(tampered), dev.kem, binding)
    # a box is not a content ciphertext with the same binding
    with pytest.raises(DecryptionFailed):
        crypto.open_content(box, dev.kem, binding)


def test_operation_counters() -> None:
    crypto = cheap(24)
    acc = Account(crypto)
    u = acc.user("alice")
    u.add_device("a", 0)
    u.add_device("b", 1)
    u.knows("b")
    acc.create_backup_key("alice", "a", "bk", 2)
    assert crypto.ops["box_seal"] >= 3 and crypto.ops["box_open"] >= 1
    assert crypto.ops["sign"] >= 4 and crypto.ops["verify"] >= 4
    assert crypto.ops["argon2id"] == 1
