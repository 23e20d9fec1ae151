"""sim.scenario.loading: load() and validate(), a file or a mapping as a Scenario."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import SCENARIOS
from sim.scenario import ScenarioError, load, validate


def test_the_readme_example_scenario_validates() -> None:
    readme = (SCENARIOS.parent / "README.md").read_text()
    example = readme.split("## Scenario files", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    s = validate(yaml.safe_load(example), "README.md")
    assert [u.name for u in s.users] == ["alice", "bob"] and s.timeline


def test_a_file_is_loaded_with_its_overrides() -> None:
    s = load(SCENARIOS / "help_article.yaml", {"horizon": "11d", "seed": 5})
    assert (s.horizon, s.seed) == (11.0, 5)
    assert load(SCENARIOS / "help_article.yaml").horizon == 60.0


POPULATION = """
horizon: 30d
users:
  - {name: boss, group: staff, devices: [{name: phone}]}
  - {name: "emp{i:03}", count: 12, group: staff, devices: [{name: phone}, {name: laptop}]}
  - {name: "guest{i}", count: 2, devices: [{name: phone}]}
timeline:
  - {at: 1d, action: lose, user: emp007, device: laptop}
  - {at: 2d, action: create_backup_key, user: guest2, by: phone, name: paper}
"""


def test_an_entry_with_count_stands_for_that_many_people_in_file_order() -> None:
    s = validate(yaml.safe_load(POPULATION), "p.yaml")
    people = s.people()
    assert list(people) == ["boss", *(f"emp{i:03}" for i in range(1, 13)), "guest1", "guest2"]
    assert people["emp012"] is s.users[1] and people["guest1"] is s.users[2]
    assert s.users[1].names()[-1] == "emp012" and s.users[0].names() == ["boss"]
    assert s.groups() == {"staff": ["boss", *(f"emp{i:03}" for i in range(1, 13))]}
    assert len(s.users) == 3  # the file's entries: overrides and sweeps address them (users.1.count)


def test_the_timeline_names_anyone_of_a_population() -> None:
    from sim.results import run

    r = run(validate(yaml.safe_load(POPULATION), "p.yaml"))
    lost = r.devices[r.devices["lost_at"].notna()]
    assert list(zip(lost["user"], lost["device"], lost["lost_at"], strict=True)) == [("emp007", "laptop", 1.0)]
    assert "paper" in set(r.devices[r.devices["user"] == "guest2"]["device"])


def test_a_population_is_resized_by_an_override(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(POPULATION)
    assert len(load(f, {"users.1.count": 7}).people()) == 10
    with pytest.raises(ScenarioError, match=r"timeline\[0\].user: unknown user .emp007."):
        load(f, {"users.1.count": 6})
