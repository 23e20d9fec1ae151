"""Real cryptography for the simulator (docs/model.md §3 Keys and generations, the backup-key strings of §9,
the fingerprints of §6): device keys, per-user-key generations, boxes, content seals,
backup-key strings and fingerprints.

Everything here uses the ``cryptography`` package (plus ``reedsolo`` for the
backup-key code). Key material is drawn from the replication's key entropy by
BLAKE2b, so one seed gives one set of keys: the keys are algorithmically real
but not secret.
HPKE's ephemeral encapsulation randomness is drawn by OpenSSL inside
``cryptography`` (its HPKE API takes no randomness), so ciphertext bytes differ
between runs while every key, signature, hash and decryption outcome does not.

A :class:`Crypto` object belongs to one replication: it holds the key entropy, the
post-quantum switch, the Argon2id cost and the operation counters.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import reedsolo
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

APPS = ("general", "email", "voicemail")
_RAW = (Encoding.Raw, PublicFormat.Raw)
_SUITE_X25519 = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_SUITE_HYBRID = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)


class DecryptionFailed(Exception):
    """A box or a content ciphertext did not open with the key given."""


class BackupKeyError(ValueError):
    """A backup-key string that cannot be read or does not match the chain."""


@dataclass(frozen=True)
class Argon2Cost:
    """Argon2id cost for backup-key derivation (docs/model.md §9 default: 64 MiB, 3 passes)."""

    memory_kib: int = 65536
    passes: int = 3
    lanes: int = 1


# ---------------------------------------------------------------- KEM keys


class KemPrivate:
    """An HPKE recipient key: X25519, or ML-KEM-768 + X25519 when ``hybrid``."""

    __slots__ = ("hybrid", "suite", "key", "public")

    def __init__(self, x25519_seed: bytes, mlkem_seed: bytes | None) -> None:
        xk = x25519.X25519PrivateKey.from_private_bytes(x25519_seed)
        if mlkem_seed is None:
            self.key: object = xk
            self.public = KemPublic(xk.public_key(), None)
        else:
            mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed)
            self.key = hpke.MLKEM768X25519PrivateKey(mk, xk)
            self.public = KemPublic(xk.public_key(), mk.public_key())
        self.hybrid, self.suite = self.public.hybrid, self.public.suite


class KemPublic:
    """Public half of :class:`KemPrivate`; ``raw`` is its canonical byte form."""

    __slots__ = ("hybrid", "suite", "raw", "key")

    def __init__(self, x: x25519.X25519PublicKey, m: mlkem.MLKEM768PublicKey | None) -> None:
        self.hybrid = m is not None
        self.suite = _SUITE_HYBRID if self.hybrid else _SUITE_X25519
        self.raw = x.public_bytes(*_RAW) + (m.public_bytes_raw() if m is not None else b"")
        self.key: object = x if m is None else hpke.MLKEM768X25519PublicKey(m, x)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KemPublic) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)


# ---------------------------------------------------------------- device keys


@dataclass(frozen=True)
class DeviceKeys:
    """A device's Ed25519 signing key and HPKE KEM key."""

    signing: ed25519.Ed25519PrivateKey
    kem: KemPrivate
    verify_key: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verify_key", self.signing.public_key().public_bytes(*_RAW))

    @property
    def kem_public(self) -> KemPublic:
        return self.kem.public


# ---------------------------------------------------------------- generations


@dataclass(frozen=True)
class GenerationKeys:
    """The keys HKDF derives from one per-user-key generation seed."""

    seed: bytes
    general: KemPrivate
    email: KemPrivate
    voicemail: KemPrivate
    symmetric: bytes

    def public(self) -> dict[str, KemPublic]:
        return {"general": self.general.public, "email": self.email.public,
                "voicemail": self.voicemail.public}


def _hkdf(seed: bytes, context: str, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt=None,
                info=b"dmesim/v1/" + context.encode()).derive(seed)


# ---------------------------------------------------------------- backup keys

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_CROCKFORD)}
_DECODE.update({"I": 1, "L": 1, "O": 0})
_RS = reedsolo.RSCodec(nsym=2, nsize=28, c_exp=5)  # GF(32): 26 data + 2 check symbols


def _backup_id(secret: bytes) -> str:
    digest = int.from_bytes(hashlib.sha256(b"dmesim/backup-id" + secret).digest()[:3], "big")
    return "".join(_CROCKFORD[(digest >> (19 - 5 * i)) & 31] for i in range(4))


