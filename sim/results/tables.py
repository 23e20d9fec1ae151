"""The result tables' rows and columns (README, *Results*). One NamedTuple per table;
its fields are the table's columns, in order."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

STATUSES = ("readable", "recoverable", "lost")  # a message's status; Outcomes.status indexes this
READABLE, RECOVERABLE, LOST = range(3)


class MessageRow(NamedTuple):
    message_id: str
    user: str
    sender: str
    app: str
    sent_at: float
    generation: int
    readable_by: str
    status: str                # readable | recoverable | lost
    lost_at: float | None
    lost_cause: str
    recoverable_via: str
    exposed_to: str


class Outcomes(NamedTuple):
    """Each message's outcome (the last columns of :class:`MessageRow`), as columns in the
    order of the run record's copies: a run of a population holds hundreds of thousands."""

    readable_by: np.ndarray      # text
    status: np.ndarray           # int8, into STATUSES
    lost_at: np.ndarray          # float64; NaN unless lost
    lost_cause: np.ndarray       # text
    recoverable_via: np.ndarray  # text
    exposed_to: np.ndarray       # text


class DeviceRow(NamedTuple):
    user: str
    device: str
    kind: str                  # physical | backup | escrow | ea
    label: str
    added_at: float
    data_access: float
    approved_by: str
    revoked_at: float | None
    revoked_signed: bool | None
    lost_at: float | None
    lost_cause: str
    available: bool
    generations: str


class HolderRow(NamedTuple):
    user: str
    generation: int
    holder: str
    kind: str
    boxed_at: float
    boxed_by: str
    unavailable_at: float | None
    cause: str


class GenerationRow(NamedTuple):
    user: str
    generation: int
    created_by: str
    created_at: float
    lost_at: float | None
    lost_cause: str


COLUMNS = {
    "messages": list(MessageRow._fields),
    "devices": list(DeviceRow._fields),
    "events": ["time", "seq", "user", "event", "device", "detail", "generation"],  # the model's log
    "holders": list(HolderRow._fields),
    "generations": list(GenerationRow._fields),
}
TABLES = tuple(COLUMNS)
# Columns of text ("" when empty); the others are numbers, booleans or times (empty = missing).
TEXT = {"message_id", "user", "sender", "app", "readable_by", "status", "lost_cause", "recoverable_via",
        "exposed_to", "device", "kind", "label", "approved_by", "generations", "event", "detail",
        "holder", "boxed_by", "cause", "created_by"}
# Integer columns that may be empty: pandas' nullable Int64, so that CSV shows 3, not 3.0.
NULLABLE_INT = {"events": ["generation"]}
# Times: numbers, empty = NaN (a float column even when a run loses nothing).
TIMES = {"sent_at", "lost_at", "added_at", "data_access", "revoked_at", "time", "boxed_at",
         "unavailable_at", "created_at"}
