"""The summary of one replication (README, *Results*): counts per status, first loss,
generations lost, exposure, the population figures, and the operations the run performed.

**Population figures** are per person of the scenario (each of the people a ``users`` entry
stands for; not the escrow admins), from the messages table: ``users``; ``users_with_loss``
(a message of theirs lost), its share, and that share by day t at each quarter of the
horizon (``share_users_with_loss_by``: ``{"day_91": …}`` for a year; whole days, at least 1,
the loss at or before that day); the distribution of each user's fraction of messages lost
over the users with a message (``user_fraction_lost_mean``, ``_p50``, ``_p90`` with linear
interpolation, ``_max``; None without any message); ``users_exposed`` (a message of theirs
an adversary decrypts) and its share. All are numbers (a sweep makes each a column).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..behaviour import RunRecord
from ..model import EA_USER
from .tables import GenerationRow, MessageRow


def summarise(messages: list[MessageRow], generations: list[GenerationRow],
              record: RunRecord) -> dict[str, Any]:
    n = len(messages)
    lost_at = [m.lost_at for m in messages if m.status == "lost" and m.lost_at is not None]
    readable = sum(m.status == "readable" for m in messages)
    recoverable = sum(m.status == "recoverable" for m in messages)
    exposed = sum(bool(m.exposed_to) for m in messages)
    lost_gens = [g.user for g in generations if g.lost_at is not None]  # each lost one's user
    s = record.scenario
    return {
        "scenario": s.name, "seed": record.seed, "rep": record.rep, "horizon": s.horizon,
        "start_date": s.start_date.isoformat() if s.start_date else None,
        "post_quantum": s.post_quantum, "decrypt": record.decrypt,
        "argon2": {"memory_kib": s.argon2.memory_kib, "passes": s.argon2.passes, "lanes": s.argon2.lanes},
        "messages": n,
        "readable": readable,
        "recoverable": recoverable,
        "lost": len(lost_at),
        "fraction_lost": len(lost_at) / n if n else 0.0,
        "any_loss": bool(lost_at),
        "first_loss_at": float(min(lost_at)) if lost_at else None,
        "generations_lost": len(lost_gens) - lost_gens.count(EA_USER),
        "ea_generations_lost": lost_gens.count(EA_USER),
        "exposed": exposed,
        "fraction_exposed": exposed / n if n else 0.0,
        **population(messages, list(s.people()), s.horizon),
        "ops": dict(sorted(record.account.crypto.ops.items())),
        "simpy_events": record.simpy_events,
    }


def quarter_days(horizon: float) -> list[int]:
    """The whole days at which the share of users with a loss is given: each quarter of the
    horizon, rounded half up, at least day 1, without repeats."""
    return list(dict.fromkeys(max(1, int(horizon * q / 4 + 0.5)) for q in range(1, 5)))


def population(messages: list[MessageRow], people: list[str], horizon: float) -> dict[str, Any]:
    """The population figures (module docstring) of ``people``, from the messages table."""
    mine = set(people)
    sent: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    first_loss: dict[str, float] = {}
    exposed: set[str] = set()
    for m in messages:
        if m.user not in mine:
            continue
        sent[m.user] += 1
        if m.status == "lost" and m.lost_at is not None:
            lost[m.user] += 1
            first_loss[m.user] = min(m.lost_at, first_loss.get(m.user, m.lost_at))
        if m.exposed_to:
            exposed.add(m.user)
    users = len(people)

    def share(k: int) -> float:
        return k / users if users else 0.0

    losses = sorted(first_loss.values())
    fractions = np.array([lost[u] / sent[u] for u in people if sent[u]])
    p50, p90 = np.percentile(fractions, [50, 90]).tolist() if len(fractions) else (None, None)
    return {
        "users": users,
        "users_with_loss": len(first_loss),
        "share_users_with_loss": share(len(first_loss)),
        "share_users_with_loss_by": {f"day_{d}": share(int(np.searchsorted(losses, d, side="right")))
                                     for d in quarter_days(horizon)},
        "user_fraction_lost_mean": float(fractions.mean()) if len(fractions) else None,
        "user_fraction_lost_p50": p50,
        "user_fraction_lost_p90": p90,
        "user_fraction_lost_max": float(fractions.max()) if len(fractions) else None,
        "users_exposed": len(exposed),
        "share_users_exposed": share(len(exposed)),
    }
