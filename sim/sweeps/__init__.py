"""Monte Carlo sweeps: replications over a grid of scenario overrides, on any executor.

``runner``     sweep(): the grid, the batches, resume; run_batch(), what a worker runs
``table``      the tidy table: id and parameter columns, labels, summary figures
``executors``  in-process, process pools and dask.distributed; batches as they finish
``store``      the output folder: manifest, shards, traces, the table; read_sweep()
``stopping``   --ci: rounds until each grid point's Wilson half-width reaches the target
``errors``     SweepError

Other layers import from here, not from the modules.
"""

from .errors import SweepError
from .executors import QUIET_CLUSTER, default_batch_size, local_cluster
from .runner import run_batch, scenario_data, sweep
from .stopping import MAX_REPS, ROUND, check_ci, half_width
from .store import MANIFEST, read_sweep, read_traces
from .table import short_paths, summary_row

__all__ = ["MANIFEST", "MAX_REPS", "QUIET_CLUSTER", "ROUND", "SweepError", "check_ci",
           "default_batch_size", "half_width", "local_cluster", "read_sweep", "read_traces", "run_batch", "scenario_data",
           "short_paths", "summary_row", "sweep"]
