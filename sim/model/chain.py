"""Sigchains (docs/model.md §4 Sigchains and fingerprints): append-only, hash-linked, signed links.

A :class:`Chain` verifies every link once, on append: position, previous hash,
and the signatures its type requires from devices the chain itself knows and
has not revoked. It also tracks which devices are on the chain, which are
revoked and, in lockdown mode, which are confirmed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from .crypto import Crypto

ZERO_HASH = bytes(32)


class ChainError(Exception):
    """A link the chain refuses."""


class MalformedLink(ChainError):
    """The bytes are not a link."""


class TamperedLink(ChainError):
    """A signature does not verify over the link's content."""


class MissingSignature(ChainError):
    """A signature the link type requires is absent."""


class UnknownSigner(ChainError):
    """The signer is not a device of this chain (or may not sign this link)."""


class RevokedSigner(ChainError):
    """The signer was revoked earlier on the chain."""


class ReplayedLink(ChainError):
    """The very same link is already on the chain."""


class ForkError(ChainError):
    """The link conflicts with the chain's history (same position, other content)."""


class ReorderedLink(ChainError):
    """The link skips ahead of the chain's tip."""


class LockdownViolation(ChainError):
    """In lockdown, an unconfirmed device tried to approve or to add a generation."""


# Link kinds and who must sign them: "new" = the device the link adds,
# "by" = body["by"], "approver" = body["approver"].
REQUIRED_SIGNERS: dict[str, tuple[str, ...]] = {
    "root": ("new",),
    "device_add": ("new",),
    "device_add_and_approve": ("by", "new"),
    "batch_approve": ("by",),
    "device_revoke": ("by",),
    "server_revoke": (),
    "puk_rotate": ("by",),
    "device_key_rotate": ("by", "new"),
    "lockdown": ("by",),
    "account_root": ("new",),
    "escrow_enable": ("by",),
}
ADDS_DEVICE = {"root", "account_root", "device_add", "device_add_and_approve"}
SIGNED_BY_NEW_KEY = ADDS_DEVICE | {"device_key_rotate"}  # the key the link brings signs it


