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

from collections.abc import Callable, Iterable
from functools import partial

import numpy as np

from ..model import User
from ..scenario import Correspondents, Dist, Fixed
from .people import Person
from .record import APPS, Copies, Send

_BLOCK = 64  # gaps drawn per block


def send_times(every: Dist, rng: Callable[[], np.random.Generator], horizon: float) -> np.ndarray:
    """Times of the sends before ``horizon``: cumulative gaps, drawn in blocks (fixed gaps
    draw nothing: ``rng`` makes the stream on first use)."""
    blocks = []
    end = 0.0
    while end < horizon:
        gaps = np.full(_BLOCK, every.fixed) if isinstance(every, Fixed) else every.sample_many(rng(), _BLOCK)
        blocks.append(end + np.cumsum(gaps))
        end = float(blocks[-1][-1])
    times = np.concatenate(blocks) if blocks else np.empty(0)
    return times[times < horizon]


def recipients(app: str, to: list[str], rng: Callable[[], np.random.Generator], n: int) -> np.ndarray:
    """For each of ``n`` messages, the place in ``to`` of the user it goes to (-1: only the
    sender's copy; voicemail is always the user's own)."""
    if app != "mail" or not to:
        return np.full(n, -1, np.int64)
    return rng().integers(len(to), size=n)


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


def generation_at(user: User, times: np.ndarray) -> np.ndarray:
    """For each time, the number of ``user``'s latest generation then (0: none yet)."""
    return np.searchsorted([g.created_at for g in user.generations], times, side="right")


def copies(sender: str, app: str, times: np.ndarray, to: list[str], picks: np.ndarray,
           users: dict[str, User], names: dict[str, int]) -> tuple[np.ndarray, ...]:
    """Columns (time, user, generation, app, sender) of the copies of ``sender``'s messages
    through ``app`` sent at ``times`` to ``to[picks]``, in send order: for a mail to another
    user, the recipient's copy, then the sender's own. A copy to a user without a
    generation yet is not sent. ``names`` codes the people (new ones are added)."""
    n = len(times)
    code = names.setdefault(sender, len(names))
    own = generation_at(users[sender], times) if sender in users else np.zeros(n, np.int64)
    theirs, whom = np.zeros(n, np.int64), np.full(n, -1, np.int64)
    for i in np.unique(picks[picks >= 0]).tolist():
        if to[i] != sender and to[i] in users:
            chosen = picks == i
            theirs[chosen] = generation_at(users[to[i]], times[chosen])
            whom[chosen] = names.setdefault(to[i], len(names))
    generation = np.column_stack([theirs, own]).ravel()  # per message: theirs, then own
    keep = generation > 0
    user = np.column_stack([whom, np.full(n, code)]).ravel()[keep]
    return (np.repeat(times, 2)[keep], user, generation[keep], np.full(len(user), APPS.index(app)),
            np.full(len(user), code))


def drawn(people: Iterable[Person], users: dict[str, User], horizon: float, scripted: list[Send],
          groups: dict[str, list[str]] | None = None) -> Copies:
    """Every copy sent before ``horizon``, the ``scripted`` sends first at equal times, then
    the people's drawn traffic, person by person, app by app. ``groups``: each group's
    people, for mail to a group."""
    names: dict[str, int] = {}
    parts = [Copies.of_sends(scripted, names)]
    made: dict[str, Group] = {}
    for person in people:
        for a, app in enumerate(APPS):
            spec = getattr(person.traffic, app)
            if spec is None:
                continue
            rng = partial(person.rng, "traffic", a)  # the person's stream for the app, made on first use
            times = send_times(spec.every, rng, horizon)
            if isinstance(spec.to, Correspondents):
                if spec.to.group not in made:
                    made[spec.to.group] = Group((groups or {})[spec.to.group])
                to = correspondents(person, spec.to, made[spec.to.group])
            else:
                to = spec.to or []
            parts.append(copies(person.name, app, times, to, recipients(app, to, rng, len(times)), users, names))
    return Copies.of(parts, names)
