"""The protocol's nouns (docs/model.md §2 Entities, §3 Keys and generations): devices, generations, boxes,
sealed content, escrow blobs and the event log, as plain records.

A device is the one mutable record: what it has opened, whether it was revoked and when
it left legitimate hands change as the history goes on. Generations, boxes, sealed
messages and escrow blobs never change once made. Nothing here does cryptography: the
records hold what :class:`~sim.model.crypto.Crypto` made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .crypto import DeviceKeys, GenerationKeys, KemPublic

# device kinds (§1): a client, a backup key, a member's escrow device, an escrow admin's device
PHYSICAL, BACKUP, ESCROW, EA = "physical", "backup", "escrow", "ea"
EA_USER = "escrow-admins"  # the user whose chain is the EA chain
ESCROW_DEVICE, EA_BACKUP = "escrow", "ea-backup"  # a member's escrow device; the EA backup key
APP_KEY = {"voicemail": "voicemail", "mail": "email"}  # message app → its generation key (§2)


class ProtocolError(Exception):
    """An action the protocol does not allow in the current state."""


class EscrowBlob(NamedTuple):
    """An escrow device's key seed HPKE-sealed to one EA generation's general key, the
    latest at EA chain position ``ea_seq`` (§5)."""

    ea_generation: int
    ciphertext: bytes
    binding: bytes
    ea_seq: int


class Box(NamedTuple):
    """A generation's seed sealed from ``sender`` to ``recipient`` (§2): the server's to keep."""

    generation: int
    sender: str
    recipient: str
    ciphertext: bytes
    created_at: float


@dataclass(slots=True)
class Device:
    """A device on a user's chain: physical, backup key, escrow device or EA device."""

    user: str
    name: str
    kind: str
    seq: int
    added_at: float
    verify_key: bytes
    kem_public: KemPublic
    keys: DeviceKeys | None  # None: wiped, erased after revocation, or never held locally
    known: dict[int, bytes] = field(default_factory=dict)  # generation → seed, from opened boxes
    derived: dict[int, GenerationKeys] = field(default_factory=dict)  # generation → keys it derived
    revoked_at: float | None = None
    revoked_signed: bool = False
    gone_at: float | None = None  # left legitimate hands or lost its keys
    gone_cause: str | None = None
    backup_id: str | None = None
    escrow_blob: EscrowBlob | None = None
    # an escrow device's earlier secrets, replaced by re-keys: (blob, the boxes sealed to
    # those keys, what they opened). The server discarded the boxes but an adversary holding
    # every ciphertext did not.
    retired: list[tuple[EscrowBlob, list[Box], dict[int, bytes]]] = field(default_factory=list)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def virtual(self) -> bool:
        return self.kind in (BACKUP, ESCROW)

    def erase(self) -> None:
        """The device forgets its keys and every seed it opened."""
        self.keys, self.known, self.derived = None, {}, {}


class Generation(NamedTuple):
    """A per-user-key generation as the chain shows it: number and public keys."""

    number: int
    created_by: str
    created_at: float
    seq: int
    public: dict[str, KemPublic]


class Sealed(NamedTuple):
    """A message copy sealed to ``user``'s key for ``app`` of ``generation`` (the latest
    when it was sent); ``binding`` (:func:`content_binding`) is the HPKE info it was
    sealed with."""

    message_id: str
    user: str
    app: str
    generation: int
    sent_at: float
    ciphertext: bytes
    binding: bytes


def content_binding(user: str, app: str, generation: int, message_id: str) -> bytes:
    """What a message's seal is bound to: whose, which app, which generation, which message."""
    return f"{user}/{app}/{generation}/{message_id}".encode()


@dataclass
class EventLog:
    """The protocol's own record: one row per state change, in order, as a tuple of the
    events table's columns (time, seq, user, event, device, detail, generation)."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, at: float, user: str, event: str, device: str | None = None,
            detail: str = "", generation: int | None = None) -> None:
        self.rows.append((at, len(self.rows), user, event, device, detail, generation))
