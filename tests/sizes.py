"""Which of scenarios/*.yaml the per-scenario test loops run (golden digests, per-message
against per-generation decryption, a run freed when dropped, the benchmarks' unit costs).

A scenario whose first line is ``# size: large`` (a population of hundreds of people) is
left out of those loops: it runs in its own tests with a short horizon
(tests/test_scenarios.py) and in full under ``pytest -m slow``. Every other scenario must
stay small (tests/test_scenarios.py checks at most :data:`SMALL_PEOPLE` people), so that no
large scenario slips into the loops unmarked.
"""

from __future__ import annotations

from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
LARGE = "# size: large"
SMALL_PEOPLE = 50


def is_large(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        return f.readline().startswith(LARGE)


def included() -> list[Path]:
    """The scenarios of the per-scenario loops: every one not marked large."""
    return [p for p in sorted(SCENARIOS.glob("*.yaml")) if not is_large(p)]


def large() -> list[Path]:
    return [p for p in sorted(SCENARIOS.glob("*.yaml")) if is_large(p)]
