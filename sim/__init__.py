"""dmesim: a discrete-event simulator of Zoom Device Managed Encryption, on real keys.

``sim.run(scenario, seed=…)`` simulates one history and returns a
:class:`~sim.analysis.Result`; ``sim.sweep(scenario, reps=…, vary=…)`` runs
Monte Carlo replications over a grid of overrides and returns a DataFrame;
``sim.plots`` draws both.
"""

from .runner import sweep
from .simulation import run

__all__ = ["run", "sweep"]
