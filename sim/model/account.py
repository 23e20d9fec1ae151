"""The account (docs/model.md §2): its users, the account chain, backup keys (§9), escrow
(§5) and the one availability predicate of §7.

An :class:`Account` makes each member's :class:`~sim.model.user.User` and, once escrow
is enabled, the EA chain's user (:data:`EA_USER`). It keeps what belongs to no single
chain: the backup-key strings on paper, escrow blobs already opened, and the resolution
of an EA device co-signing on a member's chain (an escrow recovery, §5.5).
"""

from __future__ import annotations

from collections.abc import Callable

from .chain import Chain, Link
from .crypto import BackupKeyError, Crypto, DeviceKeys, GenerationKeys
from .records import (
    BACKUP,
    EA,
    EA_BACKUP,
    EA_USER,
    ESCROW,
    ESCROW_DEVICE,
    Device,
    EscrowBlob,
    EventLog,
    ProtocolError,
)
from .user import User


class Account:
    """Users of one account, the account chain and, with escrow, the EA chain."""

    def __init__(self, crypto: Crypto, members_may_create_backup_keys: bool = True) -> None:
        self.crypto = crypto
        self.log = EventLog()
        self.users: dict[str, User] = {}
        self.members_may_create_backup_keys = members_may_create_backup_keys
        self.ea: User | None = None
        account = crypto.new_device_keys()
        self._account_key = account.signing
        self.chain = Chain("account", crypto)
        self.chain.append(self.chain.make("account_root", {"device": "account", "verify_key": account.verify_key.hex()},
                                          {"account": self._account_key}))
        self.backup_strings: dict[tuple[str, str], str] = {}  # (user, backup) → string on paper
        self._escrow_opened: dict[bytes, DeviceKeys] = {}  # escrow blob → the keys opened from it

    # ------------------------------------------------------------ users
    def user(self, user_id: str) -> User:
        """The member ``user_id``, made on first use."""
        if user_id not in self.users:
            if user_id == EA_USER:
                raise ProtocolError(f"{EA_USER!r} is reserved for the escrow admins")
            self.users[user_id] = User(user_id, self.crypto, self.log, external=self.ea_cosigner_key)
        return self.users[user_id]

    def find(self, user_id: str) -> User:
        """The member ``user_id``, or the EA chain's user for :data:`EA_USER`."""
        if user_id == EA_USER:
            if self.ea is None:
                raise ProtocolError("escrow is not enabled")
            return self.ea
        return self.users[user_id]

    def fingerprint(self, user_id: str) -> str:
        return self.find(user_id).fingerprint(self.chain)

    def ea_cosigner_key(self, name: str, link: Link) -> bytes | None:
        """The verify key of the EA co-signer ``ea:NAME`` on a member's chain, as of the EA
        chain position the link names (its ``ea_seq``; the current tip if it names none),
        so that a later revocation is not retroactive; None for any other name."""
        if self.ea is None or not name.startswith("ea:"):
            return None
        return self.ea.chain.key_at(name[3:], int(link.body.get("ea_seq", self.ea.chain.tail[0])))

    # ------------------------------------------------------------ backup keys (§9)
    def create_backup_key(self, user_id: str, by: str, name: str, at: float) -> str:
        """DeviceAddAndApprove of a backup key by ``by``; returns the string to write down."""
        u = self.find(user_id)
        if u is not self.ea and not self.members_may_create_backup_keys:
            raise ProtocolError("the escrow admins forbid backup keys")
        text = self.crypto.new_backup_string()
        key_id, seed = self.crypto.backup_seed(text, user_id)
        keys = self.crypto.device_keys_from_seed(seed)
        u.add_and_approve(by, name, BACKUP, keys, at, backup_id=key_id)
        u.devices[name].keys = None  # only the string, on paper, holds it now
        self.backup_strings[(user_id, name)] = text
        return text

    def backup_keys(self, user_id: str, text: str, revoked_too: bool = False) -> tuple[str, DeviceKeys]:
        """Re-derive a backup key's device keys from the typed string; refuse a string
        that does not derive a backup key on the chain, or one revoked (unless
        ``revoked_too``: revoking stops no one from deriving keys from a leaked string)."""
        u = self.find(user_id)
        key_id, seed = self.crypto.backup_seed(text, user_id)
        match = [d for d in u.devices.values() if d.kind == BACKUP and d.backup_id == key_id]
        if not match:
            raise BackupKeyError(f"{user_id} has no backup key with ID {key_id}")
        d = match[0]
        keys = self.crypto.device_keys_from_seed(seed)
        if keys.verify_key != d.verify_key or keys.kem_public != d.kem_public:
            raise BackupKeyError(f"this string does not derive {user_id}'s backup key {key_id}")
        if d.revoked and not revoked_too:
            raise BackupKeyError(f"backup key {key_id} of {user_id} was revoked")
        return d.name, keys

    def recover_with_backup(self, user_id: str, text: str, new_device: str, at: float) -> list[str]:
        """The user types the string into ``new_device`` (added, and in their hands); the
        backup approves."""
        u = self.find(user_id)
        self._check_in_hand(u, new_device, "recovery")
        name, keys = self.backup_keys(user_id, text)
        self.log.add(at, user_id, "backup_recover", new_device, detail=name)
        return u.batch_approve(name, at, keys=keys)

    # ------------------------------------------------------------ escrow (§5)
    def enable_escrow(self, ea_device: str, at: float, backup_name: str = EA_BACKUP) -> str:
        """Create the EA chain (lockdown) with its first device and the required EA backup key."""
        if self.ea is not None:
            raise ProtocolError("escrow is already enabled")
        self.ea = ea = User(EA_USER, self.crypto, self.log)
        ea.add_device(ea_device, at, kind=EA)
        text = self.create_backup_key(EA_USER, ea_device, backup_name, at)
        ea.enable_lockdown(ea_device, at)
        self.chain.append(self.chain.make(
            "escrow_enable", {"by": "account", "ea_root": ea.chain.links[0].hash.hex()},
            {"account": self._account_key}))
        self.log.add(at, EA_USER, "escrow_enable", ea_device)
        return text

    def _seal_escrow(self, member: str, name: str) -> tuple[DeviceKeys, EscrowBlob]:
        """Fresh keys for ``member``'s escrow device ``name`` and their seed sealed to the
        EA chain's latest generation."""
        ea = self.find(EA_USER)
        seed = self.crypto.random(32)
        keys = self.crypto.device_keys_from_seed(seed)
        g = ea.latest
        binding = f"escrow/{member}/{name}/{g.number}".encode()
        ct = self.crypto.seal_box(seed, g.public["general"], binding)
        return keys, EscrowBlob(g.number, ct, binding, ea.chain.tail[0])

    def enroll_escrow(self, user_id: str, by: str, at: float, name: str = ESCROW_DEVICE) -> Device:
        """The member's device ``by`` adds and approves an escrow device whose secrets are
        sealed to the EA chain's latest generation and then deleted locally."""
        u = self.users[user_id]
        keys, blob = self._seal_escrow(user_id, name)
        d = u.add_and_approve(by, name, ESCROW, keys, at, escrow_blob=blob)
        d.keys = None
        return d

    def escrow_device(self, user_id: str) -> Device | None:
        u = self.users[user_id]
        found = [d for d in u.devices.values() if d.kind == ESCROW and not d.revoked]
        return found[-1] if found else None

    def rekey_escrow(self, user_id: str, by: str, at: float) -> None:
        """After an EA rotation: new escrow secrets to the latest EA generation, re-boxed by a
        device of the escrow device's class, then a PUK rotation."""
        u = self.users[user_id]
        esc = self.escrow_device(user_id)
        if esc is None:
            raise ProtocolError(f"{user_id} has no escrow device")
        if by not in u.approval_class(esc.name):
            raise ProtocolError(f"{user_id}/{by} is not in the escrow device's class")
        keys, blob = self._seal_escrow(user_id, esc.name)
        u.rekey_escrow_device(esc.name, by, keys, blob, at)
        self.log.add(at, user_id, "escrow_rekey", esc.name, detail="by " + by)
        u.rotate(by, at)

    def add_ea_device(self, name: str, at: float) -> Device:
        return self.find(EA_USER).add_device(name, at, kind=EA)

    def approve_ea_devices(self, by: str, at: float) -> list[str]:
        return self.find(EA_USER).batch_approve(by, at)

    def revoke_ea_device(self, by: str, target: str, at: float) -> None:
        """Revoking an EA device rotates the EA generation; members' escrow must re-key."""
        self.find(EA_USER).revoke(by, [target], at)
        for u in self.users.values():
            if self.escrow_device(u.id) is not None:
                u.escrow_stale = True

    def open_escrow(self, blob: EscrowBlob, ea_keys: Callable[[], GenerationKeys]) -> DeviceKeys:
        """The escrow device's keys from its blob, with the keys of the EA generation it is
        sealed to (``ea_keys``, asked for only if needed): the blob is opened once, a
        later recovery reuses what it gave."""
        keys = self._escrow_opened.get(blob.ciphertext)
        if keys is None:
            seed = self.crypto.open_box(blob.ciphertext, ea_keys().general, blob.binding)
            keys = self._escrow_opened[blob.ciphertext] = self.crypto.device_keys_from_seed(seed)
        return keys

    def escrow_keys(self, user_id: str, ea_device: str, backup_text: str | None = None) -> DeviceKeys:
        """An EA device (or the EA backup key, from its string) opens the member's escrow blob."""
        ea = self.find(EA_USER)
        esc = self.escrow_device(user_id)
        if esc is None or esc.escrow_blob is None:
            raise ProtocolError(f"{user_id} is not escrowed")
        blob = esc.escrow_blob
        if backup_text is not None:
            opener, bkeys = self.backup_keys(EA_USER, backup_text)
            known = ea.knows(opener, bkeys)
        else:
            if not self.available(EA_USER, ea_device):
                raise ProtocolError(f"EA device {ea_device} is not available")
            opener, known = ea_device, ea.knows(ea_device)
        if blob.ea_generation not in known:
            raise ProtocolError(f"EA {ea_device} does not know EA generation {blob.ea_generation}")
        keys = self.open_escrow(blob, lambda: ea.generation_keys(blob.ea_generation, opener))
        if keys.verify_key != esc.verify_key:
            raise ProtocolError("escrow blob does not derive the escrow device on the chain")
        return keys

    def escrow_recover(self, user_id: str, ea_device: str, new_device: str, at: float) -> list[str]:
        """docs/model.md §10: a BatchApprove signed by the escrow device and the EA device."""
        u = self.users[user_id]
        self._check_in_hand(u, new_device, "recovery")
        keys = self.escrow_keys(user_id, ea_device)
        esc = self.escrow_device(user_id)
        assert esc is not None
        ea = self.find(EA_USER)
        ea_keys = ea.devices[ea_device].keys
        assert ea_keys is not None
        self.log.add(at, user_id, "escrow_recover", new_device, detail="EA " + ea_device)
        return u.batch_approve(esc.name, at, keys=keys,
                               cosigner=("ea:" + ea_device, ea_keys.signing, ea.chain.tail[0]))

    # ------------------------------------------------------------ availability (§7)
    def _check_in_hand(self, u: User, device: str, what: str) -> None:
        """Refuse ``what`` into ``device`` unless it is on the chain and in the user's hands."""
        if device not in u.devices:
            raise ProtocolError(f"{u.id}/{device} must be added before {what}")
        if not self.available(u.id, device):
            d = u.devices[device]
            why = "revoked" if d.revoked else d.gone_cause or "without keys"
            raise ProtocolError(f"{u.id}/{device} is not in the user's hands ({why})")

    def available(self, user_id: str, device: str) -> bool:
        """Is this holder's secret still in legitimate hands now? A physical or EA device:
        not revoked, not gone, its keys intact; a backup key: not revoked, its string still
        on paper; an escrow device: an available holder on the EA chain can open its blob."""
        u = self.find(user_id)
        d = u.devices[device]
        if d.revoked or d.gone_at is not None:
            return False
        if d.kind == ESCROW:
            assert d.escrow_blob is not None and self.ea is not None
            return any(self.available(EA_USER, h) for h in self.ea.holders(d.escrow_blob.ea_generation))
        return d.kind == BACKUP or d.keys is not None
