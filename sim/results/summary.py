"""The summary of one replication (README, *Results*): counts per status, first loss,
generations lost, exposure, and the operations the run performed."""

from __future__ import annotations

from typing import Any

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
        "ops": dict(sorted(record.account.crypto.ops.items())),
        "simpy_events": record.simpy_events,
    }
