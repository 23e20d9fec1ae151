"""Validation is linear in the file: a scenario with a long timeline validates in about the
time it takes to parse its YAML, not in a time that grows with the square of its events.

Writes a scenario of N timeline events (default 50,000; about 3 MB) to a temporary folder,
then times, in one run: parsing its YAML alone (``yaml.load`` with PyYAML's SafeLoader,
the C loader where there is one, as a baseline), reading it as scenario files are read
(:func:`sim.scenario.read_yaml`), and the whole of ``load()`` (reading plus validation).
What is printed is the times and their ratio to the bare parse; no target is asserted.

    python bench/validate_large.py [--events 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sim.scenario import load, read_yaml


def scenario_data(events: int) -> dict[str, Any]:
    """A valid scenario of ``events`` scripted events: alice's phone going online and offline,
    with approvals, revocations, mail and named backup keys mixed in."""
    timeline: list[dict[str, str]] = []
    for i in range(events):
        at = f"{i % 36000}d"
        if i % 10 == 7:
            timeline.append({"at": at, "action": "send", "user": "alice", "app": "mail", "to": "bob"})
        elif i % 100 == 3:
            timeline.append({"at": at, "action": "create_backup_key", "user": "alice", "by": "phone",
                             "name": f"b{i}"})
        elif i % 100 == 13:
            timeline.append({"at": at, "action": "approve", "user": "bob", "by": "phone"})
        elif i % 100 == 23:
            timeline.append({"at": at, "action": "revoke", "user": "alice", "device": "laptop", "by": "web"})
        else:
            timeline.append({"at": at, "action": "online" if i % 2 == 0 else "offline", "user": "alice",
                             "device": "phone"})
    return {"name": "validate-large", "horizon": "100y",
            "users": [{"name": "alice", "devices": [{"name": "phone"}, {"name": "laptop", "kind": "laptop"}]},
                      {"name": "bob", "devices": [{"name": "phone"}]}],
            "timeline": timeline}


def scenario_yaml(events: int) -> str:
    """:func:`scenario_data` as a file would write it: one line per event."""
    data = scenario_data(events)
    lines = [yaml.safe_dump({k: v for k, v in data.items() if k != "timeline"}, sort_keys=False).strip(),
             "timeline:"]
    lines += [f"  - {{{', '.join(f'{k}: {v}' for k, v in e.items())}}}" for e in data["timeline"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large_timeline.yaml"
        text = scenario_yaml(args.events)
        path.write_text(text)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        t0 = time.perf_counter()
        yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader
        t1 = time.perf_counter()
        yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - a SafeLoader
        t2 = time.perf_counter()
        read_yaml(path)
        t3 = time.perf_counter()
        s = load(path)
        t4 = time.perf_counter()
    assert len(s.timeline) == args.events
    base = t2 - t1
    print(f"{args.events:,} timeline events, {len(text.encode()) / 1e6:.1f} MB")
    print(f"  parse, {loader.__name__:<16} {t1 - t0:8.2f} s")
    print(f"  parse, SafeLoader        {base:8.2f} s   1.00 (the baseline)")
    print(f"  read_yaml (its checks)   {t3 - t2:8.2f} s  {(t3 - t2) / base:5.2f}")
    print(f"  load (read + validate)   {t4 - t3:8.2f} s  {(t4 - t3) / base:5.2f}")
    print(f"  validation alone         {(t4 - t3) - (t3 - t2):8.2f} s  {((t4 - t3) - (t3 - t2)) / base:5.2f}")


if __name__ == "__main__":
    main()
