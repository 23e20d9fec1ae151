"""Golden tables: every included scenario's tables at three seeds, as SHA-256 digests.

A change that is meant to leave results alone (a restructure, a speed-up) must leave
every digest as it is. A change that alters a table on purpose re-records the digests
in the same commit (``python tests/test_golden.py``) and says why in its message.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import sim  # noqa: E402
from sizes import included  # noqa: E402

SCENARIOS = ROOT / "scenarios"
GOLDEN = Path(__file__).resolve().parent / "golden_digests.json"
SEEDS = (1, 2, 3)
TABLES = ("messages", "devices", "events", "holders", "generations")


def digests(path: Path, seed: int) -> dict[str, str]:
    """SHA-256 of each table's CSV and of the summary (its SimPy event count aside: how
    many events the engine takes is not a result)."""
    result = sim.run(path, seed=seed)
    out = {name: hashlib.sha256(getattr(result, name).to_csv(index=False).encode()).hexdigest()
           for name in TABLES}
    summary = {k: v for k, v in result.summary.items() if k != "simpy_events"}
    out["summary"] = hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode()).hexdigest()
    return out


def cases() -> list[tuple[str, int]]:
    return [(p.stem, seed) for p in included() for seed in SEEDS]  # large ones aside (tests/sizes.py)


@pytest.mark.parametrize(("scenario", "seed"), cases())
def test_tables_unchanged(scenario: str, seed: int) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert digests(SCENARIOS / f"{scenario}.yaml", seed) == golden[f"{scenario}@{seed}"]


if __name__ == "__main__":
    record = {f"{name}@{seed}": digests(SCENARIOS / f"{name}.yaml", seed) for name, seed in cases()}
    GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(record)} digests in {GOLDEN}")
