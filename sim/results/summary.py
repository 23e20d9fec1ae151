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

from typing import Any

import numpy as np

from ..behaviour import RunRecord
from ..model import EA_USER
from .tables import LOST, READABLE, RECOVERABLE, GenerationRow, Outcomes


def summarise(outcomes: Outcomes, generations: list[GenerationRow], record: RunRecord) -> dict[str, Any]:
    n = len(outcomes.status)
    lost = outcomes.status == LOST
    exposed = outcomes.exposed_to != ""
    lost_gens = [g.user for g in generations if g.lost_at is not None]  # each lost one's user
    s = record.scenario
    return {
        "scenario": s.name, "seed": record.seed, "rep": record.rep, "horizon": s.horizon,
        "start_date": s.start_date.isoformat() if s.start_date else None,
        "post_quantum": s.post_quantum, "decrypt": record.decrypt,
        "argon2": {"memory_kib": s.argon2.memory_kib, "passes": s.argon2.passes, "lanes": s.argon2.lanes},
        "messages": n,
        "readable": int((outcomes.status == READABLE).sum()),
        "recoverable": int((outcomes.status == RECOVERABLE).sum()),
        "lost": int(lost.sum()),
        "fraction_lost": int(lost.sum()) / n if n else 0.0,
        "any_loss": bool(lost.any()),
        "first_loss_at": float(outcomes.lost_at[lost].min()) if lost.any() else None,
        "generations_lost": len(lost_gens) - lost_gens.count(EA_USER),
        "ea_generations_lost": lost_gens.count(EA_USER),
        "exposed": int(exposed.sum()),
        "fraction_exposed": int(exposed.sum()) / n if n else 0.0,
        **population(record.copies.user, record.copies.names, outcomes, list(s.people()), s.horizon),
        "ops": dict(sorted(record.account.crypto.ops.items())),
        "simpy_events": record.simpy_events,
    }


def quarter_days(horizon: float) -> list[int]:
    """The whole days at which the share of users with a loss is given: each quarter of the
    horizon, rounded half up, at least day 1, without repeats."""
    return list(dict.fromkeys(max(1, int(horizon * q / 4 + 0.5)) for q in range(1, 5)))


def population(user: np.ndarray, names: tuple[str, ...], outcomes: Outcomes, people: list[str],
               horizon: float) -> dict[str, Any]:
    """The population figures (module docstring) of ``people``, from each message's user
    (``names[user[n]]``) and outcome."""
    lost = outcomes.status == LOST
    sent = np.bincount(user, minlength=len(names))
    lost_by = np.bincount(user[lost], minlength=len(names))
    first_loss = np.full(len(names), np.inf)
    np.minimum.at(first_loss, user[lost], outcomes.lost_at[lost])
    exposed = np.bincount(user[outcomes.exposed_to != ""], minlength=len(names))
    code = {name: c for c, name in enumerate(names)}
    mine = [code[p] for p in people if p in code]  # people who received a copy
    users = len(people)

    def share(k: int) -> float:
        return k / users if users else 0.0

    losses = np.sort(first_loss[mine][np.isfinite(first_loss[mine])])
    fractions = np.array([lost_by[c] / sent[c] for c in mine if sent[c]])
    p50, p90 = np.percentile(fractions, [50, 90]).tolist() if len(fractions) else (None, None)
    return {
        "users": users,
        "users_with_loss": len(losses),
        "share_users_with_loss": share(len(losses)),
        "share_users_with_loss_by": {f"day_{d}": share(int(np.searchsorted(losses, d, side="right")))
                                     for d in quarter_days(horizon)},
        "user_fraction_lost_mean": float(fractions.mean()) if len(fractions) else None,
        "user_fraction_lost_p50": p50,
        "user_fraction_lost_p90": p90,
        "user_fraction_lost_max": float(fractions.max()) if len(fractions) else None,
        "users_exposed": int(np.count_nonzero(exposed[mine])),
        "share_users_exposed": share(int(np.count_nonzero(exposed[mine]))),
    }
