"""The one error of sweeps: a sweep that cannot run, resume or be charted as asked."""


class SweepError(ValueError):
    """A sweep that cannot run (or be charted) as asked; ``str()`` is one readable line."""