def _canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (orjson: a tenth of the ``json``
    module's time on a link, which matters as every link is encoded twice)."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Link:
    """One sigchain link. ``body`` is JSON data; ``signatures`` maps signer → hex."""

    seq: int
    prev: bytes
    kind: str
    body: dict[str, Any]
    signatures: dict[str, str] = field(default_factory=dict)

    @cached_property
    def payload(self) -> bytes:
        """What signers sign: everything but the signatures. Copied to its length, as the
        link keeps it: orjson's own bytes hold a buffer of at least 4 KiB."""
        return bytes(memoryview(_canonical({"seq": self.seq, "prev": self.prev.hex(), "kind": self.kind,
                                            "body": self.body})))

    def encode(self) -> bytes:
        """Canonical JSON of the whole link: sorted keys put "signatures" last."""
        return self.payload[:-1] + b',"signatures":' + _canonical(self.signatures) + b"}"

    @cached_property
    def hash(self) -> bytes:
        # BLAKE2b is CPython's own: no OpenSSL context to fetch per link, as SHA-256 has
        return hashlib.blake2b(self.encode(), digest_size=32).digest()

    @classmethod
    def decode(cls, data: bytes) -> Link:
        try:
            obj = orjson.loads(data)
            link = cls(int(obj["seq"]), bytes.fromhex(obj["prev"]), str(obj["kind"]),
                       dict(obj["body"]), dict(obj["signatures"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise MalformedLink(f"not a link: {exc}") from None
        if link.kind not in REQUIRED_SIGNERS or len(link.prev) != 32:
            raise MalformedLink(f"not a link: kind {link.kind!r}")
        if link.encode() != data:  # one encoding per link: no case, spacing or order variants
            raise MalformedLink("not a link in canonical form")
        return link

    def signer_names(self) -> list[str]:
        names = []
        for role in REQUIRED_SIGNERS[self.kind]:
            names.append(self.body["device"] if role == "new" else self.body[role])
        if "cosigner" in self.body:  # an EA device co-signing an escrow recovery
            names.append(self.body["cosigner"])
        return names


# Resolves a signer that lives on another chain (e.g. "ea:admin-laptop") to its
# verify key as of the position the link names on that chain, or None.
ExternalKeys = Callable[[str, "Link"], bytes | None]


class Chain:
    """A user's (or the EA's, or the account's) sigchain, verified on append."""

    def __init__(self, owner: str, crypto: Crypto, external: ExternalKeys | None = None):
        self.owner = owner
        self.crypto = crypto
        self.external = external
        self.links: list[Link] = []
        self.tail: tuple[int, bytes] = (0, ZERO_HASH)  # the last link's (seq, hash)
        self._hashes: set[bytes] = set()
        self.verify_keys: dict[str, bytes] = {}
        self.revoked: set[str] = set()
        self.lockdown = False
        self.confirmed: dict[str, int] = {}  # device → the link that confirmed it (lockdown)
        self.kinds: dict[str, str] = {}  # device → its kind, as the link that added it says
        self._added: dict[str, int] = {}
        self.revoked_seq: dict[str, int] = {}
        # the latest EA chain position a link named (escrow enrolment, re-key, recovery): a new
        # escrow recovery may not name an older one, from before an EA device's revocation
        self.ea_seq = 0

    # -- reading
    def seq_of(self, device: str) -> int:
        """Sequence number of the link that added ``device`` (its chain order)."""
        return self._added[device]

    def key_at(self, device: str, seq: int) -> bytes | None:
        """``device``'s verify key if it was on the chain, unrevoked, at link ``seq``."""
        if device not in self._added or self._added[device] > seq or seq > self.tail[0]:
            return None
        if self.revoked_seq.get(device, seq + 1) <= seq:
            return None
        if self.lockdown and self.confirmed.get(device, seq + 1) > seq:
            return None  # an unconfirmed device may not approve, so may not co-sign either
        return self.verify_keys[device]

    # -- writing
    def make(self, kind: str, body: dict[str, Any], signers: dict[str, Any]) -> Link:
        """Build the next link and sign it with ``signers`` (name → Ed25519 key)."""
        seq, prev = self.tail
        link = Link(seq + 1, prev, kind, body)
        for name, key in sorted(signers.items()):  # before the link leaves here or is hashed
            link.signatures[name] = self.crypto.sign(key, link.payload).hex()
        return link

    def append(self, link: Link) -> Link:
        """Verify ``link`` against the chain and add it, or raise a :class:`ChainError`."""
        self._check_position(link)
        try:
            self._check_signatures(link)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise MalformedLink(f"{self.owner}: link {link.seq} ({link.kind}) is malformed: {exc!r}") from None
        self._apply(link)
        return link

    def extend(self, links: Iterable[Link]) -> None:
        for link in links:
            self.append(link)

    def fork(self, upto: int) -> Chain:
        """A copy holding the first ``upto`` links (already verified here)."""
        other = Chain(self.owner, self.crypto, self.external)
        for link in self.links[:upto]:
            other._apply(link)
        return other

    # -- checks
    def _check_position(self, link: Link) -> None:
        if link.hash in self._hashes:
            raise ReplayedLink(f"{self.owner}: link {link.seq} ({link.kind}) is already on the chain")
        seq, prev = self.tail
        if link.seq <= seq:
            raise ForkError(f"{self.owner}: a different link {link.seq} is already on the chain")
        if link.seq > seq + 1:
            raise ReorderedLink(f"{self.owner}: link {link.seq} arrived before link {seq + 1}")
        if link.prev != prev:
            raise ForkError(f"{self.owner}: link {link.seq} does not extend this chain's tip")

    def _key_of(self, name: str, link: Link) -> bytes:
        if link.kind in SIGNED_BY_NEW_KEY and name == link.body.get("device"):
            return bytes.fromhex(link.body["verify_key"])
        if name in self.verify_keys:
            if name in self.revoked:
                raise RevokedSigner(f"{self.owner}: {name} was revoked and cannot sign")
            return self.verify_keys[name]
        # another chain's device signs only as an escrow recovery's EA co-signer
        key = self.external(name, link) if self.external and name == link.body.get("cosigner") else None
        if key is None:
            raise UnknownSigner(f"{self.owner}: {name} is not a device of this chain")
        return key

    def _check_signatures(self, link: Link) -> None:
        if link.kind not in REQUIRED_SIGNERS:
            raise MalformedLink(f"{self.owner}: unknown link kind {link.kind!r}")
        if link.kind in ("root", "account_root") and self.links:
            raise ForkError(f"{self.owner}: a chain has one root")
        if not self.links and link.kind not in ("root", "account_root"):
            raise ReorderedLink(f"{self.owner}: the first link must be a root")
        if link.kind in ADDS_DEVICE and link.body["device"] in self.verify_keys:
            raise ForkError(f"{self.owner}: {link.body['device']} is already on the chain")
        if link.kind == "batch_approve" and self.kinds.get(link.body["by"]) == "escrow" and not str(
                link.body.get("cosigner", "")).startswith("ea:"):
            raise MissingSignature(f"{self.owner}: link {link.seq}: an escrow recovery needs an EA device's co-signature")
        if "cosigner" in link.body and int(link.body.get("ea_seq", self.ea_seq)) < self.ea_seq:
            raise TamperedLink(f"{self.owner}: link {link.seq} names EA chain position {link.body['ea_seq']}, "
                               f"older than {self.ea_seq}, which this chain named already")
        if link.kind == "device_key_rotate" and (link.body["by"] == link.body["device"]
                                                 or link.body["device"] not in self.verify_keys
                                                 or link.body["device"] in self.revoked):
            raise TamperedLink(f"{self.owner}: link {link.seq}: a key rotation re-keys a device of the chain, "
                               "signed by another")
        signers = link.signer_names()
        for name in signers:
            if name not in link.signatures:
                raise MissingSignature(f"{self.owner}: link {link.seq} ({link.kind}) lacks {name}'s signature")
            key = self._key_of(name, link)
            try:
                sig = bytes.fromhex(link.signatures[name])
            except ValueError:
                sig = b""
            if sig.hex() != link.signatures[name]:  # one spelling per signature, so one hash per link
                raise TamperedLink(f"{self.owner}: link {link.seq}: signature of {name} is not lower-case hex")
            if not self.crypto.verify(key, sig, link.payload):
                raise TamperedLink(f"{self.owner}: link {link.seq} ({link.kind}): {name}'s signature does not verify")
        if extra := sorted(set(link.signatures) - set(signers)):
            raise TamperedLink(f"{self.owner}: link {link.seq} ({link.kind}) carries signatures it does not "
                               f"require ({', '.join(extra)})")
        if self.lockdown:
            by = link.body.get("by")
            if link.kind in ("batch_approve", "device_add_and_approve") and by not in self.confirmed:
                raise LockdownViolation(f"{self.owner}: unconfirmed {by} may not approve in lockdown")
            if link.kind == "device_add" and "generation" in link.body:
                raise LockdownViolation(f"{self.owner}: an unconfirmed device may not add a generation")
            if link.kind in ("puk_rotate", "device_revoke", "device_key_rotate") and by not in self.confirmed:
                raise LockdownViolation(f"{self.owner}: unconfirmed {by} may not rotate or revoke in lockdown")

    # -- state
    def _apply(self, link: Link) -> None:
        self.links.append(link)
        self.tail = (link.seq, link.hash)
        self._hashes.add(link.hash)
        body = link.body
        if link.kind in ADDS_DEVICE:
            self.verify_keys[body["device"]] = bytes.fromhex(body["verify_key"])
            self._added[body["device"]] = link.seq
            self.kinds[body["device"]] = body.get("kind", "")
            if not self.lockdown or link.kind != "device_add":
                self.confirmed.setdefault(body["device"], link.seq)
        if link.kind == "device_key_rotate":
            self.verify_keys[body["device"]] = bytes.fromhex(body["verify_key"])
        if link.kind in ("batch_approve", "device_add_and_approve"):
            for name in body.get("approved", []):
                self.confirmed.setdefault(name, link.seq)
        self.ea_seq = max(self.ea_seq, int(body.get("ea_seq", 0)))
        for name in body.get("revoked", []):
            self.revoked.add(name)
            self.revoked_seq.setdefault(name, link.seq)
        if link.kind == "lockdown":
            self.lockdown = True
