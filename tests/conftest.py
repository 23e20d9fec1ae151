"""Fixtures shared by several test files: a small sweep, run once, and a made-up sweep table."""

from __future__ import annotations

import pandas as pd
import pytest

import sim
from helpers import RISK, SMALL, sweep_table


@pytest.fixture(scope="session")
def serial() -> pd.DataFrame:
    """risk_policy over two backup policies, four replications each, run in this process."""
    return sim.sweep(RISK, **SMALL)


@pytest.fixture
def df() -> pd.DataFrame:
    """A sweep table of three grid points with known losses (helpers.sweep_table)."""
    return sweep_table()
