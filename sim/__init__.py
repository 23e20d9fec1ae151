"""dmesim: a discrete-event simulator of Zoom Device Managed Encryption, on real keys.

``sim.run(scenario, seed=…)`` simulates one history and returns a
:class:`~sim.results.Result`; ``sim.sweep(scenario, reps=…, vary=…)`` runs
Monte Carlo replications over a grid of overrides and returns a DataFrame;
``sim.plots`` draws both.
"""

from importlib import import_module
from typing import Any

from .results import run
from .sweeps import sweep

__all__ = ["plots", "run", "sweep"]


def __getattr__(name: str) -> Any:
    """``sim.plots`` on first use: ``import sim`` does not load matplotlib."""
    if name == "plots":
        return import_module(".plots", __name__)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