def encode_backup_key(secret: bytes) -> str:
    """128-bit secret → ``XXXX-XXXX-…`` (8 groups of 4, docs/model.md §9)."""
    if len(secret) != 16:
        raise ValueError("a backup-key secret is 16 bytes")
    n = int.from_bytes(secret, "big") << 2  # 130 bits = 26 symbols of 5 bits
    data = bytearray((n >> (5 * (25 - i))) & 31 for i in range(26))
    chars = _backup_id(secret) + "".join(_CROCKFORD[s] for s in _RS.encode(data))
    return "-".join(chars[i:i + 4] for i in range(0, 32, 4))


def decode_backup_key(text: str) -> tuple[str, bytes]:
    """Read a backup-key string; return (key ID, secret).

    Case-insensitive; I and L read as 1, O as 0; any single wrong character is
    corrected, including one outside the alphabet (such as U), read as an erasure. Anything else raises :class:`BackupKeyError`,
    except, rarely (about 2^-22 for a random pair of typos), two wrong characters that spell
    another valid string: its secret is returned, and the chain check
    (:meth:`~sim.model.account.Account.backup_keys`) refuses it as not the backup's key.
    """
    chars = "".join(text.split()).replace("-", "").upper()
    if len(chars) != 32:
        raise BackupKeyError(f"a backup key has 32 characters, this has {len(chars)}")
    unreadable = [i for i, c in enumerate(chars) if c not in _DECODE]  # e.g. U: an erasure
    if len(unreadable) > 1:
        bad = "".join(sorted({chars[i] for i in unreadable}))
        raise BackupKeyError(f"not backup-key characters: {bad!r}")
    symbols = [_DECODE.get(c, 0) for c in chars]
    erase = [i - 4 for i in unreadable if i >= 4]
    try:
        data, _, errata = _RS.decode(bytearray(symbols[4:]), erase_pos=erase or None)
    except reedsolo.ReedSolomonError:
        raise BackupKeyError("backup key has more than one wrong character") from None
    n = 0
    for s in data:
        n = (n << 5) | s
    if n & 3:
        raise BackupKeyError("backup key has more than one wrong character")
    secret = (n >> 2).to_bytes(16, "big")
    key_id = _backup_id(secret)
    typed_id = "".join(_CROCKFORD[s] for s in symbols[:4])
    id_errors = sum(a != b for a, b in zip(key_id, typed_id, strict=True))
    id_errors = max(id_errors, len([i for i in unreadable if i < 4]))
    if id_errors + len(errata) > 1:
        raise BackupKeyError("backup key has more than one wrong character")
    return key_id, secret


# ---------------------------------------------------------------- fingerprints


def fingerprint(user_tail: tuple[int, bytes], account_tail: tuple[int, bytes]) -> str:
    """SHA-256 over the user chain's and account chain's tails, hex in groups of 4."""
    h = hashlib.sha256(b"dmesim/fingerprint")
    for seq, link_hash in (user_tail, account_tail):
        h.update(seq.to_bytes(8, "big") + link_hash)
    hexd = h.hexdigest()
    return " ".join(hexd[i:i + 4] for i in range(0, 64, 4))


# ---------------------------------------------------------------- the per-run context


