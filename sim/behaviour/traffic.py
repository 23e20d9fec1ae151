"""Message traffic (docs/model.md §11 Messages): when each person sends, and which
generation each copy belongs to.

Sending changes nothing in the protocol's state, so drawn traffic needs no simulation
events: each person's send times for an app are drawn for the whole horizon at once
(from the person's own stream for that app), and each copy belongs to its user's latest
generation at the send time: the last one created at or before it. A copy for a user
who has no device yet is not sent. Scripted ``send`` events stay in the event loop.

Mail ``to: {group: G, k: K}`` first draws the person's K correspondents, distinct and never
themselves, from their own ``correspondents`` stream (once, in O(K)); each mail then goes
to one of them, drawn as for ``to: [names]``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from functools import partial

import numpy as np

from ..model import User
from ..scenario import Correspondents, Dist, Fixed
from .people import Person
from .record import Send

APPS = ("voicemail", "mail")  # the order of a person's streams and of ties between apps
_BLOCK = 64  # gaps drawn per block


def send_times(every: Dist, rng: Callable[[], np.random.Generator], horizon: float) -> list[float]:
    """Times of the sends before ``horizon``: cumulative gaps, drawn in blocks (fixed gaps
    draw nothing: ``rng`` makes the stream on first use). Summed in Python floats, as
    ``end + numpy.cumsum(gaps)`` would, without numpy's cost per call on short lists."""
    times: list[float] = []
    end = 0.0
    while end < horizon:
        gaps = [every.fixed] * _BLOCK if isinstance(every, Fixed) else every.sample_many(rng(), _BLOCK).tolist()
        total = 0.0
        for gap in gaps:
            total += gap
            times.append(end + total)
        end = times[-1]
    return [t for t in times if t < horizon]


def recipients(app: str, to: list[str], rng: Callable[[], np.random.Generator], n: int) -> list[str | None]:
    """For each of ``n`` messages, the user it goes to, drawn from ``to`` (None: only the
    sender's copy; voicemail is always the user's own)."""
    if app != "mail" or not to:
        return [None] * n
    return [to[i] for i in rng().integers(len(to), size=n).tolist()]


class Group:
    """A group's people in the order of the file, and each one's place in it."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}


def correspondents(person: Person, pick: Correspondents, group: Group) -> list[str]:
    """``pick.k`` distinct people of ``group`` other than ``person``, drawn from the
    person's own ``correspondents`` stream: indices among the others, mapped past the
    person's own place (the checks make sure there are k others)."""
    own = group.index.get(person.name)
    others = len(group.names) - (own is not None)
    chosen = person.rng("correspondents").choice(others, size=pick.k, replace=False).tolist()
    return [group.names[c + 1 if own is not None and c >= own else c] for c in chosen]


def generation_at(user: User, times: list[float]) -> list[int]:
    """For each time, the number of ``user``'s latest generation then (0: none yet)."""
    created = [g.created_at for g in user.generations]
    return [bisect_right(created, t) for t in times]


def copies(sender: str, app: str, times: list[float], to: list[str | None],
           users: dict[str, User]) -> tuple[list[float], list[str], list[int]]:
    """Columns (time, user, generation) of the copies of ``sender``'s messages, in send
    order: for a mail to another user, the recipient's copy, then the sender's own."""
    gens = {sender: generation_at(users[sender], times)} if sender in users else {}
    for name in {r for r in to if r is not None and r != sender and r in users}:
        gens[name] = generation_at(users[name], times)
    own = gens.get(sender)
    at: list[float] = []
    user: list[str] = []
    gen: list[int] = []
    for i, t in enumerate(times):
        r = to[i]
        if r != sender and r in gens and gens[r][i]:
            at.append(t)
            user.append(r)
            gen.append(gens[r][i])
        if own is not None and own[i]:
            at.append(t)
            user.append(sender)
            gen.append(own[i])
    return at, user, gen


def drawn(people: Iterable[Person], users: dict[str, User], horizon: float,
          groups: dict[str, list[str]] | None = None) -> list[Send]:
    """Every copy the people's drawn traffic sends before ``horizon``: person by person,
    app by app, in send order. ``groups``: each group's people, for mail to a group."""
    sends: list[Send] = []
    made: dict[str, Group] = {}
    for person in people:
        for a, name in enumerate(APPS):
            spec = getattr(person.traffic, name)
            if spec is None:
                continue
            rng = partial(person.rng, "traffic", a)  # the person's stream for the app, made on first use
            times = send_times(spec.every, rng, horizon)
            if isinstance(spec.to, Correspondents):
                if spec.to.group not in made:
                    made[spec.to.group] = Group((groups or {})[spec.to.group])
                to = recipients(name, correspondents(person, spec.to, made[spec.to.group]), rng, len(times))
            else:
                to = recipients(name, spec.to, rng, len(times))
            at, user, gen = copies(person.name, name, times, to, users)
            sends += map(Send, at, user, gen, [name] * len(at), [person.name] * len(at))
    return sends
