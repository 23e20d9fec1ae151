"""Monte Carlo sweeps: replications over a grid of scenario overrides, on any executor.

``runner``     sweep(): the grid, the batches, resume; run_batch(), what a worker runs
``table``      the tidy table: id and parameter columns, labels, summary figures
``executors``  in-process, process pools and dask.distributed; batches as they finish
``store``      the output folder: manifest, shards, traces, the table; read_sweep()
``errors``     SweepError

Other layers import from here, not from the modules.
"""

from .errors import SweepError
from .executors import QUIET_CLUSTER, default_batch_size, local_cluster
from .runner import run_batch, scenario_data, sweep
from .store import MANIFEST, read_sweep, read_traces
from .table import short_paths, summary_row

__all__ = ["MANIFEST", "QUIET_CLUSTER", "SweepError", "default_batch_size", "local_cluster",
           "read_sweep", "read_traces", "run_batch", "scenario_data", "short_paths", "summary_row",
           "sweep"]
