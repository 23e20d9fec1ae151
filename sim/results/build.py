"""Reading a run record into tables (docs/model.md, *Reading and loss*).

A message is *readable* when a physical device still in the user's hands decrypts it (a
real HPKE open), *recoverable* when no such device can but an available backup key or
escrow device holds its generation, and *lost* from the first time no available holder
of its generation remains. Everything is read from the :class:`RunRecord` alone.
"""

from __future__ import annotations

from typing import Any

from ..behaviour import RunRecord
from ..model import PHYSICAL, User
from .losses import Losses
from .result import Result
from .summary import summarise
from .tables import DeviceRow, GenerationRow, HolderRow, MessageRow

Outcome = tuple[str, str, float | None, str, str]  # readable_by, status, lost_at, lost_cause, recoverable_via


def _join(names: list[str]) -> str:
    return ",".join(names)


def build_result(record: RunRecord) -> Result:
    acc = record.account
    losses = Losses(acc)
    users: list[User] = list(acc.users.values()) + ([acc.ea] if acc.ea is not None else [])

    # the devices that may read a user's messages: physical and available
    may_read = {u.id: [d for d in u.devices.values() if d.kind == PHYSICAL and acc.available(u.id, d.name)]
                for u in acc.users.values()}
    # the messages of one generation share their readers, holders and loss: they are
    # decided once per generation, and its messages opened together (with its keys warm)
    by_generation: dict[tuple[str, int], list[int]] = {}
    for i, m in enumerate(record.messages):
        by_generation.setdefault((m.sealed.user, m.sealed.generation), []).append(i)
    outcomes: list[Outcome] = [("", "", None, "", "")] * len(record.messages)
    verified: dict[str, bytes] = {}  # message id → the seed that really decrypted it
    for (user, g), indices in by_generation.items():
        u = acc.users[user]
        readers = [d for d in may_read[user] if u.knows_generation(d.name, g)]
        lost_at, cause = losses.generation_lost(user, g)
        via = _join([h for h in u.holders(g) if u.devices[h].kind != PHYSICAL and acc.available(user, h)])
        opener, same = None, ""
        if readers:
            same = _join([d.name for d in readers if d.known[g] == readers[0].known[g]])
            # the messages are opened by a reader that derived the generation's keys already
            # (its creator, most often), or else by the first
            opener = next((d for d in readers if g in d.derived), readers[0])
            keys = u.generation_keys(g, opener.name)
        for i in indices:
            sealed = record.messages[i].sealed
            # one real decryption per message, with the keys its reader derived from the
            # seed it opened from its box
            if opener is not None and u.open(sealed, keys) == sealed.message_id.encode():
                verified[sealed.message_id] = opener.known[g]
                outcomes[i] = (same, "readable", None, "", "")
            elif lost_at is not None:
                outcomes[i] = ("", "lost", max(lost_at, sealed.sent_at), cause, "")
            else:
                outcomes[i] = ("", "recoverable", None, "", via)
    exposed, windows = record.adversaries.exposure([m.sealed for m in record.messages], verified)
    exposed_to = {message_id: _join(names) for message_id, names in exposed.items()}
    messages = [MessageRow(s.message_id, s.user, sender, s.app, s.sent_at, s.generation, *outcome,
                           exposed_to.get(s.message_id, ""))
                for (s, sender), outcome in zip(record.messages, outcomes, strict=True)]

    devices, holders, generations = [], [], []
    for u in users:
        access = u.data_access_of_all()
        for d in u.devices.values():
            devices.append(DeviceRow(
                u.id, d.name, d.kind, record.labels.get((u.id, d.name), d.kind), d.added_at, access[d.name],
                _join(u.approved_by(d.name)), d.revoked_at, d.revoked_signed if d.revoked else None,
                d.gone_at, d.gone_cause or "", acc.available(u.id, d.name),
                _join([str(g) for g in sorted(u.boxed(d.name))]),
            ))
        for (g, h), box in sorted(u.boxes.items()):
            holders.append(HolderRow(u.id, g, h, u.devices[h].kind, box.created_at, box.sender,
                                     *losses.holder_gone(u.id, h)))
        for gen in u.generations:
            generations.append(GenerationRow(u.id, gen.number, gen.created_by, gen.created_at,
                                             *losses.generation_lost(u.id, gen.number)))

    # the log is appended in simulated-time order, so it is already ordered by (time, seq)
    tables: dict[str, list[Any]] = {"messages": messages, "devices": devices, "events": acc.log.rows, "holders": holders,
              "generations": generations}
    return Result(tables, summarise(messages, generations, record) | {"adversaries": windows})
