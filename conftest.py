"""Test-run settings shared by the tests and the notebooks (nbmake kernels inherit the
environment): notebooks read their sizes from DMESIM_NB_REPS, kept small here."""

import os

os.environ.setdefault("DMESIM_NB_REPS", "3")