@dataclass
class Crypto:
    """The cryptography of one replication, drawing its key material from ``entropy``.

    ``ops`` counts every real operation performed (key generations, box seals
    and opens, content seals and opens, signatures, verifications, Argon2id);
    a ``_pq`` suffix marks the hybrid ML-KEM-768 + X25519 variants.
    """

    entropy: bytes
    post_quantum: bool = False
    argon2: Argon2Cost = field(default_factory=Argon2Cost)
    ops: Counter[str] = field(default_factory=Counter)
    draws: int = 0  # key-material draws so far
    _keyed: dict[int, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    # -- keys
    def random(self, n: int) -> bytes:
        """``n`` (at most 64) bytes of key material: BLAKE2b keyed by the entropy, of the
        draw's number (CPython's own BLAKE2b: no OpenSSL context to fetch per call). The
        keyed state of each size is made once and copied per draw: the same bytes."""
        self.draws += 1
        keyed = self._keyed.get(n)
        if keyed is None:
            keyed = self._keyed[n] = hashlib.blake2b(digest_size=n, key=self.entropy, person=b"dmesim/keys")
        h = keyed.copy()
        h.update(b"%d" % self.draws)
        return h.digest()

    def _kem(self, material: bytes, hybrid: bool) -> KemPrivate:
        return KemPrivate(material[:32], material[32:96] if hybrid else None)

    def device_keys_from_seed(self, seed: bytes) -> DeviceKeys:
        """Device keys from a 32-byte seed (HKDF); used for backup and escrow devices."""
        self.ops["device_keygen_pq" if self.post_quantum else "device_keygen"] += 1
        sk = ed25519.Ed25519PrivateKey.from_private_bytes(_hkdf(seed, "device/ed25519", 32))
        kem = self._kem(_hkdf(seed, "device/kem", 96), self.post_quantum)
        return DeviceKeys(sk, kem)

    def new_device_keys(self) -> DeviceKeys:
        return self.device_keys_from_seed(self.random(32))

    def generation_keys(self, seed: bytes) -> GenerationKeys:
        """HKDF tree of a generation seed (docs/model.md §3). Mail is hybrid when post-quantum."""
        self.ops["generation_derive_pq" if self.post_quantum else "generation_derive"] += 1
        return GenerationKeys(
            seed=seed,
            general=self._kem(_hkdf(seed, "puk/general", 32), False),
            email=self._kem(_hkdf(seed, "puk/email", 96), self.post_quantum),
            voicemail=self._kem(_hkdf(seed, "puk/voicemail", 32), False),  # X25519 only, §8.2
            symmetric=_hkdf(seed, "puk/symmetric", 32),
        )

    def new_generation(self) -> GenerationKeys:
        return self.generation_keys(self.random(32))

    # -- HPKE
    def hpke_seal(self, op: str, plaintext: bytes, to: KemPublic, info: bytes) -> bytes:
        self.ops[op + "_pq" if to.hybrid else op] += 1
        return to.suite.encrypt(plaintext, to.key, info=info)  # type: ignore[arg-type]

    def hpke_open(self, op: str, ciphertext: bytes, key: KemPrivate, info: bytes) -> bytes:
        self.ops[op + "_pq" if key.hybrid else op] += 1
        try:
            return key.suite.decrypt(ciphertext, key.key, info=info)  # type: ignore[arg-type]
        except (InvalidTag, ValueError) as exc:
            raise DecryptionFailed(str(exc) or type(exc).__name__) from None

    def seal_box(self, seed: bytes, to: KemPublic, binding: bytes) -> bytes:
        """A generation seed sealed to a device; ``binding`` names user, generation,
        sender and recipient so the box cannot be replayed elsewhere."""
        return self.hpke_seal("box_seal", seed, to, b"dmesim/box/" + binding)

    def open_box(self, ciphertext: bytes, key: KemPrivate, binding: bytes) -> bytes:
        return self.hpke_open("box_open", ciphertext, key, b"dmesim/box/" + binding)

    def seal_content(self, plaintext: bytes, to: KemPublic, binding: bytes) -> bytes:
        return self.hpke_seal("content_seal", plaintext, to, b"dmesim/content/" + binding)

    def open_content(self, ciphertext: bytes, key: KemPrivate, binding: bytes) -> bytes:
        return self.hpke_open("content_open", ciphertext, key, b"dmesim/content/" + binding)

    # -- signatures
    def sign(self, key: ed25519.Ed25519PrivateKey, message: bytes) -> bytes:
        self.ops["sign"] += 1
        return key.sign(message)

    def verify(self, verify_key: bytes, signature: bytes, message: bytes) -> bool:
        self.ops["verify"] += 1
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(verify_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    # -- backup keys
    def new_backup_string(self) -> str:
        return encode_backup_key(self.random(16))

    def backup_seed(self, text: str, user_id: str) -> tuple[str, bytes]:
        """Argon2id(secret, salt = user id ‖ key ID) → (key ID, 32-byte device seed)."""
        key_id, secret = decode_backup_key(text)
        self.ops["argon2id"] += 1
        seed = Argon2id(
            salt=f"dmesim/backup/{user_id}/{key_id}".encode(), length=32,
            iterations=self.argon2.passes, lanes=self.argon2.lanes,
            memory_cost=self.argon2.memory_kib,
        ).derive(secret)
        return key_id, seed
