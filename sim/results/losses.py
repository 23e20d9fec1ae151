"""Availability and loss (docs/model.md §12 Losses): when each holder stopped being
available, and when each generation was lost: the first time no available holder of it
remained. An escrow device is available while the escrow admins still hold the EA
generation its blob is sealed to."""

from __future__ import annotations

from ..model import EA_USER, ESCROW, Account, User


class Losses:
    """Loss times read from an account's final state."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._gen: dict[tuple[str, int], tuple[float | None, str]] = {}

    def _user(self, user_id: str) -> User:
        return self.account.ea if user_id == EA_USER else self.account.users[user_id]  # type: ignore[return-value]

    def holder_gone(self, user_id: str, name: str) -> tuple[float | None, str]:
        """(time the holder stopped being available, why); (None, "") if still available."""
        d = self._user(user_id).devices[name]
        when, why = d.gone_at, f"{name} {d.gone_cause}" if d.gone_at is not None else ""
        if d.kind == ESCROW and d.escrow_blob is not None:
            ea_lost, ea_why = self.generation_lost(EA_USER, d.escrow_blob.ea_generation)
            if ea_lost is not None and (when is None or ea_lost < when):
                when, why = ea_lost, f"escrow unreachable: EA generation {d.escrow_blob.ea_generation} lost ({ea_why})"
        return when, why

    def generation_lost(self, user_id: str, g: int) -> tuple[float | None, str]:
        """Time the last available holder of generation ``g`` vanished, and the cause."""
        key = (user_id, g)
        if key not in self._gen:
            u = self._user(user_id)
            last: tuple[float | None, str] = (float("-inf"), "")
            for h in u.holders(g):
                when, why = self.holder_gone(user_id, h)
                if when is None:
                    last = (None, "")
                    break
                when = max(when, u.boxes[(g, h)].created_at)
                if last[0] is not None and when >= last[0]:
                    last = (when, why)
            self._gen[key] = last if last[0] != float("-inf") else (None, "")
        return self._gen[key]
