"""Stopping when the answer is known (``--ci``): replications in rounds until each grid
point's 95% Wilson half-width on P(any loss) is at most the target.

The rule (README *Sweeps*):

- Round ``j`` runs replications ``j·R … (j+1)·R − 1`` of every grid point still running
  (``R``: ``--reps``, else the file's ``sweep.reps``, else :data:`ROUND`), never past
  ``--max-reps`` (default :data:`MAX_REPS`) per point: the last round may be shorter.
- After a round, a point stops once the Wilson half-width of its ``k`` losses in its ``n``
  replications, ``z/(1 + z²/n) · √(p(1−p)/n + z²/4n²)`` with ``p = k/n`` and ``z`` the
  normal quantile of 0.975, is at most the target, or once it holds ``--max-reps``.
- The decision reads whole rounds only: which replications a point holds is a function of
  the replications' outcomes, not of the executor, the batches or the order they finish
  in, and a resume replays it from the shards saved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from .errors import SweepError

ROUND = 200  # replications per grid point per round: at 0 or 1 loss in 200, the half-width is 0.0094
MAX_REPS = 10_000  # per grid point: enough for ±0.01 at any P (the worst, P = ½, needs 9 601)
CONFIDENCE = 0.95


def half_width(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """Half the width of the Wilson score interval of ``k`` successes in ``n`` trials
    (before it is clipped to [0, 1]); infinite for ``n = 0``."""
    if n <= 0:
        return math.inf
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    return z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))


def check_ci(ci: float) -> float:
    """``ci`` as a target half-width, or :class:`SweepError` (it must lie strictly between
    0 and 0.5: every Wilson half-width is below 0.5)."""
    try:
        value = float(ci)
    except (TypeError, ValueError):
        raise SweepError(f"--ci {ci!r}: expected a number between 0 and 0.5, e.g. 0.01") from None
    if not 0 < value < 0.5:  # NaN fails too
        raise SweepError(f"--ci {value:g}: the target half-width must be more than 0 and less than 0.5 "
                         "(e.g. 0.01 for ±1 percentage point)")
    return value


@dataclass(frozen=True)
class Stop:
    """The stopping rule of a sweep: target half-width, round size, cap per grid point."""

    ci: float
    round: int
    max_reps: int

    def next_reps(self, held: int) -> range:
        """The replications of the next round of a point that holds ``held``."""
        return range(held, min(held + self.round, self.max_reps))

    def done(self, losses: int, held: int) -> bool:
        """Does a point with ``losses`` in ``held`` replications (whole rounds) stop?"""
        return held >= self.max_reps or half_width(losses, held) <= self.ci

    def record(self) -> dict[str, Any]:
        """What the manifest records (the round size is its ``reps``)."""
        return {"ci": self.ci, "max_reps": self.max_reps, "confidence": CONFIDENCE}


def stop_problem(old: dict[str, Any], stop: Stop | None) -> str | None:
    """Why a sweep saved with the manifest ``old`` cannot be resumed with ``stop``, or None.

    The saved rule's replications must be a part of the new one's: the same round size, a
    target as tight or tighter (a point that stopped would have continued at least as long),
    a cap as high or higher."""
    saved = old.get("stop")
    if saved is None and stop is None:
        return None
    if saved is None:
        return (f"it holds a sweep of a fixed {old['reps']} replications per grid point; resume it "
                "without --ci, or choose another --out")
    if stop is None:  # pragma: no cover - the runner takes the saved rule then
        return "it holds a sweep that stops at a target half-width; resume it with --ci"
    if stop.round != old["reps"]:
        return (f"it holds a sweep in rounds of {old['reps']} replications per grid point; resume with "
                f"--reps {old['reps']} (or without --reps), not {stop.round}")
    if stop.ci > saved["ci"]:
        return (f"it holds a sweep to ±{saved['ci']:g}; resume with --ci {saved['ci']:g} or smaller, "
                f"not {stop.ci:g}")
    if stop.max_reps < saved["max_reps"]:
        return (f"it holds a sweep capped at {saved['max_reps']} replications per grid point; resume with "
                f"--max-reps {saved['max_reps']} or more, not {stop.max_reps}")
    return None


def manifest_stop_problem(m: dict[str, Any]) -> str | None:
    """What makes the ``stop`` entry of a manifest unusable, or None."""
    stop = m.get("stop")
    if stop is None:
        return None
    if not isinstance(stop, dict):
        return "stop is not an object"
    ci, cap = stop.get("ci"), stop.get("max_reps")
    if type(ci) is not float or not 0 < ci < 0.5:
        return f"stop.ci is {ci!r}, not a half-width between 0 and 0.5"
    if type(cap) is not int or cap < 1:
        return f"stop.max_reps is {cap!r}, not a positive count"
    return None
