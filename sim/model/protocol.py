"""The formal model of PROTOCOL.md §3–5 (whitepaper Appendix B) on real keys.

No time and no randomness live here: callers pass timestamps (``at``) and the
:class:`~sim.crypto.Crypto` object draws the key material from the seed. Every
"knows generation g" is the result of opening a real box with the device's
private key, and every "can decrypt" of a real HPKE open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import networkx as nx

from .chain import Chain
from .crypto import (
    APPS,
    BackupKeyError,
    Crypto,
    DecryptionFailed,
    DeviceKeys,
    GenerationKeys,
    KemPrivate,
    KemPublic,
    fingerprint,
)

PHYSICAL, BACKUP, ESCROW, EA = "physical", "backup", "escrow", "ea"
EA_USER = "escrow-admins"
APP_KEY = {"voicemail": "voicemail", "mail": "email"}  # message app → generation key


class ProtocolError(Exception):
    """An action the protocol does not allow in the current state."""


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

    def erase(self) -> None:
        """The device forgets its keys and every seed it opened."""
        self.keys, self.known, self.derived = None, {}, {}

    @property
    def virtual(self) -> bool:
        return self.kind in (BACKUP, ESCROW)


@dataclass(frozen=True)
class EscrowBlob:
    """An escrow device's key seed HPKE-sealed to one EA generation's general key, the
    latest at EA chain position ``ea_seq``."""

    ea_generation: int
    ciphertext: bytes
    binding: bytes
    ea_seq: int


class Generation(NamedTuple):
    """A per-user-key generation as the chain shows it: number and public keys."""

    number: int
    created_by: str
    created_at: float
    seq: int
    public: dict[str, KemPublic]


class Box(NamedTuple):
    generation: int
    sender: str
    recipient: str
    ciphertext: bytes
    created_at: float


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
    return f"{user}/{app}/{generation}/{message_id}".encode()


def _gen_body(n: int, pub: dict[str, KemPublic]) -> dict[str, Any]:
    return {"n": n, **{app: pub[app].raw.hex() for app in APPS}}


class User:
    """One user's chain, devices, generations, boxes and approval graph."""

    def __init__(self, user_id: str, crypto: Crypto, log: EventLog,
                 external: Any = None) -> None:
        self.id = user_id
        self.crypto = crypto
        self.log = log
        self.chain = Chain(user_id, crypto, external)
        self.devices: dict[str, Device] = {}
        self.generations: list[Generation] = []
        self.boxes: dict[tuple[int, str], Box] = {}  # the server's store: (generation, to) → box
        self._to: dict[str, dict[int, Box]] = {}  # indexes of the same boxes
        self._of: dict[int, list[str]] = {}
        self.graph: nx.Graph = nx.Graph()
        self.stale = False  # an unsigned revocation awaits a PerUserKeyRotate
        self.escrow_stale = False  # the EA generation rotated; escrow device needs re-key
        self._seeds: dict[int, bytes] = {}  # generation → its seed as created (a box's check)

    # ------------------------------------------------------------ queries
    @property
    def latest(self) -> Generation:
        return self.generations[-1]

    def active(self) -> list[Device]:
        """Devices on the chain and not revoked, in chain order."""
        return [d for d in self.devices.values() if d.revoked_at is None]

    def boxed(self, device: str) -> set[int]:
        """Generations with a box addressed to ``device`` (the model's p(x))."""
        return set(self._to.get(device, ()))

    def boxes_to(self, device: str) -> list[Box]:
        """Boxes addressed to ``device``, by generation."""
        return [b for _, b in sorted(self._to.get(device, {}).items())]

    def holders(self, generation: int) -> list[str]:
        return sorted(self._of.get(generation, ()), key=lambda n: self.devices[n].seq)

    def approval_class(self, device: str) -> set[str]:
        return set(nx.node_connected_component(self.graph, device))

    def classes(self) -> list[set[str]]:
        return sorted((set(c) for c in nx.connected_components(self.graph)),
                      key=lambda c: min(self.devices[n].seq for n in c))

    def data_access(self, device: str) -> float:
        """v(x): the earliest add time in x's approval class."""
        return self.data_access_of_all()[device]

    def data_access_of_all(self) -> dict[str, float]:
        """v(x) of every device: the earliest add time in its approval class, one class at a time."""
        access: dict[str, float] = {}
        for c in nx.connected_components(self.graph):
            access |= dict.fromkeys(c, min(self.devices[n].added_at for n in c))
        return access

    def approved_by(self, device: str) -> list[str]:
        d = self.devices[device]
        return sorted(n for n in self.graph.neighbors(device) if self.devices[n].seq < d.seq)

    def in_hand(self, device: str) -> bool:
        """Not revoked and not gone from legitimate hands (whether a virtual device's
        secret is still reachable is :meth:`Account.available`'s question)."""
        d = self.devices[device]
        return not d.revoked and d.gone_at is None

    def knows(self, device: str, keys: DeviceKeys | None = None) -> dict[int, bytes]:
        """Open every box addressed to ``device`` not yet opened; return generation → seed.
        ``keys``: the device's keys re-derived from a backup string or an escrow blob."""
        d = self.devices[device]
        if keys is not None and (keys.verify_key != d.verify_key or keys.kem_public != d.kem_public):
            raise ProtocolError(f"{self.id}/{device}: these keys are not the device's on the chain")
        key = keys or d.keys
        if key is None:
            return d.known
        for g, box in self._to.get(device, {}).items():
            if g not in d.known:
                self._open(d, box, key.kem)
        return d.known

    def knows_generation(self, device: str, generation: int) -> bool:
        d = self.devices[device]
        if generation not in d.known and d.keys is not None and (generation, device) in self.boxes:
            self._open(d, self.boxes[(generation, device)], d.keys.kem)
        return generation in d.known

    def fingerprint(self, account_chain: Chain) -> str:
        return fingerprint(self.chain.tail, account_chain.tail)

    # ------------------------------------------------------------ boxes
    def _binding(self, g: int, sender: str, recipient: str) -> bytes:
        return f"{self.id}/{g}/{sender}/{recipient}".encode()

    def _box(self, g: int, seed: bytes, sender: str, recipient: str, at: float) -> None:
        if (g, recipient) in self.boxes:
            return  # one box per (generation, device) is enough
        to = self.devices[recipient].kem_public
        ct = self.crypto.seal_box(seed, to, self._binding(g, sender, recipient))
        box = self.boxes[(g, recipient)] = Box(g, sender, recipient, ct, at)
        self._to.setdefault(recipient, {})[g] = box
        self._of.setdefault(g, []).append(recipient)

    def drop_boxes(self, device: str) -> None:
        """The server discards the boxes addressed to ``device`` (its keys were replaced)."""
        for g in self._to.pop(device, {}):
            del self.boxes[(g, device)]
            self._of[g].remove(device)

    def _open(self, d: Device, box: Box, key: KemPrivate) -> bytes:
        seed = self.crypto.open_box(box.ciphertext, key, self._binding(box.generation, box.sender, d.name))
        if seed != self._seeds[box.generation]:
            raise DecryptionFailed(f"box for generation {box.generation} holds a wrong seed")
        d.known[box.generation] = seed
        return seed

    def generation_keys(self, g: int, device: str) -> GenerationKeys:
        """The HKDF tree of generation ``g`` as ``device`` derives it from the seed it
        opened (its box opened first if need be): once per device (its creator derived it
        when it made the generation)."""
        d = self.devices[device]
        if g not in d.derived:
            if not self.knows_generation(device, g):
                raise DecryptionFailed(f"{self.id}/{device} holds no seed of generation {g}")
            d.derived[g] = self.crypto.generation_keys(d.known[g], f"{self.id}/{device}")
        return d.derived[g]

    # ------------------------------------------------------------ chain links
    def _new_generation(self, creator: str) -> tuple[GenerationKeys, dict[str, Any]]:
        """A fresh generation seed, the keys ``creator`` derives from it, and its
        chain-link body (public keys)."""
        keys = self.crypto.new_generation(f"{self.id}/{creator}")
        n = len(self.generations) + 1
        self._seeds[n] = keys.seed
        return keys, _gen_body(n, keys.public())

    def _record_generation(self, keys: GenerationKeys, creator: str, at: float) -> int:
        n = len(self.generations) + 1
        self.generations.append(Generation(n, creator, at, self.chain.tail[0], keys.public()))
        self.devices[creator].derived[n] = keys
        for d in self.active():
            if not self.chain.lockdown or d.name in self.chain.confirmed:
                self._box(n, keys.seed, creator, d.name, at)
        self.stale = False
        self.log.add(at, self.id, "generation", creator, generation=n)
        return n

    def _signer(self, device: str, keys: DeviceKeys | None = None) -> dict[str, Any]:
        d = self.devices.get(device)
        if d is None:
            raise ProtocolError(f"{self.id} has no device {device!r} (yet)")
        k = keys or d.keys
        if k is None or d.revoked:
            raise ProtocolError(f"{self.id}/{device} cannot sign (revoked or without keys)")
        return {device: k.signing}

    def _device_body(self, name: str, kind: str, keys: DeviceKeys) -> dict[str, Any]:
        return {"device": name, "kind": kind, "verify_key": keys.verify_key.hex(),
                "kem": keys.kem_public.raw.hex()}

    def _enter(self, name: str, kind: str, keys: DeviceKeys, at: float, **extra: Any) -> Device:
        if name in self.devices:
            raise ProtocolError(f"{self.id} already has a device named {name!r}")
        d = Device(self.id, name, kind, self.chain.tail[0], at, keys.verify_key,
                   keys.kem_public, keys, **extra)
        self.devices[name] = d
        self.graph.add_node(name)
        return d

    def add_device(self, name: str, at: float, kind: str = PHYSICAL,
                   keys: DeviceKeys | None = None) -> Device:
        """DeviceAdd (or the chain root): a new generation boxed to every unrevoked device."""
        keys = keys or self.crypto.new_device_keys()
        first = not self.devices
        body = self._device_body(name, kind, keys)
        gen_keys = None
        if first or not self.chain.lockdown:
            gen_keys, body["generation"] = self._new_generation(name)
        link = self.chain.make("root" if first else "device_add", body, {name: keys.signing})
        self.chain.append(link)
        d = self._enter(name, kind, keys, at)
        self.log.add(at, self.id, "device_add", name, detail=kind)
        if gen_keys is not None:
            self._record_generation(gen_keys, name, at)
        return d

    def _covered(self, approver: str) -> list[str]:
        """Every unrevoked device added after ``approver`` (a BatchApprove's reach)."""
        seq = self.devices[approver].seq
        return [d.name for d in self.active() if d.seq > seq]

    def _vouch(self, approver: str, known: dict[int, bytes], targets: Iterable[str], at: float) -> None:
        for y in targets:
            self.graph.add_edge(approver, y)
            for g, seed in sorted(known.items()):
                self._box(g, seed, approver, y, at)

    def _oldest_class(self) -> set[str]:
        first = min((d for d in self.active() if d.name in self.chain.confirmed),
                    key=lambda d: d.seq)
        return self.approval_class(first.name)

    def batch_approve(self, approver: str, at: float, revoke: Iterable[str] = (),
                      keys: DeviceKeys | None = None,
                      cosigner: tuple[str, Any, int] | None = None) -> list[str]:
        """BatchApprove by ``approver``: vouch for every unrevoked device added after it
        and box it every generation the approver knows. Revocations carried here
        rotate the per-user key. Returns the devices approved."""
        revoke = sorted(revoke)
        signers = self._signer(approver, keys)
        if self.chain.lockdown and approver not in self._oldest_class():
            raise ProtocolError(f"{self.id}: in lockdown only the oldest class approves")
        self._check_revocable(revoke, approver)
        known = self.knows(approver, keys)
        for r in revoke:
            self._mark_revoked(r, at, signed=True)
        targets = self._covered(approver)
        body: dict[str, Any] = {"by": approver, "approved": targets, "revoked": revoke}
        gen_keys = None
        if revoke:
            gen_keys, body["generation"] = self._new_generation(approver)
        if cosigner is not None:
            body["cosigner"], body["ea_seq"] = cosigner[0], cosigner[2]
            signers[cosigner[0]] = cosigner[1]
        self.chain.append(self.chain.make("batch_approve", body, signers))
        self._vouch(approver, known, targets, at)
        self.log.add(at, self.id, "batch_approve", approver, detail=",".join(targets))
        for r in revoke:
            self.log.add(at, self.id, "revoke", r, detail="signed by " + approver)
        if gen_keys is not None:
            self._record_generation(gen_keys, approver, at)
        return targets

    def add_and_approve(self, by: str, name: str, kind: str, keys: DeviceKeys, at: float,
                        **extra: Any) -> Device:
        """DeviceAddAndApprove of a virtual device (backup or escrow) by ``by``:
        a BatchApprove by ``by`` that also covers the new device; no new generation."""
        signers = self._signer(by)
        known = self.knows(by)
        body = self._device_body(name, kind, keys)
        body.update(by=by, approved=[*self._covered(by), name])
        if "backup_id" in extra:
            body["backup_id"] = extra["backup_id"]
        if extra.get("escrow_blob") is not None:  # the EA position its secrets are sealed at
            body["ea_seq"] = extra["escrow_blob"].ea_seq
        self.chain.append(self.chain.make("device_add_and_approve", body,
                                          {**signers, name: keys.signing}))
        d = self._enter(name, kind, keys, at, **extra)
        self.log.add(at, self.id, "device_add_and_approve", name, detail=f"{kind} by {by}")
        self._vouch(by, known, self._covered(by), at)
        return d

    # ------------------------------------------------------------ revocation and rotation
    def _check_revocable(self, targets: list[str], by: str | None) -> None:
        """Refuse before changing anything: unknown, already revoked, escrow, or self."""
        for name in targets:
            d = self.devices.get(name)
            if d is None:
                raise ProtocolError(f"{self.id} has no device {name!r}")
            if d.revoked:
                raise ProtocolError(f"{self.id}/{name} is already revoked")
            if d.kind == ESCROW:
                raise ProtocolError(f"{self.id}/{name}: only disabling escrow revokes the escrow device")
            if name == by:
                raise ProtocolError(f"{self.id}/{name}: a self-revoke is unsigned (use the web)")

    def _mark_revoked(self, name: str, at: float, signed: bool) -> None:
        d = self.devices[name]
        d.revoked_at, d.revoked_signed = at, signed
        if d.gone_at is None:
            d.gone_at, d.gone_cause = at, "revoked"
            if d.kind != BACKUP:
                d.erase()  # the device erases its keys when it learns of it

    def enable_lockdown(self, by: str, at: float) -> None:
        """Lockdown mode: requires one approval class and an existing backup key."""
        active = {d.name for d in self.active()}
        if len([c for c in self.classes() if c & active]) != 1:
            raise ProtocolError(f"{self.id}: lockdown requires a single approval class")
        if not any(d.kind == BACKUP for d in self.active()):
            raise ProtocolError(f"{self.id}: lockdown requires a backup key")
        self.chain.append(self.chain.make("lockdown", {"by": by}, self._signer(by)))
        self.log.add(at, self.id, "lockdown", by)

    def revoke(self, by: str, targets: Iterable[str], at: float) -> int:
        """DeviceRevoke signed by an active device: rotates at once. Returns the new generation."""
        targets = sorted(targets)
        signers = self._signer(by)
        self._check_revocable(targets, by)
        if self.chain.lockdown and by not in self.chain.confirmed:
            raise ProtocolError(f"{self.id}: unconfirmed {by} may not revoke in lockdown")
        for t in targets:
            self._mark_revoked(t, at, signed=True)
        gen_keys, gen = self._new_generation(by)
        self.chain.append(self.chain.make("device_revoke",
                                          {"by": by, "revoked": targets, "generation": gen}, signers))
        for t in targets:
            self.log.add(at, self.id, "revoke", t, detail="signed by " + by)
        return self._record_generation(gen_keys, by, at)

    def revoke_unsigned(self, targets: Iterable[str], at: float, via: str = "web") -> None:
        """Revocation from the web, by an admin or self: no rotation; the PUK becomes stale."""
        targets = sorted(targets)
        self._check_revocable(targets, None)
        for t in targets:
            self._mark_revoked(t, at, signed=False)
        self.chain.append(self.chain.make("server_revoke", {"revoked": targets, "via": via}, {}))
        self.stale = True
        for t in targets:
            self.log.add(at, self.id, "revoke", t, detail="unsigned via " + via)

    def rotate(self, by: str, at: float) -> int:
        """PerUserKeyRotate: a new generation boxed to every unrevoked device."""
        signers = self._signer(by)
        if self.chain.lockdown and by not in self.chain.confirmed:
            raise ProtocolError(f"{self.id}: unconfirmed {by} may not rotate in lockdown")
        gen_keys, gen = self._new_generation(by)
        self.chain.append(self.chain.make("puk_rotate", {"by": by, "generation": gen}, signers))
        self.log.add(at, self.id, "rotate", by)
        return self._record_generation(gen_keys, by, at)

    # ------------------------------------------------------------ fates (not on the chain)
    def gone(self, name: str, at: float, cause: str) -> None:
        """The device leaves legitimate hands: lost, stolen, decommissioned, wiped, paper lost."""
        d = self.devices[name]
        if d.gone_at is None:
            d.gone_at, d.gone_cause = at, cause
        if cause == "wiped":
            d.erase()
        self.log.add(at, self.id, cause, name)

    # ------------------------------------------------------------ content
    def seal(self, message_id: str, app: str, plaintext: bytes, at: float,
             generation: int | None = None) -> Sealed:
        """Seal to the key for ``app`` of ``generation`` (by default the latest): the
        message was sent at ``at``, when ``generation`` was the latest."""
        g = self.generations[-1 if generation is None else generation - 1]
        binding = content_binding(self.id, app, g.number, message_id)
        ct = self.crypto.seal_content(plaintext, g.public[APP_KEY[app]], binding)
        return Sealed(message_id, self.id, app, g.number, at, ct, binding)

    def open(self, sealed: Sealed, keys: GenerationKeys) -> bytes:
        """Decrypt ``sealed`` with the keys of its generation."""
        binding = content_binding(self.id, sealed.app, sealed.generation, sealed.message_id)  # not the one it carries
        return self.crypto.open_content(sealed.ciphertext, getattr(keys, APP_KEY[sealed.app]), binding)

    def can_decrypt(self, device: str, sealed: Sealed) -> bool:
        """Real decryption of ``sealed`` with what ``device`` opened from its boxes."""
        if not self.knows_generation(device, sealed.generation):
            return False
        try:
            self.open(sealed, self.generation_keys(sealed.generation, device))
        except DecryptionFailed:
            return False
        return True


