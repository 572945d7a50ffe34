"""Model errors mapped to exact file positions, field paths and plain messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError, Issue
from runner.scenario import loader
from tests.scenario.files import SCENARIO, write


def _issues(tmp_path: Path, text: str) -> list[Issue]:
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(write(tmp_path, "s.yaml", text))
    return err.value.issues


def _one(tmp_path: Path, old: str, new: str) -> Issue:
    assert old in SCENARIO
    (issue,) = _issues(tmp_path, SCENARIO.replace(old, new, 1))
    assert issue.file.endswith("s.yaml")
    return issue


def test_the_small_scenario_loads(tmp_path: Path) -> None:
    scenario = loader.load_scenario(write(tmp_path, "s.yaml", SCENARIO))
    assert scenario.name == "small"
    assert scenario.spec.objectives.rto is not None
    assert scenario.spec.objectives.rto.total_seconds() == 300


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        pytest.param(
            "rto: 5m",
            "rto: fast",
            (26, 10, "spec.objectives.rto"),
            "expected a duration like '5m', '30s' or '1h30m', got 'fast'",
            id="duration",
        ),
        pytest.param(
            "duration: 1m",
            "duration: 60",
            (17, 17, "spec.faults[0].duration"),
            "expected a duration like '5m', got 60",
            id="duration-number",
        ),
        pytest.param(
            '      expect: ">= 1"',
            '      expect: ">= 1"\n      windw: 30s',
            (13, 7, "spec.steadyState[0].windw"),
            "unknown field 'windw' (did you mean 'window'?)",
            id="unknown-field",
        ),
        pytest.param(
            "  objectives:",
            "  objectivs:",
            (25, 3, "spec.objectivs"),
            "unknown field 'objectivs' (did you mean 'objectives'?)",
            id="unknown-top",
        ),
        pytest.param(
            "type: cluster-loss",
            "type: cluster-los",
            (15, 13, "spec.faults[0].type"),
            "expected one of cluster-loss, network-partition, replication-lag, pod-kill, "
            "chaos-mesh, got 'cluster-los' (did you mean 'cluster-loss'?)",
            id="fault-type",
        ),
        pytest.param(
            "action: scale",
            "action: scael",
            (21, 17, "spec.failover.steps[0].action"),
            "(did you mean 'scale'?)",
            id="step-action",
        ),
        pytest.param(
            "      type: cluster-loss\n",
            "",
            (14, 7, "spec.faults[0].type"),
            "missing required field; one of cluster-loss, network-partition, "
            "replication-lag, pod-kill, chaos-mesh",
            id="no-fault-type",
        ),
        pytest.param(
            "      duration: 1m\n",
            "",
            (14, 7, "spec.faults[0].duration"),
            "missing required field 'duration'",
            id="missing-field",
        ),
        pytest.param(
            "name: small",
            "name: Small_One",
            (4, 9, "metadata.name"),
            "expected a name of a-z, 0-9 and '-' (at most 63 characters), got 'Small_One'",
            id="name-pattern",
        ),
        pytest.param(
            "replicas: 2",
            "replicas: -1",
            (24, 19, "spec.failover.steps[0].replicas"),
            "expected a number >= 0, got -1",
            id="negative",
        ),
        pytest.param(
            "replicas: 2",
            "replicas: two",
            (24, 19, "spec.failover.steps[0].replicas"),
            "expected a whole number, got 'two'",
            id="not-int",
        ),
        pytest.param(
            'expect: ">= 1"',
            "expect: [1]",
            (12, 15, "spec.steadyState[0].expect"),
            "expected a comparison like '>= 0.99' or '< 5m', got [1]",
            id="comparison",
        ),
        pytest.param(
            "target: {kind: Deployment, name: app}",
            "target: app",
            (23, 17, "spec.failover.steps[0].target"),
            "expected a mapping, got 'app'",
            id="not-a-mapping",
        ),
        pytest.param(
            "  clusters:\n    - name: east\n    - name: west\n",
            "  clusters: []\n",
            (6, 13, "spec.clusters"),
            "expected at least 1 item(s), got a list",
            id="empty-list",
        ),
        pytest.param(
            "apiVersion: drill-runner.dev/v1alpha1",
            "apiVersion: v1",
            (1, 13, "apiVersion"),
            "expected 'drill-runner.dev/v1alpha1', got 'v1'",
            id="api-version",
        ),
        pytest.param(
            "      cluster: east\n      duration",
            "      cluster: east\n      effect: boom\n      duration",
            (17, 15, "spec.faults[0].effect"),
            "expected 'crash' or 'hang', got 'boom'",
            id="literal",
        ),
    ],
)
def test_model_errors_are_located(
    tmp_path: Path, old: str, new: str, where: tuple[int, int, str], message: str
) -> None:
    issue = _one(tmp_path, old, new)
    assert (issue.line, issue.column, issue.field) == where
    assert issue.message.endswith(message)
    assert "pydantic.dev" not in issue.message and "Value error" not in issue.message


def test_union_alternatives_become_one_message(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "        replicas: 2\n",
        "        replicas: 2\n      - name: p\n        action: patch\n        cluster: west\n"
        "        target: {kind: Deployment, name: app}\n        patch: oops\n",
    )
    (issue,) = _issues(tmp_path, text)
    assert (issue.line, issue.column, issue.field) == (29, 16, "spec.failover.steps[1].patch")
    assert issue.message == "expected a mapping or a list, got 'oops'"


def test_model_validator_errors_point_at_the_mapping(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "  failover:",
        "    - name: lag\n      type: replication-lag\n      cluster: west\n      peer: east\n"
        "      duration: 1m\n  failover:",
    )
    (issue,) = _issues(tmp_path, text)
    assert (issue.line, issue.column, issue.field) == (18, 7, "spec.faults[1]")
    assert issue.message == "give 'delay', 'bandwidth' or both"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        SCENARIO.replace("rto: 5m", "rto: fast")
        .replace("name: small", "name: Small")
        .replace("replicas: 2", "replicas: -2")
    )
    issues = _issues(tmp_path, text)
    assert [(i.line, i.field) for i in issues] == [
        (4, "metadata.name"),
        (24, "spec.failover.steps[0].replicas"),
        (26, "spec.objectives.rto"),
    ]
    text = str(InvalidInputError(issues))
    assert text.splitlines()[0].endswith(
        "s.yaml:4:9: metadata.name: expected a name of a-z, 0-9 and '-' (at most 63 characters), "
        "got 'Small'"
    )


def test_a_drill_key_that_is_no_name_is_located_at_the_key(tmp_path: Path) -> None:
    text = (
        "apiVersion: drill-runner.dev/v1alpha1\nkind: Drill\nmetadata: {name: d}\nspec:\n"
        "  scenarios: [{path: s.yaml}]\n  targets:\n    Bad_Name:\n      kubernetes: {}\n"
    )
    with pytest.raises(InvalidInputError) as err:
        loader.load_drill(write(tmp_path, "d.yaml", text))
    (issue,) = err.value.issues
    assert (issue.line, issue.column, issue.field) == (7, 5, "spec.targets.Bad_Name")
    assert "expected a name of a-z" in issue.message


def test_deprecated_fields_still_load_with_a_located_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`timeouts.drill` and a target's own `prometheus` were never read: a file that sets them
    still loads (no existing file is refused), and the warning names file, line and field."""
    from tests.scenario.files import DRILL

    text = SCENARIO.replace("  objectives:", "  timeouts: {observe: 5s, drill: 2h}\n  objectives:")
    drill_text = DRILL.replace(
        "      kubernetes: {context: west}",
        "      kubernetes: {context: west}\n      prometheus: {url: http://p:9090}",
    )
    with caplog.at_level("WARNING", logger="runner.scenario.loader"):
        scenario = loader.load_scenario(write(tmp_path, "s.yaml", text))
        drill = loader.load_drill(write(tmp_path, "d.yaml", drill_text))
    assert scenario.spec.timeouts.observe.total_seconds() == 5
    assert drill.spec.targets["west"].prometheus is not None
    line = text.splitlines().index("  timeouts: {observe: 5s, drill: 2h}") + 1
    column = text.splitlines()[line - 1].index("2h") + 1
    target_line = drill_text.splitlines().index("      prometheus: {url: http://p:9090}") + 1
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 's.yaml'}:{line}:{column}: spec.timeouts.drill: {loader.DEPRECATED}",
        f"{tmp_path / 'd.yaml'}:{target_line}:19: spec.targets.west.prometheus: "
        f"{loader.DEPRECATED}",
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="runner.scenario.loader"):
        loader.load_scenario(write(tmp_path, "plain.yaml", SCENARIO))
    assert caplog.records == []
