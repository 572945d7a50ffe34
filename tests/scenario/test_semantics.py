"""Rules across fields of one scenario, each reported at the line that breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError, Issue
from runner.scenario import loader
from tests.scenario.files import SCENARIO, write

SECOND_FAULT = "  failover:"


def _issues(tmp_path: Path, text: str) -> list[Issue]:
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(write(tmp_path, "s.yaml", text))
    return err.value.issues


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        pytest.param(
            SECOND_FAULT,
            "    - {name: lose-east, type: cluster-loss, cluster: west, duration: 1m}\n"
            + SECOND_FAULT,
            (18, 14, "spec.faults[1].name"),
            "fault name 'lose-east' is used twice (first at line 14)",
            id="duplicate-fault",
        ),
        pytest.param(
            "    - name: west\n",
            "    - name: west\n    - name: east\n",
            (9, 13, "spec.clusters[2].name"),
            "cluster name 'east' is used twice (first at line 7)",
            id="duplicate-cluster",
        ),
        pytest.param(
            "cluster: east",
            "cluster: north",
            (16, 16, "spec.faults[0].cluster"),
            "cluster 'north' is not declared in spec.clusters (east, west)",
            id="fault-cluster",
        ),
        pytest.param(
            "cluster: west",
            "cluster: south",
            (22, 18, "spec.failover.steps[0].cluster"),
            "cluster 'south' is not declared in spec.clusters (east, west)",
            id="step-cluster",
        ),
        pytest.param(
            "        cluster: west\n",
            "",
            (20, 9, "spec.failover.steps[0].cluster"),
            "missing required field 'cluster': a scale step acts on one",
            id="kubernetes-step-without-cluster",
        ),
        pytest.param(
            "        replicas: 2\n",
            "        replicas: 2\n      - {name: promote, action: lab.promote}\n",
            (25, 9, "spec.failover.steps[1].cluster"),
            "missing required field 'cluster': a lab.promote step acts on one",
            id="lab-step-without-cluster",
        ),
        pytest.param(
            "  objectives:",
            "  measure:\n    from: lose-west\n  objectives:",
            (26, 11, "spec.measure.from"),
            "no fault is named 'lose-west' (lose-east)",
            id="measure-from",
        ),
        pytest.param(
            "  objectives:",
            "  measure:\n    rto: {sli: 'min(up offset 5m)', upWhen: '>= 1'}\n  objectives:",
            (26, 16, "spec.measure.rto.sli"),
            "offset and @ modifiers cannot be measured (they read the past)",
            id="measured-query-offset",
        ),
        pytest.param(
            "  objectives:",
            "  measure:\n    rpo: {lag: {query: 'max(lag'}}\n  objectives:",
            (26, 24, "spec.measure.rpo.lag.query"),
            "not valid PromQL: unclosed left parenthesis",
            id="measured-query-syntax",
        ),
        pytest.param(
            SECOND_FAULT,
            "    - {name: split, type: network-partition, cluster: east, peer: east, duration: 1m}"
            "\n" + SECOND_FAULT,
            (18, 67, "spec.faults[1].peer"),
            "must name another cluster than 'east'",
            id="partition-peer-is-itself",
        ),
        pytest.param(
            SECOND_FAULT,
            "    - name: lag\n      type: replication-lag\n      cluster: west\n"
            "      peer: nowhere\n      delay: {latency: 1s}\n      duration: 1m\n" + SECOND_FAULT,
            (21, 13, "spec.faults[1].peer"),
            "cluster 'nowhere' is not declared in spec.clusters (east, west)",
            id="lag-peer-undeclared",
        ),
    ],
)
def test_semantic_rules(
    tmp_path: Path, old: str, new: str, where: tuple[int, int, str], message: str
) -> None:
    assert old in SCENARIO
    (issue,) = _issues(tmp_path, SCENARIO.replace(old, new, 1))
    assert (issue.line, issue.column, issue.field) == where
    assert issue.message == message


def test_http_and_manual_steps_need_no_cluster(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "        replicas: 2\n",
        "        replicas: 2\n      - {name: dns, action: http, url: 'https://dns.example/x'}\n"
        "      - {name: ask, action: manual, instructions: Check the dashboard.}\n",
    )
    scenario = loader.load_scenario(write(tmp_path, "s.yaml", text))
    assert [s.action for s in scenario.spec.failover.steps] == ["scale", "http", "manual"]


def test_all_semantic_issues_come_together_in_line_order(tmp_path: Path) -> None:
    text = SCENARIO.replace("cluster: east", "cluster: north").replace(
        "cluster: west", "cluster: south"
    )
    issues = _issues(tmp_path, text)
    assert [i.line for i in issues] == [16, 22]
