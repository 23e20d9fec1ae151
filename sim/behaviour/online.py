"""Online sessions (docs/model.md §14 Behaviour): when a device is online, a lazily drawn
schedule of sessions.

Sessions are drawn from the device's own stream only as far as someone asks,
so a device that nobody waits for costs no simulation events. Scripted
``online``/``offline`` events override the pattern: ``online`` keeps the device
online until a later ``offline``; ``offline`` ends the current session (and,
for an always-online device, keeps it offline until a later ``online``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np

Draw = Callable[[int], np.ndarray]  # n draws at once, in days

_BLOCK = 64  # sessions drawn per block: vectorised draws, the same sequence whatever the queries


class OnlineSchedule:
    """Sessions of one device from ``start``: ``always``, ``never`` or gaps/lengths."""

    def __init__(self, start: float, pattern: str, gap: Draw | None = None,
                 length: Draw | None = None) -> None:
        self.pattern = pattern  # "always" | "never" | "sessions"
        self._gap, self._length = gap, length
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._frontier = start  # sessions are drawn up to here
        self._manual: list[tuple[float, bool]] = []  # scripted (time, online)
        self._used_at: float | None = None  # the last time the person used it for an action

    def set(self, at: float, online: bool) -> None:
        """A scripted ``online``/``offline`` at time ``at`` (not earlier than the last one)."""
        self._manual.append((at, online))

    def used(self, at: float) -> None:
        """The person used the device at ``at`` (to approve, say): it is online then."""
        self._used_at = at

    def _draw_until(self, t: float) -> None:
        assert self._gap is not None and self._length is not None
        while self._frontier <= t:
            gaps, lengths = self._gap(_BLOCK), self._length(_BLOCK)
            ends = self._frontier + np.cumsum(gaps + lengths)
            self._starts.extend((ends - lengths).tolist())
            self._ends.extend(ends.tolist())
            self._frontier = self._ends[-1]

    def next_online(self, t: float) -> float | None:
        """The earliest time ≥ ``t`` the device is online, given what is scripted so far;
        None if it never will be."""
        if t == self._used_at:
            return t
        manual = None
        for at, online in reversed(self._manual):
            if at <= t:
                manual = (at, online)
                break
        if manual is not None and manual[1]:
            return t
        if self.pattern == "always":
            return None if manual is not None else t
        if self.pattern == "never":
            return None
        cut = manual[0] if manual is not None else float("-inf")
        while True:
            self._draw_until(t)
            i = bisect.bisect_right(self._ends, t)  # first session ending after t
            while i < len(self._starts):
                s, e = self._starts[i], self._ends[i]
                if s <= cut < e:  # this session was ended by a scripted offline
                    i += 1
                    continue
                return max(s, t)
            self._draw_until(self._frontier)
