"""One user's side of the formal model (docs/model.md §4–§8, whitepaper Appendix B), on real keys.

A :class:`User` holds a sigchain, its devices, the per-user-key generations, the boxes
the server stores for them and the approval graph. Each chain event of §3 is one method:
the first device and DeviceAdd (:meth:`User.add_device`), BatchApprove
(:meth:`User.batch_approve`), DeviceAddAndApprove of a backup key or an escrow device
(:meth:`User.add_and_approve`), DeviceRevoke, revocation from the web, PerUserKeyRotate,
lockdown, and the escrow device's re-key (§5.4). Its queries are the model's terms:
*p(x)* (:meth:`User.boxed`), approval class, data access *v(x)*, holders.

No time and no randomness live here: callers pass timestamps (``at``) and the
:class:`~sim.model.crypto.Crypto` object draws the key material from the seed. Every
"knows generation g" is the result of opening a real box with the device's private key,
and every "can decrypt" of a real HPKE open.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from .chain import Chain, ExternalKeys
from .crypto import (
    APPS,
    Crypto,
    DecryptionFailed,
    DeviceKeys,
    GenerationKeys,
    KemPrivate,
    KemPublic,
    fingerprint,
)
from .records import (
    APP_KEY,
    BACKUP,
    ESCROW,
    PHYSICAL,
    Box,
    Device,
    EscrowBlob,
    EventLog,
    Generation,
    ProtocolError,
    Sealed,
    content_binding,
)


def device_body(name: str, kind: str, keys: DeviceKeys) -> dict[str, Any]:
    """The part of a link that puts a device on a chain: its name, kind and public keys."""
    return {"device": name, "kind": kind, "verify_key": keys.verify_key.hex(),
            "kem": keys.kem_public.raw.hex()}


def _generation_body(n: int, public: dict[str, KemPublic]) -> dict[str, Any]:
    """The part of a link that creates generation ``n``: its public keys."""
    return {"n": n, **{app: public[app].raw.hex() for app in APPS}}


class User:
    """One user's chain, devices, generations, boxes and approval graph."""

    def __init__(self, user_id: str, crypto: Crypto, log: EventLog,
                 external: ExternalKeys | None = None) -> None:
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
        """Devices with a box for ``generation`` (§7's holders), in chain order."""
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
    def box_binding(self, generation: int, sender: str, recipient: str) -> bytes:
        """What a box is bound to (its HPKE info): this user, the generation, sender and
        recipient, so that it opens nowhere else."""
        return f"{self.id}/{generation}/{sender}/{recipient}".encode()

    def _box(self, g: int, seed: bytes, sender: str, recipient: str, at: float) -> None:
        if (g, recipient) in self.boxes:
            return  # one box per (generation, device) is enough
        to = self.devices[recipient].kem_public
        ct = self.crypto.seal_box(seed, to, self.box_binding(g, sender, recipient))
        box = self.boxes[(g, recipient)] = Box(g, sender, recipient, ct, at)
        self._to.setdefault(recipient, {})[g] = box
        self._of.setdefault(g, []).append(recipient)

    def _drop_boxes(self, device: str) -> None:
        """The server discards the boxes addressed to ``device`` (its keys were replaced)."""
        for g in self._to.pop(device, {}):
            del self.boxes[(g, device)]
            self._of[g].remove(device)

    def _open(self, d: Device, box: Box, key: KemPrivate) -> bytes:
        seed = self.crypto.open_box(box.ciphertext, key, self.box_binding(box.generation, box.sender, d.name))
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
            d.derived[g] = self.crypto.generation_keys(d.known[g])
        return d.derived[g]

    # ------------------------------------------------------------ chain links
    def _new_generation(self, creator: str) -> tuple[GenerationKeys, dict[str, Any]]:
        """A fresh generation seed, the keys ``creator`` derives from it, and its
        chain-link body (public keys)."""
        keys = self.crypto.new_generation()
        n = len(self.generations) + 1
        self._seeds[n] = keys.seed
        return keys, _generation_body(n, keys.public())

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

    def signer(self, device: str, keys: DeviceKeys | None = None) -> dict[str, Any]:
        """``{device: its signing key}`` for :meth:`Chain.make` (``keys``: the device's keys
        re-derived from a backup string or an escrow blob); refused if ``device`` is not on
        the chain, is revoked or holds no keys."""
        d = self.devices.get(device)
        if d is None:
            raise ProtocolError(f"{self.id} has no device {device!r} (yet)")
        k = keys or d.keys
        if k is None or d.revoked:
            raise ProtocolError(f"{self.id}/{device} cannot sign (revoked or without keys)")
        return {device: k.signing}

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
        body = device_body(name, kind, keys)
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
        rotate the per-user key. ``cosigner``: (name, signing key, EA chain position) of
        the EA device co-signing an escrow recovery (§5.5). Returns the devices approved."""
        revoke = sorted(revoke)
        signers = self.signer(approver, keys)
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
        signers = self.signer(by)
        known = self.knows(by)
        body = device_body(name, kind, keys)
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

    def rekey_escrow_device(self, name: str, by: str, keys: DeviceKeys, blob: EscrowBlob,
                            at: float) -> None:
        """DeviceKeyRotate of the escrow device ``name`` by ``by`` (§5.4): its new keys,
        whose seed ``blob`` seals to the EA chain, go on the chain and ``by`` boxes it every
        generation it knows. The server discards the boxes to the old keys; the device keeps
        the old secrets in ``retired`` (an adversary with every ciphertext kept them too)."""
        body = device_body(name, ESCROW, keys)
        body.update(by=by, ea_seq=blob.ea_seq)
        self.chain.append(self.chain.make("device_key_rotate", body,
                                          {**self.signer(by), name: keys.signing}))
        known = self.knows(by)
        esc = self.devices[name]
        assert esc.escrow_blob is not None
        esc.retired.append((esc.escrow_blob, self.boxes_to(name), esc.known))
        self._drop_boxes(name)
        esc.verify_key, esc.kem_public, esc.escrow_blob, esc.known, esc.derived = (
            keys.verify_key, keys.kem_public, blob, {}, {})
        for g, seed in sorted(known.items()):
            self._box(g, seed, by, name, at)
        self.escrow_stale = False

    # ------------------------------------------------------------ revocation and rotation
    def _check_revocable(self, targets: list[str], by: str | None) -> None:
        """Refuse before changing anything: unknown, already revoked, escrow, or self."""
        for name in targets:
            d = self.devices.get(name)
            if d is None:
                raise ProtocolError(f"{self.id} has no device {name!r}")
            if d.revoked_at is not None:
                raise ProtocolError(f"{self.id}/{name} was already revoked on day {d.revoked_at:g}")
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
        self.chain.append(self.chain.make("lockdown", {"by": by}, self.signer(by)))
        self.log.add(at, self.id, "lockdown", by)

    def revoke(self, by: str, targets: Iterable[str], at: float) -> int:
        """DeviceRevoke signed by an active device: rotates at once. Returns the new generation."""
        targets = sorted(targets)
        signers = self.signer(by)
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
        signers = self.signer(by)
        if self.chain.lockdown and by not in self.chain.confirmed:
            raise ProtocolError(f"{self.id}: unconfirmed {by} may not rotate in lockdown")
        gen_keys, gen = self._new_generation(by)
        self.chain.append(self.chain.make("puk_rotate", {"by": by, "generation": gen}, signers))
        self.log.add(at, self.id, "rotate", by)
        return self._record_generation(gen_keys, by, at)

    # ------------------------------------------------------------ fates (not on the chain)
    def gone(self, name: str, at: float, cause: str) -> None:
        """The device leaves legitimate hands: lost, stolen, decommissioned, wiped, paper lost
        (only a backup key has paper)."""
        d = self.devices[name]
        if cause == "paper_lost" and d.kind != BACKUP:
            raise ProtocolError(f"{self.id}/{name} is a {d.kind} device: it has no paper to lose")
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
