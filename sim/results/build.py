"""Reading a run record into tables (docs/model.md §11 Messages, §12 Losses).

A message is *readable* when a physical device still in the user's hands decrypts it (a
real HPKE open), *recoverable* when no such device can but an available backup key or
escrow device holds its generation, and *lost* from the first time no available holder
of its generation remains. Everything is read from the :class:`RunRecord` alone.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..behaviour import APPS, Copies, Groups, RunRecord
from ..model import PHYSICAL, DecryptionFailed, Device, Sealed, User
from ..scenario import notes
from .losses import Losses
from .result import Result
from .summary import summarise
from .tables import (
    LOST,
    READABLE,
    RECOVERABLE,
    STATUSES,
    DeviceRow,
    GenerationRow,
    HolderRow,
    Outcomes,
)


def _join(names: list[str]) -> str:
    return ",".join(names)


def _text(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object)


def _outcomes(record: RunRecord, losses: Losses, may_read: dict[str, list[Device]]
              ) -> tuple[Outcomes, list[dict[str, Any]]]:
    """Each message's outcome, and each adversary's window. The messages of one user,
    generation and app share their readers, holders and loss, so these are decided once
    per group; what is opened for real is each message (``decrypt: messages``, by one of
    its readers, with the keys it derived from the seed it opened from its box) or the
    group's probe, by every reader (``decrypt: generations``)."""
    acc, copies = record.account, record.copies
    groups = record.groups
    readable_by = _text(len(copies.at))
    lost_at, cause, via = np.full(len(groups.size), np.nan), _text(len(groups.size)), _text(len(groups.size))
    probes: list[Sealed] = []
    verified: dict[str, bytes] = {}  # id of what was opened → the seed that really decrypted it
    for i, members in enumerate(groups.members):
        user, g, app = copies.key(members[0])
        u = acc.users[user]
        readers = [d for d in may_read[user] if u.knows_generation(d.name, g)]
        when, cause[i] = losses.generation_lost(user, g)
        lost_at[i] = np.nan if when is None else when
        via[i] = _join([h for h in u.holders(g) if u.devices[h].kind != PHYSICAL and acc.available(user, h)])
        if record.decrypt == "messages":
            readable_by[members] = _open_each(u, g, readers, [record.sealed[n] for n in members.tolist()], verified)
        else:
            probes.append(record.probes[(user, g, app)])
            readable_by[members] = _open_probe(u, g, readers, probes[-1], verified)
    group_lost = lost_at[groups.of]
    status = np.where(readable_by != "", READABLE, np.where(np.isnan(group_lost), RECOVERABLE, LOST))
    exposed_to, windows = _exposure(record, groups, probes, verified)
    return Outcomes(readable_by, status.astype(np.int8),
                    np.where(status == LOST, np.maximum(group_lost, copies.at), np.nan),
                    np.where(status == LOST, cause[groups.of], ""),
                    np.where(status == RECOVERABLE, via[groups.of], ""), exposed_to), windows


def _exposure(record: RunRecord, groups: Groups, probes: list[Sealed], verified: dict[str, bytes]
              ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The adversaries that decrypt each message, and each one's window: what they open
    is each message, or each group's probe (standing for the group's messages)."""
    exposed_to = _text(len(groups.of))
    if record.decrypt == "messages":
        exposed, windows = record.adversaries.exposure(record.sealed, verified)
        if exposed:
            exposed_to[:] = [_join(exposed.get(m.message_id, [])) for m in record.sealed]
    else:
        exposed, windows = record.adversaries.exposure(
            probes, verified, copies={p.message_id: int(k) for p, k in zip(probes, groups.size, strict=True)})
        if exposed:
            exposed_to[:] = np.array([_join(exposed.get(p.message_id, [])) for p in probes], dtype=object)[groups.of]
    return exposed_to, windows


def _open_each(u: User, g: int, readers: list[Device], messages: list[Sealed],
               verified: dict[str, bytes]) -> list[str]:
    """The devices that read each message: each opened for real by a reader that derived
    the generation's keys already (its creator, most often), or else by the first; the
    readers holding the seed it opened with read it too."""
    if not readers:
        return [""] * len(messages)
    same = _join([d.name for d in readers if d.known[g] == readers[0].known[g]])
    opener = next((d for d in readers if g in d.derived), readers[0])
    keys = u.generation_keys(g, opener.name)
    readable = []
    for m in messages:
        read = u.open(m, keys) == m.message_id.encode()
        if read:
            verified[m.message_id] = opener.known[g]
        readable.append(same if read else "")
    return readable


def _open_probe(u: User, g: int, readers: list[Device], probe: Sealed, verified: dict[str, bytes]) -> str:
    """The devices that read a group's messages: each reader opens its probe for real,
    with the keys it derived from its own box."""
    read = []
    for d in readers:
        try:
            if u.open(probe, u.generation_keys(g, d.name)) == probe.message_id.encode():
                read.append(d.name)
                verified[probe.message_id] = d.known[g]
        except DecryptionFailed:
            pass
    return _join(read)


def message_table(copies: Copies, outcomes: Outcomes) -> dict[str, Any]:
    """The messages table's columns."""
    names = np.array(copies.names, dtype=object)
    return {"message_id": copies.message_ids(), "user": names[copies.user], "sender": names[copies.sender],
            "app": np.array(APPS, dtype=object)[copies.app], "sent_at": copies.at,
            "generation": copies.generation, "readable_by": outcomes.readable_by,
            "status": np.array(STATUSES, dtype=object)[outcomes.status], "lost_at": outcomes.lost_at,
            "lost_cause": outcomes.lost_cause, "recoverable_via": outcomes.recoverable_via,
            "exposed_to": outcomes.exposed_to}


def build_result(record: RunRecord) -> Result:
    acc = record.account
    losses = Losses(acc)
    users: list[User] = list(acc.users.values()) + ([acc.ea] if acc.ea is not None else [])

    # the devices that may read a user's messages: physical and available
    may_read = {u.id: [d for d in u.devices.values() if d.kind == PHYSICAL and acc.available(u.id, d.name)]
                for u in acc.users.values()}
    outcomes, windows = _outcomes(record, losses, may_read)

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
    tables: dict[str, Any] = {"messages": partial(message_table, record.copies, outcomes), "devices": devices, "events": acc.log.rows,
                                    "holders": holders, "generations": generations}
    refused = [{"time": at, "user": user, "device": device, "why": detail}
               for at, _, user, event, device, detail, _ in acc.log.rows if event == "refused"]
    return Result(tables, summarise(outcomes, generations, record)
                  | {"adversaries": windows, "refused": refused, "notes": notes(record.scenario)})
