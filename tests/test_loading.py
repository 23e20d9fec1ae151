"""sim.scenario.loading: load() and validate(), a file or a mapping as a Scenario."""

from __future__ import annotations

import yaml

from helpers import SCENARIOS
from sim.scenario import load, validate


def test_the_readme_example_scenario_validates() -> None:
    readme = (SCENARIOS.parent / "README.md").read_text()
    example = readme.split("## Scenario files", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    s = validate(yaml.safe_load(example), "README.md")
    assert [u.name for u in s.users] == ["alice", "bob"] and s.timeline


def test_a_file_is_loaded_with_its_overrides() -> None:
    s = load(SCENARIOS / "help_article.yaml", {"horizon": "11d", "seed": 5})
    assert (s.horizon, s.seed) == (11.0, 5)
    assert load(SCENARIOS / "help_article.yaml").horizon == 60.0
