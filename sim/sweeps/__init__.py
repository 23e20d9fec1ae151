"""Monte Carlo sweeps: replications over a grid of scenario overrides, on any executor."""
