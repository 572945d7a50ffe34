"""Cross-file checks of a drill: scenario files exist, load, and have every cluster bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.scenario import references
from tests.scenario.files import DRILL, SCENARIO, write


def test_a_drill_and_its_scenarios_load(tmp_path: Path) -> None:
    write(tmp_path, "small.yaml", SCENARIO)
    drill, scenarios = references.check_drill(write(tmp_path, "d.yaml", DRILL))
    assert drill.name == "small-drill"
    assert [s.name for s in scenarios] == ["small"]


def test_scenario_paths_are_relative_to_the_drill(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "drills").mkdir()
    write(tmp_path / "scenarios", "small.yaml", SCENARIO)
    text = DRILL.replace("path: small.yaml", "path: ../scenarios/small.yaml")
    _, scenarios = references.check_drill(write(tmp_path / "drills", "d.yaml", text))
    assert scenarios[0].name == "small"


def test_a_missing_scenario_file_is_located_in_the_drill(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        references.check_drill(write(tmp_path, "d.yaml", DRILL))
    (issue,) = err.value.issues
    assert (issue.line, issue.column, issue.field) == (7, 13, "spec.scenarios[0].path")
    assert issue.message == f"no such file: {tmp_path / 'small.yaml'}"


def test_an_unbound_cluster_is_reported_at_targets(tmp_path: Path) -> None:
    write(tmp_path, "small.yaml", SCENARIO)
    text = DRILL.replace("    west:\n      kubernetes: {context: west}\n", "")
    with pytest.raises(InvalidInputError) as err:
        references.check_drill(write(tmp_path, "d.yaml", text))
    (issue,) = err.value.issues
    assert (issue.line, issue.column, issue.field) == (8, 3, "spec.targets")
    assert issue.message == (
        "scenario 'small' (small.yaml) uses cluster 'west', which spec.targets does not bind"
    )


def test_issues_of_every_file_are_raised_together(tmp_path: Path) -> None:
    write(tmp_path, "small.yaml", SCENARIO.replace("rto: 5m", "rto: soon"))
    text = DRILL.replace(
        "    - path: small.yaml\n", "    - path: small.yaml\n    - path: gone.yaml\n"
    ).replace("url: http://prometheus:9090", "url: http://prometheus:9090\n    timeout: never")
    with pytest.raises(InvalidInputError) as err:
        references.check_drill(write(tmp_path, "d.yaml", text))
    # the drill's own model error comes first and alone: references need a valid drill
    assert [(Path(i.file).name, i.field) for i in err.value.issues] == [
        ("d.yaml", "spec.prometheus.timeout")
    ]
    text = text.replace("\n    timeout: never", "")
    with pytest.raises(InvalidInputError) as err:
        references.check_drill(write(tmp_path, "d.yaml", text))
    assert [(Path(i.file).name, i.line, i.field) for i in err.value.issues] == [
        ("small.yaml", 26, "spec.objectives.rto"),
        ("d.yaml", 8, "spec.scenarios[1].path"),
    ]


def test_a_scenario_named_twice_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path, "small.yaml", SCENARIO.replace("rto: 5m", "rto: soon"))
    text = DRILL.replace(
        "    - path: small.yaml\n", "    - path: small.yaml\n    - path: ./small.yaml\n"
    )
    cache: references.ScenarioCache = {}
    with pytest.raises(InvalidInputError) as err:
        references.check_drill(write(tmp_path, "d.yaml", text), cache=cache)
    assert len(err.value.issues) == 1
    assert list(cache) == [(tmp_path / "small.yaml").resolve()]


def test_a_scenario_file_given_as_a_drill_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="expected 'Drill', got 'Scenario'"):
        references.check_drill(write(tmp_path, "small.yaml", SCENARIO))
