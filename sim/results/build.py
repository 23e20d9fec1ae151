"""Reading a run record into tables (docs/model.md §11 Messages, §12 Losses).

A message is *readable* when a physical device still in the user's hands decrypts it (a
real HPKE open), *recoverable* when no such device can but an available backup key or
escrow device holds its generation, and *lost* from the first time no available holder
of its generation remains. Everything is read from the :class:`RunRecord` alone.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..behaviour import Message, RunRecord
from ..model import PHYSICAL, DecryptionFailed, Device, Sealed, User
from ..scenario import notes
from .losses import Losses
from .result import Result
from .summary import summarise
from .tables import DeviceRow, GenerationRow, HolderRow, MessageRow

Outcome = tuple[str, str, float | None, str, str]  # readable_by, status, lost_at, lost_cause, recoverable_via


def _join(names: list[str]) -> str:
    return ",".join(names)


def _messages(record: RunRecord, losses: Losses, may_read: dict[str, list[Device]]
              ) -> tuple[list[MessageRow], list[dict[str, Any]]]:
    """The messages table, and each adversary's window. The messages of one generation
    share their readers, holders and loss, so these are decided once per generation; what
    is opened for real is each message (``decrypt: messages``, by one of its readers, with
    the keys it derived from the seed it opened from its box) or the generation's probe
    for each app, by every reader (``decrypt: generations``)."""
    acc = record.account
    by_generation: dict[tuple[str, int], list[int]] = {}
    for i, m in enumerate(record.messages):
        by_generation.setdefault((m.user, m.generation), []).append(i)
    outcomes: list[Outcome] = [("", "", None, "", "")] * len(record.messages)
    verified: dict[str, bytes] = {}  # id of what was opened → the seed that really decrypted it
    for (user, g), indices in by_generation.items():
        u = acc.users[user]
        readers = [d for d in may_read[user] if u.knows_generation(d.name, g)]
        lost_at, cause = losses.generation_lost(user, g)
        via = _join([h for h in u.holders(g) if u.devices[h].kind != PHYSICAL and acc.available(user, h)])
        if record.decrypt == "messages":
            readable = _open_each(u, g, readers, [record.messages[i] for i in indices], verified)
        else:
            apps = {record.messages[i].app for i in indices}
            readable = _open_probes(u, g, readers, {a: record.probes[(user, g, a)] for a in sorted(apps)},
                                    verified)
        for i in indices:
            m = record.messages[i]
            readers_of_m = readable[m.message_id if record.decrypt == "messages" else m.app]
            if readers_of_m:
                outcomes[i] = (readers_of_m, "readable", None, "", "")
            elif lost_at is not None:
                outcomes[i] = ("", "lost", max(lost_at, m.sent_at), cause, "")
            else:
                outcomes[i] = ("", "recoverable", None, "", via)
    if record.decrypt == "messages":
        sealed = [m.sealed for m in record.messages if m.sealed is not None]
        exposed, windows = record.adversaries.exposure(sealed, verified)
        exposed_to = {mid: _join(names) for mid, names in exposed.items()}
        exposure = [exposed_to.get(m.message_id, "") for m in record.messages]
    else:
        probe_of = [record.probes[(m.user, m.generation, m.app)].message_id for m in record.messages]
        exposed, windows = record.adversaries.exposure(list(record.probes.values()), verified,
                                                       copies=Counter(probe_of))
        exposure = [_join(exposed.get(probe, [])) for probe in probe_of]
    rows = [MessageRow(m.message_id, m.user, m.sender, m.app, m.sent_at, m.generation, *outcome, exposed_to)
            for m, outcome, exposed_to in zip(record.messages, outcomes, exposure, strict=True)]
    return rows, windows


def _open_each(u: User, g: int, readers: list[Device], messages: list[Message],
               verified: dict[str, bytes]) -> dict[str, str]:
    """Message id → the devices that read it: each message opened for real by a reader
    that derived the generation's keys already (its creator, most often), or else by the
    first; the readers holding the seed it opened with read it too."""
    if not readers:
        return dict.fromkeys((m.message_id for m in messages), "")
    same = _join([d.name for d in readers if d.known[g] == readers[0].known[g]])
    opener = next((d for d in readers if g in d.derived), readers[0])
    keys = u.generation_keys(g, opener.name)
    readable = {}
    for m in messages:
        assert m.sealed is not None
        read = u.open(m.sealed, keys) == m.message_id.encode()
        if read:
            verified[m.message_id] = opener.known[g]
        readable[m.message_id] = same if read else ""
    return readable


def _open_probes(u: User, g: int, readers: list[Device], probes: dict[str, Sealed],
                 verified: dict[str, bytes]) -> dict[str, str]:
    """App → the devices that read the generation's messages of that app: each reader
    opens the app's probe for real, with the keys it derived from its own box."""
    readable = {}
    for app, probe in probes.items():
        read = []
        for d in readers:
            try:
                if u.open(probe, u.generation_keys(g, d.name)) == probe.message_id.encode():
                    read.append(d.name)
                    verified[probe.message_id] = d.known[g]
            except DecryptionFailed:
                pass
        readable[app] = _join(read)
    return readable


def build_result(record: RunRecord) -> Result:
    acc = record.account
    losses = Losses(acc)
    users: list[User] = list(acc.users.values()) + ([acc.ea] if acc.ea is not None else [])

    # the devices that may read a user's messages: physical and available
    may_read = {u.id: [d for d in u.devices.values() if d.kind == PHYSICAL and acc.available(u.id, d.name)]
                for u in acc.users.values()}
    messages, windows = _messages(record, losses, may_read)

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
    tables: dict[str, list[Any]] = {"messages": messages, "devices": devices, "events": acc.log.rows,
                                    "holders": holders, "generations": generations}
    refused = [{"time": at, "user": user, "device": device, "why": detail}
               for at, _, user, event, device, detail, _ in acc.log.rows if event == "refused"]
    return Result(tables, summarise(messages, generations, record)
                  | {"adversaries": windows, "refused": refused, "notes": notes(record.scenario)})
