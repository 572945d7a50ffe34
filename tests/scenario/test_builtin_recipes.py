"""The recipes shipped in runner/recipes/ and the example scenarios that use them
(scenarios/patterns/, planned against drills/patterns.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli.main import cli
from runner.errors import InvalidInputError
from runner.scenario import loader, model, recipe_catalog, references, templates
from tests.scenario.files import REPO

PATTERNS = sorted((REPO / "scenarios" / "patterns").glob("*.yaml"))
DRILL = REPO / "drills" / "patterns.yaml"
SHIPPED = {
    "argocd.sync",
    "cloudnative-pg.promote",
    "cloudnative-pg.switchover",
    "externaldns.shift",
    "flux.reconcile",
    "k8gb.shift",
    "karmada.cluster-failback",
    "karmada.cluster-failover",
    "ramen.failover",
    "ramen.relocate",
    "velero.restore",
}


def test_every_shipped_recipe_loads() -> None:
    assert set(recipe_catalog.builtin().names()) == SHIPPED


def test_one_example_scenario_per_seed_pattern_and_the_drill_binds_them() -> None:
    assert {p.stem for p in PATTERNS} == {
        "karmada-federation-failover",
        "gitops-failover",
        "velero-restore-drill",
        "cloudnative-pg-token-failover",
        "ramen-failover-relocate",
        "dns-shift",
    }
    _, scenarios = references.check_drill(DRILL)
    assert len(scenarios) == len(PATTERNS)
    used = {r.recipe for p in PATTERNS for r in loader.load_scenario(p).expansion.recipes}
    assert used == SHIPPED - {"cloudnative-pg.promote"}


@pytest.mark.parametrize("path", PATTERNS, ids=lambda p: p.stem)
@pytest.mark.parametrize("test_failover", [False, True], ids=["drill", "test-failover"])
def test_each_pattern_plans_against_the_drill(path: Path, test_failover: bool) -> None:
    args = ["plan", str(path), "--drill", str(DRILL), "--output", "json"]
    result = CliRunner().invoke(cli, [*args, *(["--test-failover"] if test_failover else [])])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    scenario = loader.load_scenario(path)
    assert [r["recipe"] for r in plan["recipes"]] == [r.recipe for r in scenario.expansion.recipes]
    assert plan["mode"] == ("test-failover" if test_failover else "drill")
    if test_failover:
        assert plan["clusters"] == {}  # nothing is injected
        notes = {(n["what"], n["step"]) for n in plan["testFailover"]}
        assert ("not injected", scenario.spec.faults[0].name) in notes
    else:
        assert plan["clusters"]
        phases = [s["phase"] for s in plan["steps"]]
        assert "failover" in phases


def test_a_velero_test_failover_needs_its_scratch_namespaces(tmp_path: Path) -> None:
    text = (REPO / "scenarios/patterns/velero-restore-drill.yaml").read_text()
    cut = text.replace("          testNamespaceMapping: {orders: orders-drill}\n", "")
    assert cut != text
    (tmp_path / "v.yaml").write_text(cut)
    loader.load_scenario(tmp_path / "v.yaml")  # a drill needs none
    with pytest.raises(InvalidInputError) as info:
        loader.load_scenario(tmp_path / "v.yaml", test_failover=True)
    (issue,) = info.value.issues
    assert (issue.line, issue.column, issue.field) == (24, 11, "spec.failover.steps[0].with")
    assert "a test failover of recipe 'velero.restore' needs the input 'testNamespaceMapping'" in (
        issue.message
    )


def test_the_velero_recipe_generates_the_restore_it_documents() -> None:
    sc = loader.load_scenario(REPO / "scenarios/patterns/velero-restore-drill.yaml")
    create, wait, record = sc.steps_of("failover")
    assert isinstance(create, model.ApplyStep) and isinstance(wait, model.WaitForStep)
    assert create.manifest["metadata"]["name"] == "velero-restore-${{ run.short }}"
    assert create.manifest["spec"] == {
        "backupName": "${{ captured.velero-restore.backup }}",
        "includedNamespaces": ["orders"],
        "namespaceMapping": {},
    }
    assert [str(c) for c in wait.fail_when] == [
        "status.phase in [PartiallyFailed, Failed, FailedValidation]",
        "status.errors > 0",
    ]
    assert isinstance(record, model.CaptureStep)
    assert record.defaults == {"velero-restore.warnings": "0", "velero-restore.errors": "0"}
    tf = loader.load_scenario(
        REPO / "scenarios/patterns/velero-restore-drill.yaml", test_failover=True
    )
    assert tf.steps_of("failover")[0].manifest["spec"]["namespaceMapping"] == {  # type: ignore[union-attr]
        "orders": "orders-drill"
    }
    assert [s.action for s in tf.steps_of("failback")] == ["delete"]


def test_a_text_of_two_placeholders_is_text_not_one_value() -> None:
    ctx = templates.Context(inputs={"n": ["a"]}, use={"id": "u"})
    assert templates.render("${{ use.id }}-${{ run.short }}", ctx) == "u-${{ run.short }}"
    assert templates.render("${{ inputs.n }}", ctx) == ["a"]


def test_capture_defaults_must_name_a_value() -> None:
    raw = {
        "name": "c",
        "action": "capture",
        "cluster": "east",
        "target": {"kind": "Pod", "name": "p"},
        "values": {"a": "status.phase"},
        "defaults": {"b": "0"},
    }
    with pytest.raises(ValueError, match="'defaults' names b, which 'values' does not"):
        model.Failover.model_validate({"steps": [raw]})


def test_checks_of_a_failback_use_only_ask_that_the_objects_exist() -> None:
    sc = loader.load_scenario(REPO / "scenarios/patterns/cloudnative-pg-token-failover.yaml")
    by_use = {c.name.split(": ")[0]: [] for c in sc.spec.preflight}  # type: ignore[var-annotated]
    for check in sc.spec.preflight:
        by_use[check.name.split(": ")[0]].append(check)
    forward = by_use["switch orders-db over to the standby"]
    back = by_use["switch orders-db back"]
    assert [str(c) for c in forward[0].conditions] == ["spec.replica.primary == orders-db-primary"]
    assert len(back) == 2 and all(c.conditions == [] for c in back)
    assert back[0].target is not None and back[0].target.name == "orders-db-standby"
