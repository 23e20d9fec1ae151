"""sim.model.user and sim.model.account: the six invariants of PROTOCOL §3 on random histories of one user."""

# The invariants are the whitepaper's Appendix B, checked by a hypothesis state machine, plus
# real-key consistency: what a device opens from its boxes is what the model says it has,
# opens the content sealed to that generation, and a revoked device's keys open nothing
# created after its revocation.

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sim.model import (
    BACKUP,
    ESCROW,
    PHYSICAL,
    Account,
    Argon2Cost,
    Crypto,
    DecryptionFailed,
    Device,
    DeviceKeys,
    Sealed,
    content_binding,
)

CHEAP = Argon2Cost(memory_kib=1024, passes=1, lanes=1)
MAIL = "mail"
USER = "alice"
DT = st.sampled_from([0.0, 1.0])  # several events may share a time


class Snapshot:
    """Classes and data access of every device, taken just before an approval."""

    def __init__(self, m: DMEMachine) -> None:
        u = m.u
        self.cls = {n: frozenset(u.approval_class(n)) for n in u.devices}
        self.v = {n: u.data_access(n) for n in u.devices}


class DMEMachine(RuleBasedStateMachine):
    # ------------------------------------------------------------------ setup and helpers
    @initialize(seed=st.integers(0, 2**32 - 1))
    def start(self, seed: int) -> None:
        self.crypto = Crypto(b"test/%d" % seed, argon2=CHEAP)
        self.acc = Account(self.crypto)
        self.u = self.acc.user(USER)
        self.t = 0.0
        self.counter = 0
        self.messages: dict[int, Sealed] = {}  # generation → a message sealed to it
        self.backup_text: dict[str, str] = {}
        self.virtual_keys: dict[str, DeviceKeys] = {}  # backup name → keys from its string
        # revoked device → (copy of its keys or None, #generations at revocation, signed)
        self.revoked: dict[str, tuple[DeviceKeys | None, int, bool]] = {}
        self.checked: set[tuple[str, int]] = set()  # (device, generation) real-opened already
        self.theft_checked: set[tuple[str, int, str]] = set()
        self.approvals = 0
        self._add()

    def _tick(self, dt: float) -> float:
        self.t += dt
        return self.t

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _dev(self, name: str) -> Device:
        return self.u.devices[name]

    def _add(self) -> str:
        name = self._name("d")
        self.u.add_device(name, self.t)
        self._seal_new()
        return name

    def _seal_new(self) -> None:
        """Seal one message to every generation that has none yet."""
        u = self.u
        for g in range(len(self.messages) + 1, len(u.generations) + 1):
            app = MAIL if g % 2 else "voicemail"
            mid = f"m{g}"
            if g == u.latest.number:
                m = u.seal(mid, app, b"gen %d" % g, self.t)
            else:  # (more than one generation in one step: seal to the older one directly)
                key = u.generations[g - 1].public["email" if app == MAIL else "voicemail"]
                binding = content_binding(USER, app, g, mid)
                ct = self.crypto.seal_content(b"gen %d" % g, key, binding)
                m = Sealed(mid, USER, app, g, self.t, ct, binding)
            assert m.generation == g
            self.messages[g] = m

    def _in_hand(self) -> list[str]:
        """Active physical devices with keys, in legitimate hands: they may sign."""
        return [d.name for d in self.u.active()
                if d.kind == PHYSICAL and d.keys is not None and d.gone_at is None]

    def _revocable(self, exclude: str | None = None) -> list[str]:
        return [d.name for d in self.u.active() if d.kind != ESCROW and d.name != exclude]

    def _usable_backups(self) -> list[str]:
        return [d.name for d in self.u.active() if d.kind == BACKUP and d.gone_at is None]

    def _escrow(self) -> Device | None:
        return self.acc.escrow_device(USER) if self.acc.ea is not None else None

    def _keys_copy(self, name: str) -> DeviceKeys | None:
        d = self._dev(name)
        return self.virtual_keys.get(name) if d.kind == BACKUP else d.keys

    def _revoking(self, targets: list[str], signed: bool) -> list[tuple[str, DeviceKeys | None]]:
        n = len(self.u.generations)
        out = []
        for t in targets:
            keys = self._keys_copy(t)
            self.revoked[t] = (keys, n, signed)
            out.append((t, keys))
        return out

    def _check_approval(self, approver: str, before: Snapshot) -> None:
        """Invariant 4: approving never changes the approver's class nor that of any older
        device: their data access is unchanged, among devices no newer than the approver
        the class partition is unchanged, a class the approver was not in is untouched,
        and whatever joins the approver's class is newer than the approver."""
        u = self.u
        sx = self._dev(approver).seq
        older = {n for n in before.cls if self._dev(n).seq <= sx}
        for z in older:
            after = u.approval_class(z)
            assert u.data_access(z) == before.v[z], ("inv4: v changed", z, approver)
            assert after & older == before.cls[z] & older, ("inv4: older classes merged", z)
            if z not in before.cls[approver]:
                assert after == before.cls[z], ("inv4: class of older device changed", z)
        joined = u.approval_class(approver) - before.cls[approver]
        assert all(self._dev(n).seq > sx for n in joined), ("inv4: older joined", joined)
        self.approvals += 1

    # ------------------------------------------------------------------ rules
    @rule(dt=DT)
    def add_device(self, dt: float) -> None:
        self._tick(dt)
        name = self._add()
        d = self._dev(name)
        assert self.u.boxed(name) == {self.u.latest.number}  # p(x) = {its own}
        assert self.u.latest.created_by == name
        assert self.u.data_access(name) == d.added_at

    @precondition(lambda self: bool(self._in_hand()))
    @rule(data=st.data(), dt=DT, with_revoke=st.booleans())
    def approve(self, data: st.DataObject, dt: float, with_revoke: bool) -> None:
        self._tick(dt)
        x = data.draw(st.sampled_from(self._in_hand()), label="approver")
        targets = self._revocable(exclude=x)
        revoke = [data.draw(st.sampled_from(targets), label="revoke")] if with_revoke and targets else []
        n = len(self.u.generations)
        before = Snapshot(self)
        self._revoking(revoke, signed=True)
        approved = self.u.batch_approve(x, self.t, revoke=revoke)
        assert len(self.u.generations) == n + (1 if revoke else 0)
        assert set(approved) == {d.name for d in self.u.active() if d.seq > self._dev(x).seq}
        for y in approved:
            assert self.u.boxed(y) >= self.u.boxed(x)
            assert self.u.data_access(y) == self.u.data_access(x)
        self._check_approval(x, before)
        self._seal_new()

    @precondition(lambda self: bool(self._in_hand()))
    @rule(data=st.data(), dt=DT)
    def revoke_signed(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        by = data.draw(st.sampled_from(self._in_hand()), label="by")
        targets = self._revocable(exclude=by)
        if not targets:
            return
        target = data.draw(st.sampled_from(targets), label="target")
        n = len(self.u.generations)
        self._revoking([target], signed=True)
        g = self.u.revoke(by, [target], self.t)
        assert g == n + 1 and not self.u.stale
        assert self._dev(target).revoked_signed
        self._seal_new()

    @precondition(lambda self: bool(self._revocable()))
    @rule(data=st.data(), dt=DT)
    def revoke_unsigned(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        target = data.draw(st.sampled_from(self._revocable()), label="target")
        n = len(self.u.generations)
        [(_, keys)] = self._revoking([target], signed=False)
        self.u.revoke_unsigned([target], self.t)
        assert self.u.stale and len(self.u.generations) == n
        # exposure window: new content still goes to a generation the revoked device knew
        m = self.u.seal(self._name("w"), MAIL, b"window", self.t)
        assert m.generation == n
        if keys is not None and n in self.u.boxed(target):
            box = self.u.boxes[(n, target)]
            seed = self.crypto.open_box(box.ciphertext, keys.kem,
                                        self.u.box_binding(n, box.sender, target))
            assert self.u.open(m, self.crypto.generation_keys(seed)) == b"window"

    @precondition(lambda self: bool(self._in_hand()))
    @rule(data=st.data(), dt=DT)
    def rotate(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        by = data.draw(st.sampled_from(self._in_hand()), label="by")
        g = self.u.rotate(by, self.t)
        assert not self.u.stale
        assert {d.name for d in self.u.active() if g in self.u.boxed(d.name)} == {
            d.name for d in self.u.active()}
        self._seal_new()

    @precondition(lambda self: bool(self._in_hand()))
    @rule(data=st.data(), dt=DT)
    def backup_create(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        by = data.draw(st.sampled_from(self._in_hand()), label="by")
        name = self._name("bk")
        n = len(self.u.generations)
        before = Snapshot(self)
        text = self.acc.create_backup_key(USER, by, name, self.t)
        assert len(self.u.generations) == n  # no new generation
        self.backup_text[name] = text
        self.virtual_keys[name] = self.acc.backup_keys(USER, text)[1]
        assert self.u.boxed(name) == self.u.boxed(by)  # never more than its creator
        assert self.u.data_access(name) == self.u.data_access(by)
        self._check_approval(by, before)

    @precondition(lambda self: bool(self._usable_backups()))
    @rule(data=st.data(), dt=DT)
    def backup_recover(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        bk = data.draw(st.sampled_from(self._usable_backups()), label="backup")
        new = self._add()
        before = Snapshot(self)
        approved = self.acc.recover_with_backup(USER, self.backup_text[bk], new, self.t)
        assert new in approved
        assert self.u.data_access(new) == self.u.data_access(bk)
        assert self.u.boxed(new) >= self.u.boxed(bk)
        assert self.u.chain.links[-1].body["by"] == bk
        self._check_approval(bk, before)

    @precondition(lambda self: any(d.gone_at is None and d.kind in (PHYSICAL, BACKUP)
                                   for d in self.u.active()))
    @rule(data=st.data(), dt=DT)
    def device_lost(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        name = data.draw(st.sampled_from([d.name for d in self.u.active() if d.gone_at is None
                                          and d.kind in (PHYSICAL, BACKUP)]), label="lost")
        d = self._dev(name)
        self.u.gone(name, self.t, "paper_lost" if d.kind == BACKUP else "lost")
        assert d.gone_at == self.t and not self.acc.available(USER, name)
        if d.kind == PHYSICAL:
            assert d.keys is not None  # lost, not wiped: p(x) still counts

    @precondition(lambda self: any(d.kind == PHYSICAL and d.keys is not None
                                   for d in self.u.active()))
    @rule(data=st.data(), dt=DT)
    def disk_wiped(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        name = data.draw(st.sampled_from([d.name for d in self.u.active()
                                          if d.kind == PHYSICAL and d.keys is not None]),
                         label="wiped")
        self.u.gone(name, self.t, "wiped")
        d = self._dev(name)
        assert d.keys is None and d.known == {} and self.u.knows(name) == {}
        assert not any(self.u.can_decrypt(name, m) for m in self.messages.values())

    @precondition(lambda self: bool(self._in_hand()) and "escrow" not in self.u.devices)
    @rule(data=st.data(), dt=DT)
    def escrow_enroll(self, data: st.DataObject, dt: float) -> None:
        self._tick(dt)
        by = data.draw(st.sampled_from(self._in_hand()), label="by")
        if self.acc.ea is None:
            self.acc.enable_escrow("ea1", self.t)
        before = Snapshot(self)
        esc = self.acc.enroll_escrow(USER, by, self.t)
        assert esc.keys is None and self.u.boxed("escrow") == self.u.boxed(by)
        assert self.acc.available(USER, "escrow")
        self.virtual_keys["escrow"] = self.acc.escrow_keys(USER, "ea1")
        self._check_approval(by, before)

    @precondition(lambda self: self._escrow() is not None)
    @rule(dt=DT)
    def escrow_recover(self, dt: float) -> None:
        self._tick(dt)
        new = self._add()
        before = Snapshot(self)
        approved = self.acc.escrow_recover(USER, "ea1", new, self.t)
        assert new in approved
        assert self.u.data_access(new) == self.u.data_access("escrow")
        assert self.u.boxed(new) >= self.u.boxed("escrow")
        self._check_approval("escrow", before)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def appendix_b_invariants(self) -> None:
        u = self.u
        p = {n: u.boxed(n) for n in u.devices}
        active = u.active()
        # 1. active devices in one class know the same generations
        for cls in u.classes():
            sets = {frozenset(p[n]) for n in cls if not self._dev(n).revoked}
            assert len(sets) <= 1, ("inv1", cls, {n: p[n] for n in cls})
        for x in active:
            for y in active:
                if x.seq < y.seq:
                    # 2. x added before y ⇒ p(y) ⊆ p(x)
                    assert p[y.name] <= p[x.name], ("inv2", x.name, y.name, p[x.name], p[y.name])
                    # 3. older data access never later
                    assert u.data_access(x.name) <= u.data_access(y.name), ("inv3", x.name, y.name)
        # 5. generations created after a signed revocation never reach the revoked device
        #    (nor after an unsigned one: new generations are boxed to unrevoked devices only)
        for name, (_, n_at, _signed) in self.revoked.items():
            assert self._dev(name).revoked
            late = {g for g in p[name] if g > n_at}
            assert not late, ("inv5", name, late)
        # 6. an unrevoked virtual device holds every generation created after it joined
        for d in active:
            if d.virtual:
                missing = {g.number for g in u.generations if g.seq > d.seq} - p[d.name]
                assert not missing, ("inv6", d.name, missing)
        # one message per generation was sealed
        assert sorted(self.messages) == [g.number for g in u.generations]

    @invariant()
    def real_keys_agree_with_the_model(self) -> None:
        u, crypto = self.u, self.crypto
        for d in u.devices.values():
            if d.keys is None:
                continue
            known = u.knows(d.name)  # real box opening
            assert set(known) == u.boxed(d.name), (d.name, set(known), u.boxed(d.name))
            for g, m in self.messages.items():
                if g in known:
                    if (d.name, g) not in self.checked:
                        keys = crypto.generation_keys(known[g])
                        assert keys.public() == u.generations[g - 1].public  # the chain's keys for g
                        assert u.can_decrypt(d.name, m)
                        assert u.open(m, keys) == b"gen %d" % g
                        self.checked.add((d.name, g))
                else:
                    assert not u.can_decrypt(d.name, m)
        # virtual devices: open their boxes with keys re-derived from the string / EA blob
        for name, keys in self.virtual_keys.items():
            d = self._dev(name)
            if d.revoked:
                continue
            assert keys.verify_key == d.verify_key and keys.kem_public == d.kem_public
            for g in u.boxed(name):
                if (name, g) in self.checked:
                    continue
                box = u.boxes[(g, name)]
                seed = crypto.open_box(box.ciphertext, keys.kem, u.box_binding(g, box.sender, name))
                assert u.open(self.messages[g], crypto.generation_keys(seed)) == b"gen %d" % g
                self.checked.add((name, g))

    @invariant()
    def revoked_keys_open_nothing_new(self) -> None:
        """A copy of a revoked device's keys (a thief's) opens no box of any generation
        created after the revocation, so no message sealed to it."""
        u = self.u
        for name, (keys, n_at, _signed) in self.revoked.items():
            for g, m in self.messages.items():
                if g <= n_at:
                    continue
                assert (g, name) not in u.boxes
                assert not u.can_decrypt(name, m)
                if keys is None:
                    continue
                for (bg, to), box in u.boxes.items():
                    if bg != g or (name, g, to) in self.theft_checked:
                        continue
                    try:
                        self.crypto.open_box(box.ciphertext, keys.kem,
                                             u.box_binding(g, box.sender, to))
                    except DecryptionFailed:
                        self.theft_checked.add((name, g, to))
                    else:
                        raise AssertionError(f"revoked {name}'s keys opened {to}'s box of {g}")


DMEMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestInvariants = DMEMachine.TestCase


class LongInvariants(DMEMachine):
    """The same machine on many more and longer histories (``pytest -m slow``)."""


LongInvariants.TestCase.settings = settings(
    max_examples=400, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLongInvariants = pytest.mark.slow(LongInvariants.TestCase)


def test_machine_reaches_every_rule() -> None:
    """A fixed long history through every rule, so the invariants are exercised on deep
    states whatever hypothesis happens to draw."""
    m = DMEMachine()
    m.start(seed=1)
    checks = [m.appendix_b_invariants, m.real_keys_agree_with_the_model,
              m.revoked_keys_open_nothing_new]

    class Draw:
        """Stands in for hypothesis' data: picks a fixed element."""

        def __init__(self, pick: int) -> None:
            self.pick = pick

        def draw(self, strategy: st.SearchStrategy, label: str | None = None) -> object:
            elems = getattr(strategy, "wrapped_strategy", strategy).elements
            return elems[self.pick % len(elems)]

    steps = [
        lambda: m.add_device(1.0), lambda: m.add_device(0.0),
        lambda: m.approve(Draw(1), 1.0, False),
        lambda: m.backup_create(Draw(0), 1.0),
        lambda: m.add_device(1.0),
        lambda: m.escrow_enroll(Draw(1), 1.0),
        lambda: m.revoke_unsigned(Draw(-1), 1.0),
        lambda: m.rotate(Draw(0), 0.0),
        lambda: m.add_device(1.0),
        lambda: m.approve(Draw(0), 1.0, True),
        lambda: m.revoke_signed(Draw(0), 1.0),
        lambda: m.device_lost(Draw(0), 1.0),
        lambda: m.disk_wiped(Draw(0), 1.0),
        lambda: m.backup_recover(Draw(0), 1.0),
        lambda: m.escrow_recover(1.0),
        lambda: m.add_device(1.0),
        lambda: m.approve(Draw(-1), 1.0, False),
        lambda: m.backup_create(Draw(0), 0.0),
        lambda: m.escrow_recover(0.0),
    ]
    for step in steps:
        step()
        for check in checks:
            check()
    assert m.approvals >= 7
    assert any(not s for _, _, s in m.revoked.values()) and any(s for _, _, s in m.revoked.values())
    assert len(m.checked) > 50 and len(m.theft_checked) > 0
