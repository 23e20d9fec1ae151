"""Adversaries (docs/model.md §13) and what each can read, by real decryption.

A compromised server is assumed to hold every ciphertext: every box and every
sealed message. What an adversary reads is therefore decided by the keys it
holds: a thief has the stolen device's keys, a server-added device or an
approval man-in-the-middle has keys the server generated, a leaked backup-key
string derives the backup's keys (Argon2id), and a compromised EA device opens
the EA generations it holds, the escrow blobs sealed to them, and through them
what members' escrow devices hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .account import Account
from .chain import Chain
from .crypto import Crypto, DecryptionFailed, DeviceKeys, GenerationKeys, fingerprint
from .records import BACKUP, EA_USER, ESCROW, PHYSICAL, Box, ProtocolError, Sealed
from .user import User, device_body


@dataclass
class Adversary:
    """Keys in the wrong hands: whose, since when, and which boxes they can open."""

    name: str
    kind: str  # thief | server_device | mitm | leaked_backup | ea_compromise
    user: str
    since: float
    keys: DeviceKeys
    device: str  # the device name its boxes are addressed to
    extra_boxes: list[Box] = field(default_factory=list)  # boxes made on a forked chain
    known: dict[int, bytes] = field(default_factory=dict)  # what the device whose keys these are opened
    device_derived: dict[int, GenerationKeys] = field(default_factory=dict)  # and the keys it derived
    derived: dict[bytes, GenerationKeys] = field(default_factory=dict)  # seed → keys this adversary derived

    def generation_keys(self, crypto: Crypto, user: str, g: int, seed: bytes) -> GenerationKeys:
        """The keys of a seed it holds: those the device whose keys it holds derived
        already, or its own derivation, once per seed."""
        have = self.device_derived.get(g) if user == self.user else None
        if have is not None and have.seed == seed:
            return have
        if seed not in self.derived:
            self.derived[seed] = crypto.generation_keys(seed)
        return self.derived[seed]


@dataclass
class Fork:
    """A forked chain the server shows to older devices (approval man-in-the-middle)."""

    user: str
    device: str
    chain: Chain
    keys: DeviceKeys


class Adversaries:
    """Every adversary of one replication, and the reading of what they expose."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.all: list[Adversary] = []
        self._named: dict[str, list[Adversary]] = {}  # by the name each was given first
        self.forks: dict[tuple[str, str], Fork] = {}
        self._opened: dict[tuple[bytes, bytes], bytes | None] = {}  # (box, public key) → seed

    # ------------------------------------------------------------ compromises
    def _add(self, adv: Adversary) -> None:
        """One adversary per set of keys: the same keys taken again (a device stolen twice,
        an EA device compromised and then stolen) add nothing; other keys under a name
        already used (a second man-in-the-middle on one device) get `` (2)``, `` (3)``…
        (a space is in no device name, so these never clash with a replacement's ``#2``)."""
        same = self._named.setdefault(adv.name, [])
        if any(a.keys.verify_key == adv.keys.verify_key and a.device == adv.device for a in same):
            return
        same.append(adv)
        if len(same) > 1:
            adv.name = f"{adv.name} ({len(same)})"
        self.all.append(adv)

    def thief(self, user: str, device: str, at: float) -> None:
        d = self.account.users[user].devices[device]
        if d.kind == BACKUP:  # a stolen paper: the thief holds the backup key's string
            self.leak_backup(user, device, at)
        elif d.keys is not None:
            self._add(Adversary(f"thief:{user}/{device}", "thief", user, at, d.keys, device, known=d.known,
                                device_derived=d.derived))

    def server_device(self, user: str, name: str, at: float) -> None:
        """The server adds a device of its own (a valid self-signed DeviceAdd)."""
        u = self.account.users[user]
        keys = self.account.crypto.new_device_keys()
        d = u.add_device(name, at, keys=keys)  # it may create a generation: it derived its keys
        u.gone(name, at, "server_device")  # never in the user's hands
        self._add(Adversary(f"server:{user}/{name}", "server_device", user, at, keys, name,
                            device_derived=d.derived))

    def leak_backup(self, user: str, backup: str, at: float) -> None:
        text = self.account.backup_strings[(user, backup)]
        name, keys = self.account.backup_keys(user, text, revoked_too=True)
        d = self.account.users[user].devices[name]
        self._add(Adversary(f"leak:{user}/{name}", "leaked_backup", user, at, keys, name, known=d.known,
                            device_derived=d.derived))

    def compromise_ea(self, device: str, at: float) -> None:
        ea = self.account.ea
        if ea is None or device not in ea.devices:
            raise ProtocolError(f"{device} is not an EA device (yet)")
        d = ea.devices[device]
        if d.keys is not None:
            self._add(Adversary(f"ea:{device}", "ea_compromise", EA_USER, at, d.keys, device, known=d.known,
                                device_derived=d.derived))

    # ------------------------------------------------------------ man in the middle
    def arm_mitm(self, user: str, device: str, at: float) -> Fork:
        """Fork the chain just before ``device`` was added and put the attacker's keys
        in a DeviceAdd under the same name: older devices will be shown this chain."""
        u = self.account.users[user]
        real = u.devices[device]
        fork = u.chain.fork(real.seq - 1)
        keys = self.account.crypto.new_device_keys()
        body = device_body(device, PHYSICAL, keys)
        fork.append(fork.make("device_add", body, {device: keys.signing}))
        self.forks[(user, device)] = f = Fork(user, device, fork, keys)
        self.account.log.add(at, user, "mitm_fork", device, detail="server shows a forked chain")
        return f

    def fingerprints(self, fork: Fork) -> tuple[str, str]:
        """(what the real new device shows, what the older devices shown the fork show)."""
        u = self.account.users[fork.user]
        acc_tail = self.account.chain.tail
        return fingerprint(u.chain.tail, acc_tail), fingerprint(fork.chain.tail, acc_tail)

    def approve_on_fork(self, fork: Fork, approver: str, at: float, checked: bool) -> bool:
        """The older device ``approver`` approves on the forked chain. If the user compares
        fingerprints, the mismatch is seen: the impostor is revoked on the fork and nothing
        is boxed to it (returns False). Otherwise every generation the approver knows is
        boxed to the attacker's key (returns True)."""
        u = self.account.users[fork.user]
        del self.forks[(fork.user, fork.device)]
        real_fp, fork_fp = self.fingerprints(fork)
        signer = u.signer(approver)
        if checked and real_fp != fork_fp:
            fork.chain.append(fork.chain.make(
                "device_revoke", {"by": approver, "revoked": [fork.device]}, signer))
            self.account.log.add(at, fork.user, "mitm_detected", fork.device,
                                 detail=f"fingerprints differ on {approver}")
            return False
        fork.chain.append(fork.chain.make(
            "batch_approve", {"by": approver, "approved": [fork.device], "revoked": []}, signer))
        known = u.knows(approver)
        adv = Adversary(f"mitm:{fork.user}/{fork.device}", "mitm", fork.user, at, fork.keys, fork.device)
        for g, seed in sorted(known.items()):
            ct = self.account.crypto.seal_box(seed, fork.keys.kem_public,
                                              u.box_binding(g, approver, fork.device))
            adv.extra_boxes.append(Box(g, approver, fork.device, ct, at))
        self._add(adv)
        self.account.log.add(at, fork.user, "mitm_approved", fork.device,
                             detail=f"{approver} boxed {len(known)} generations to the attacker")
        return True

    # ------------------------------------------------------------ reading
    def _open_all(self, u: User, keys: DeviceKeys, device: str, boxes: list[Box],
                  known: dict[int, bytes]) -> dict[int, bytes]:
        """Generation → seed from ``boxes`` with ``keys``: what the device whose keys these
        are opened itself (``known``) is not opened again, and two adversaries holding the
        same keys (an EA device stolen and compromised) open each box once."""
        seeds = dict(known)
        for box in boxes:
            if box.generation in seeds:
                continue
            k = (box.ciphertext, keys.kem_public.raw)
            if k not in self._opened:
                try:
                    self._opened[k] = self.account.crypto.open_box(
                        box.ciphertext, keys.kem, u.box_binding(box.generation, box.sender, device))
                except DecryptionFailed:
                    self._opened[k] = None  # sealed to a key these are not
            seed = self._opened[k]
            if seed is not None:
                seeds[box.generation] = seed
        return seeds

    def seeds(self, adv: Adversary) -> dict[tuple[str, int], bytes]:
        """(user, generation) → seed, for everything this adversary opens. What the device
        whose keys it holds opened itself (a stolen device, a leaked backup, an EA device:
        the device's own ``known``, kept even after the device erases it) comes with it."""
        acc = self.account
        u = acc.find(adv.user)
        opened = self._open_all(u, adv.keys, adv.device, u.boxes_to(adv.device) + adv.extra_boxes, adv.known)
        seeds = {(adv.user, g): s for g, s in opened.items()}
        if adv.kind != "ea_compromise":
            return seeds
        for member in acc.users.values():
            for esc in member.devices.values():
                if esc.kind != ESCROW or esc.escrow_blob is None:
                    continue
                # every escrow secret the device ever had, the re-keyed ones too
                for blob, boxes, known in esc.retired + [(esc.escrow_blob, member.boxes_to(esc.name), esc.known)]:
                    ea_seed = seeds.get((EA_USER, blob.ea_generation))
                    if ea_seed is None:
                        continue
                    esc_keys = acc.open_escrow(blob, partial(adv.generation_keys, acc.crypto, EA_USER,
                                                             blob.ea_generation, ea_seed))
                    have = {g: s for (uid, g), s in seeds.items() if uid == member.id} | known
                    for g, s in self._open_all(member, esc_keys, esc.name, boxes, have).items():
                        seeds[(member.id, g)] = s
        return seeds

    def exposure(self, sealed: list[Sealed], verified: dict[str, bytes],
                 copies: dict[str, int] | None = None
                 ) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
        """Which adversaries decrypt each exposed message, and each one's window.

        ``verified`` maps a message id to the seed a real decryption of it used (the
        readers'); an adversary holding that seed reads the message without opening it
        again, any other message it opens for real (and adds to ``verified``). Where a
        sealed message stands for several (a generation's probe), ``copies`` says how many,
        for each adversary's count of messages exposed."""
        exposed: dict[str, list[str]] = {}
        windows: list[dict[str, Any]] = []
        if not self.all:
            return exposed, windows
        by_gen: dict[tuple[str, int], list[Sealed]] = {}
        for m in sealed:
            by_gen.setdefault((m.user, m.generation), []).append(m)
        for adv in self.all:
            seeds = self.seeds(adv)
            count = 0
            for (user, g), seed in sorted(seeds.items()):
                if user == EA_USER:
                    continue
                for m in by_gen.get((user, g), []):
                    if verified.get(m.message_id) != seed:
                        try:
                            keys = adv.generation_keys(self.account.crypto, user, g, seed)
                            if self.account.users[user].open(m, keys) != m.message_id.encode():
                                continue
                        except DecryptionFailed:
                            continue
                        verified[m.message_id] = seed
                    exposed.setdefault(m.message_id, []).append(adv.name)
                    count += 1 if copies is None else copies[m.message_id]
            windows.append(self._window(adv, seeds, count))
        return exposed, windows

    def _window(self, adv: Adversary, seeds: dict[tuple[str, int], bytes], count: int) -> dict[str, Any]:
        """From the compromise until it last reads a user's new data: for each user whose
        generations it holds, the end of the last stretch from ``since`` on in which the
        user's latest generation is one it holds (still held at the end: ``None``); the
        window ends at the last of these. A stretch may start after a gap: a member who
        enrols in escrow after an EA device was compromised hands it their new data."""
        held: dict[str, list[int]] = {}
        for user, g in sorted(seeds, key=lambda k: (k[0] != adv.user, k)):  # its own user first
            held.setdefault(user, []).append(g)
        ends: list[float | None] = []
        for user, gens in held.items():
            u = self.account.find(user)
            current = [gen for gen in u.generations if gen.created_at <= adv.since][-1:]
            in_force = current + [gen for gen in u.generations if gen.created_at > adv.since]
            end: float | None = adv.since  # holding none of them, it reads no new data
            for gen, after in zip(in_force, [*in_force[1:], None], strict=True):
                if gen.number in gens:
                    end = None if after is None else max(adv.since, after.created_at)
            ends.append(end)
        end = None if None in ends else max([adv.since] + [t for t in ends if t is not None])
        text = [",".join(map(str, gens)) for gens in held.values()]
        if len(held) > 1:
            text = [f"{user} {t}" for user, t in zip(held, text, strict=True)]
        return {"adversary": adv.name, "kind": adv.kind, "user": adv.user, "since": adv.since,
                "window_end": end, "generations": "; ".join(text), "messages_exposed": count}
