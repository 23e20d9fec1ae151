"""sim.scenario.durations: durations with units, and the distributions of random durations."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from helpers import HEAD, USERS, refused_with_one_line
from sim.scenario import Normal, duration_text, parse_duration


def test_normal_durations_are_truncated_at_zero_not_clipped() -> None:
    d = Normal.model_validate({"normal": {"mean": "1d", "sd": "2d"}})
    x = d.sample_many(np.random.default_rng(0), 20000)
    assert (x > 0).all()
    truncated = stats.truncnorm(-0.5, np.inf, loc=1, scale=2)
    assert abs(x.mean() - truncated.mean()) < 0.05
    assert stats.kstest(x, truncated.cdf).pvalue > 1e-3


# Files refused for a duration or a distribution: one line, exit status 2
BAD = {
    "negative duration": ("horizon: 30d\nusers: [{name: a, devices: [{name: p, joins_at: -3d}]}]\n",
                          "users[0].devices[0].joins_at.fixed: duration '-3d' is negative"),
    "unit-less duration": ("horizon: 30\nusers: [{name: a, devices: [{name: p}]}]\n",
                           "horizon: duration 30 has no unit"),
    "infinite duration": ("horizon: 1" + "0" * 400 + "d\n" + USERS,
                          "horizon: the duration is too large (found '1000"),
    "infinite sigma": (HEAD + USERS + "traffic: {voicemail: {every: {lognormal: {median: 1d, sigma: .inf}}}}\n",
                       "sigma: Input should be less than or equal to 10"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_refused_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    refused_with_one_line(tmp_path, *BAD[case], command)


def test_durations_are_read_in_days_and_written_back_in_the_shortest_unit() -> None:
    assert [parse_duration(t) for t in ("90d", "1d12h", "2w", "1y", "12h", " 1.5d ", ".5h")] == [
        90.0, 1.5, 14.0, 365.0, 0.5, 1.5, 1 / 48]
    assert [duration_text(d) for d in (90.0, 1.5, 1 / 1440, 0.1)] == ["90d", "36h", "1min", "144min"]
    for days in (0.1, 1 / 3, 1e-9, 36500.0):
        assert parse_duration(duration_text(days)) == days


@pytest.mark.parametrize(("text", "problem"), [
    ("30m", "'m' is ambiguous: write minutes as 'min' (e.g. '30min'); for months write days, e.g. '90d'"),
    ("1d2M", "'m' is ambiguous"),
    ("3mo", "months are not a unit (they differ in length): write days or years, e.g. '90d' or '0.25y'"),
    ("6 months", "months are not a unit"),
    ("1month", "months are not a unit"),
    (float("nan"), "expected a duration like '30d', found nan (not a number of days)"),
    (float("inf"), "expected a duration like '30d', found inf (not a number of days)"),
])
def test_units_without_ambiguity(text: object, problem: str) -> None:
    """Minutes are ``min``; a bare ``m`` and months are refused with a hint."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_duration(text)
    assert parse_duration("30min") == pytest.approx(30 / 1440) and parse_duration("1d30min") == pytest.approx(1 + 30 / 1440)