@dataclass
class EventLog:
    """The protocol's own record: one row per state change, in order, as a tuple of the
    events table's columns (time, seq, user, event, device, detail, generation)."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, at: float, user: str, event: str, device: str | None = None,
            detail: str = "", generation: int | None = None) -> None:
        self.rows.append((at, len(self.rows), user, event, device, detail, generation))


class EACosigners:
    """Resolves an EA co-signer (``ea:NAME``) on a member's chain to its key as of the EA
    chain position the link names (its ``ea_seq``; the current tip if it names none), so a
    later revocation is not retroactive. It holds the EA user once escrow is enabled and
    nothing else: the members' chains refer to it, not to the account, so an account holds
    no reference cycle and is freed as soon as it is dropped."""

    def __init__(self) -> None:
        self.ea: User | None = None

    def __call__(self, name: str, link: Any) -> bytes | None:
        if self.ea is None or not name.startswith("ea:"):
            return None
        return self.ea.chain.key_at(name[3:], int(link.body.get("ea_seq", self.ea.chain.tail[0])))


class Account:
    """Users of one account, the account chain and, with escrow, the EA chain."""

    def __init__(self, crypto: Crypto, members_may_create_backup_keys: bool = True) -> None:
        self.crypto = crypto
        self.log = EventLog()
        self.users: dict[str, User] = {}
        self.members_may_create_backup_keys = members_may_create_backup_keys
        self.ea: User | None = None
        self._ea_cosigners = EACosigners()  # the members' chains look up EA co-signers here
        account = crypto.new_device_keys()
        self._account_key = account.signing
        self.chain = Chain("account", crypto)
        self.chain.append(self.chain.make("account_root", {"device": "account", "verify_key": account.verify_key.hex()},
                                          {"account": self._account_key}))
        self.backup_strings: dict[tuple[str, str], str] = {}  # (user, backup) → string on paper
        self._escrow_opened: dict[bytes, DeviceKeys] = {}  # escrow blob → the keys opened from it

    # ------------------------------------------------------------ users
    def user(self, user_id: str) -> User:
        if user_id not in self.users:
            if user_id == EA_USER:
                raise ProtocolError(f"{EA_USER!r} is reserved for the escrow admins")
            self.users[user_id] = User(user_id, self.crypto, self.log, external=self._ea_cosigners)
        return self.users[user_id]

    def fingerprint(self, user_id: str) -> str:
        u = self.ea if user_id == EA_USER else self.users[user_id]
        assert u is not None
        return u.fingerprint(self.chain)

    def _user_or_ea(self, user_id: str) -> User:
        if user_id == EA_USER:
            if self.ea is None:
                raise ProtocolError("escrow is not enabled")
            return self.ea
        return self.users[user_id]

    # ------------------------------------------------------------ backup keys
    def create_backup_key(self, user_id: str, by: str, name: str, at: float) -> str:
        """DeviceAddAndApprove of a backup key by ``by``; returns the string to write down."""
        u = self._user_or_ea(user_id)
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
        u = self._user_or_ea(user_id)
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
        """The user types the string on ``new_device`` (already added); the backup approves."""
        u = self._user_or_ea(user_id)
        if new_device not in u.devices:
            raise ProtocolError(f"{user_id}/{new_device} must be added before recovery")
        name, keys = self.backup_keys(user_id, text)
        self.log.add(at, user_id, "backup_recover", new_device, detail=name)
        return u.batch_approve(name, at, keys=keys)

    # ------------------------------------------------------------ escrow
    def enable_escrow(self, ea_device: str, at: float, backup_name: str = "ea-backup") -> str:
        """Create the EA chain (lockdown) with its first device and the required EA backup key."""
        if self.ea is not None:
            raise ProtocolError("escrow is already enabled")
        self.ea = self._ea_cosigners.ea = ea = User(EA_USER, self.crypto, self.log)
        ea.add_device(ea_device, at, kind=EA)
        text = self.create_backup_key(EA_USER, ea_device, backup_name, at)
        ea.enable_lockdown(ea_device, at)
        self.chain.append(self.chain.make(
            "escrow_enable", {"by": "account", "ea_root": ea.chain.links[0].hash.hex()},
            {"account": self._account_key}))
        self.log.add(at, EA_USER, "escrow_enable", ea_device)
        return text

    def _seal_escrow(self, member: str, name: str, at: float) -> tuple[DeviceKeys, EscrowBlob]:
        ea = self._user_or_ea(EA_USER)
        seed = self.crypto.random(32)
        keys = self.crypto.device_keys_from_seed(seed)
        g = ea.latest
        binding = f"escrow/{member}/{name}/{g.number}".encode()
        ct = self.crypto.seal_box(seed, g.public["general"], binding)
        return keys, EscrowBlob(g.number, ct, binding, ea.chain.tail[0])

    def enroll_escrow(self, user_id: str, by: str, at: float, name: str = "escrow") -> Device:
        """The member's device ``by`` adds and approves an escrow device whose secrets are
        sealed to the EA chain's latest generation and then deleted locally."""
        u = self.users[user_id]
        keys, blob = self._seal_escrow(user_id, name, at)
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
        keys, blob = self._seal_escrow(user_id, esc.name, at)
        body = u._device_body(esc.name, ESCROW, keys)
        body.update(by=by, ea_seq=blob.ea_seq)
        u.chain.append(u.chain.make("device_key_rotate", body,
                                    {**u._signer(by), esc.name: keys.signing}))
        known = u.knows(by)
        assert esc.escrow_blob is not None
        esc.retired.append((esc.escrow_blob, u.boxes_to(esc.name), esc.known))
        u.drop_boxes(esc.name)
        esc.verify_key, esc.kem_public, esc.escrow_blob, esc.known, esc.derived = (
            keys.verify_key, keys.kem_public, blob, {}, {})
        for g, seed in sorted(known.items()):
            u._box(g, seed, by, esc.name, at)
        u.escrow_stale = False
        self.log.add(at, user_id, "escrow_rekey", esc.name, detail="by " + by)
        u.rotate(by, at)

    def add_ea_device(self, name: str, at: float) -> Device:
        return self._user_or_ea(EA_USER).add_device(name, at, kind=EA)

    def approve_ea_devices(self, by: str, at: float) -> list[str]:
        return self._user_or_ea(EA_USER).batch_approve(by, at)

    def revoke_ea_device(self, by: str, target: str, at: float) -> None:
        """Revoking an EA device rotates the EA generation; members' escrow must re-key."""
        self._user_or_ea(EA_USER).revoke(by, [target], at)
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
        ea = self._user_or_ea(EA_USER)
        esc = self.escrow_device(user_id)
        if esc is None or esc.escrow_blob is None:
            raise ProtocolError(f"{user_id} is not escrowed")
        blob = esc.escrow_blob
        if backup_text is not None:
            opener, bkeys = self.backup_keys(EA_USER, backup_text)
            known = ea.knows(opener, bkeys)
        else:
            if not ea.in_hand(ea_device):
                raise ProtocolError(f"EA device {ea_device} is not available")
            opener, known = ea_device, ea.knows(ea_device)
        if blob.ea_generation not in known:
            raise ProtocolError(f"EA {ea_device} does not know EA generation {blob.ea_generation}")
        keys = self.open_escrow(blob, lambda: ea.generation_keys(blob.ea_generation, opener))
        if keys.verify_key != esc.verify_key:
            raise ProtocolError("escrow blob does not derive the escrow device on the chain")
        return keys

    def escrow_recover(self, user_id: str, ea_device: str, new_device: str, at: float) -> list[str]:
        """PROTOCOL §5.5: a BatchApprove signed by the escrow device and the EA device."""
        u = self.users[user_id]
        keys = self.escrow_keys(user_id, ea_device)
        esc = self.escrow_device(user_id)
        assert esc is not None
        ea = self._user_or_ea(EA_USER)
        ea_keys = ea.devices[ea_device].keys
        assert ea_keys is not None
        if new_device not in u.devices:
            raise ProtocolError(f"{user_id}/{new_device} must be added before recovery")
        self.log.add(at, user_id, "escrow_recover", new_device, detail="EA " + ea_device)
        return u.batch_approve(esc.name, at, keys=keys,
                               cosigner=("ea:" + ea_device, ea_keys.signing, ea.chain.tail[0]))

    # ------------------------------------------------------------ availability (PROTOCOL §7)
    def available(self, user_id: str, device: str) -> bool:
        """Is this holder's secret still in legitimate hands now?"""
        u = self._user_or_ea(user_id)
        d = u.devices[device]
        if d.revoked or d.gone_at is not None:
            return False
        if d.kind == ESCROW:
            assert d.escrow_blob is not None and self.ea is not None
            return any(self.available(EA_USER, h) for h in self.ea.holders(d.escrow_blob.ea_generation))
        return d.kind == BACKUP or d.keys is not None

