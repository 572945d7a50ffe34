"""Recipes: `uses:` expanded at load time; every bad input located, nothing expanded half."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.scenario import loader, model, recipes

RECIPE = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Recipe
metadata:
  name: team.restart-and-wait
  description: restart a Deployment and wait for it
spec:
  description: Restart a Deployment, wait until it is available again.
  inputs:
    deployment: {type: name, description: the Deployment}
    namespace: {type: string, default: shop}
    timeout: {type: duration, default: 2m}
    extraChecks: {type: list, items: string, default: []}
    measure: {type: boolean, default: true}
  preflight:
    - name: the Deployment exists
      target: {apiVersion: apps/v1, kind: Deployment, namespace: "${{ inputs.namespace }}",
               name: "${{ inputs.deployment }}"}
      conditions: ["spec.replicas > 0"]
      hint: create it first
  baseline:
    - name: read the generation
      action: capture
      target: &dep {kind: Deployment, namespace: "${{ inputs.namespace }}",
                    name: "${{ inputs.deployment }}"}
      values: {generation: metadata.generation, created: metadata.creationTimestamp}
  steps:
    - name: restart
      id: restart
      action: rollout-restart
      target: *dep
    - name: wait for the new generation
      id: wait
      action: wait-for
      timeout: "${{ inputs.timeout }}"
      target: *dep
      conditions:
        - "metadata.generation > ${{ captured.generation }}"
        - "status.conditions[type=Available].status == True"
    - name: "extra: ${{ item }}"
      forEach: inputs.extraChecks
      action: wait-for
      target: *dep
      conditions: ["${{ item }}"]
  measure:
    if: inputs.measure
    spans:
      rto: {from: steps.restart.started, to: steps.wait.finished}
    timings:
      - {name: age, from: captured.created, to: faultStart}
  testFailover:
    description: only waits; nothing is restarted
    steps:
      - name: just wait
        id: wait
        action: wait-for
        target: *dep
        conditions: ["status.availableReplicas >= 1"]
    cleanup:
      - name: nothing to undo
        action: sleep
        duration: 1s
"""

SCENARIO = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata:
  name: uses-a-recipe
spec:
  clusters: [{name: east}, {name: west}]
  faults:
    - {name: lose-east, type: cluster-loss, cluster: east, duration: 1m}
  failover:
    steps:
      - name: restart web
        uses: team.restart-and-wait
        cluster: west
        with:
          deployment: web
          extraChecks: ["status.readyReplicas >= 1"]
      - name: scale api
        action: scale
        cluster: west
        target: {kind: Deployment, name: api}
        replicas: 2
  objectives: {rto: 5m}
"""


def folder(tmp_path: Path, scenario: str = SCENARIO, recipe: str | None = RECIPE) -> Path:
    (tmp_path / "recipes").mkdir(exist_ok=True)
    if recipe is not None:
        (tmp_path / "recipes" / "restart.yaml").write_text(recipe)
    path = tmp_path / "s.yaml"
    path.write_text(scenario)
    return path


def issues_of(path: Path, **kw: bool) -> list[str]:
    with pytest.raises(InvalidInputError) as info:
        loader.load_scenario(path, **kw)
    return [str(i).replace(str(path.parent) + "/", "") for i in info.value.issues]


def test_a_use_expands_into_steps_checks_baseline_and_measurements(tmp_path: Path) -> None:
    sc = loader.load_scenario(folder(tmp_path))
    steps = sc.steps_of("failover")
    assert [(s.name, s.action, s.cluster, s.id) for s in steps] == [
        ("restart web: restart", "rollout-restart", "west", "team-restart-and-wait-restart"),
        (
            "restart web: wait for the new generation",
            "wait-for",
            "west",
            "team-restart-and-wait-wait",
        ),
        ("restart web: extra: status.readyReplicas >= 1", "wait-for", "west", None),
        ("scale api", "scale", "west", None),
    ]
    wait = steps[1]
    assert isinstance(wait, model.WaitForStep)
    assert wait.timeout.total_seconds() == 120
    # run-time placeholders are renamed for this use, and kept for the engine
    assert str(wait.conditions[0]) == (
        "metadata.generation > ${{ captured.team-restart-and-wait.generation }}"
    )
    assert wait.origin is not None and wait.origin.recipe == "team.restart-and-wait"
    assert wait.origin.line == 31 and wait.origin.file.endswith("restart.yaml")
    (capture,) = sc.steps_of("baseline")
    assert isinstance(capture, model.CaptureStep)
    assert set(capture.values) == {
        "team-restart-and-wait.generation",
        "team-restart-and-wait.created",
    }
    (check,) = sc.spec.preflight
    assert (check.cluster, check.target.name if check.target else None) == ("west", "web")
    assert check.hint == "create it first"
    spans = sc.spec.measure.spans
    assert (
        spans.rto is not None and spans.rto.from_ == "steps.team-restart-and-wait-restart.started"
    )
    assert [t.from_ for t in sc.spec.measure.timings] == ["captured.team-restart-and-wait.created"]
    (applied,) = sc.expansion.recipes
    assert applied.recipe == "team.restart-and-wait" and len(applied.steps) == 3
    assert not sc.test_failover and sc.expansion.notes == []


def test_a_test_failover_redirects_skips_and_adds_cleanup(tmp_path: Path) -> None:
    sc = loader.load_scenario(folder(tmp_path), test_failover=True)
    assert sc.test_failover
    assert [s.name for s in sc.steps_of("failover")] == ["restart web: just wait"]
    assert [s.name for s in sc.steps_of("failback")] == ["restart web: nothing to undo"]
    assert sc.spec.failback.policy is model.FailbackPolicy.ALWAYS
    notes = [(n.phase, n.step, n.what) for n in sc.expansion.notes]
    assert notes == [
        ("inject", "lose-east", "not injected"),
        ("failover", "restart web", "redirected"),
        ("failback", "restart web: nothing to undo", "added"),
        ("failover", "scale api", "skipped"),
        ("verify", "RTO span", "skipped"),  # between steps the test does not run
    ]


def test_a_recipe_without_a_test_failover_keeps_only_read_only_steps(tmp_path: Path) -> None:
    recipe = RECIPE[: RECIPE.index("  testFailover:")]
    sc = loader.load_scenario(folder(tmp_path, recipe=recipe), test_failover=True)
    # the restart is skipped, and so are the waits for its effect that follow it
    assert [s.action for s in sc.steps_of("failover")] == []
    skipped = [(n.step, n.reason) for n in sc.expansion.notes if n.what == "skipped"]
    assert [s for s, _ in skipped] == [
        "restart web: restart",
        "restart web: wait for the new generation",
        "restart web: extra: status.readyReplicas >= 1",
        "scale api",
        "RTO span",
    ]
    assert skipped[1][1].endswith("it follows a step the test failover skips")


def test_read_only_steps_before_the_first_skipped_one_are_kept(tmp_path: Path) -> None:
    recipe = RECIPE[: RECIPE.index("  testFailover:")].replace(
        "  steps:\n",
        "  steps:\n    - {name: first look, action: wait-for, target: *dep,"
        " conditions: [spec.replicas exists]}\n",
        1,
    )
    sc = loader.load_scenario(folder(tmp_path, recipe=recipe), test_failover=True)
    assert [s.name for s in sc.steps_of("failover")] == ["restart web: first look"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("uses: team.restart-and-wait", "uses: team.restart-and-wiat"),
            "s.yaml:12:15: spec.failover.steps[0].uses: unknown recipe 'team.restart-and-wiat' "
            "(did you mean 'team.restart-and-wait'?); known: argocd.sync, cloudnative-pg.promote,",
        ),
        (
            ("deployment: web", "deployment: Web_1"),
            "s.yaml:15:23: spec.failover.steps[0].with.deployment: input 'deployment': expected a "
            "name of a-z, 0-9 and '-' (at most 63 characters), got 'Web_1'",
        ),
        (
            ("deployment: web", "deploymnt: web"),
            "s.yaml:15:11: spec.failover.steps[0].with.deploymnt: recipe 'team.restart-and-wait' "
            "has no input 'deploymnt' (did you mean 'deployment'?)",
        ),
        (
            ('extraChecks: ["status.readyReplicas >= 1"]', "extraChecks: [3]"),
            "s.yaml:16:24: spec.failover.steps[0].with.extraChecks: input 'extraChecks': item 0: "
            "expected text, got 3",
        ),
        (
            ("          deployment: web\n", "          timeout: soon\n"),
            "s.yaml:15:20: spec.failover.steps[0].with.timeout: input 'timeout': expected a "
            "duration like '5m', '30s' or '1h30m', got 'soon'",
        ),
        (
            ("        cluster: west\n        with:", "        cluster: north\n        with:"),
            "s.yaml:13:18: spec.failover.steps[0].cluster: cluster 'north' is not declared in "
            "spec.clusters (east, west)",
        ),
    ],
)
def test_bad_uses_are_located(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = SCENARIO.replace(*change)
    assert change[0] in SCENARIO and text != SCENARIO
    found = issues_of(folder(tmp_path, text))
    assert any(f.startswith(expected) for f in found), found


def test_a_missing_required_input_is_located_at_with(tmp_path: Path) -> None:
    text = SCENARIO.replace("          deployment: web\n", "")
    (issue,) = issues_of(folder(tmp_path, text))
    assert issue == (
        "s.yaml:15:11: spec.failover.steps[0].with: missing required input 'deployment' of "
        "recipe 'team.restart-and-wait': name (the Deployment)"
    )


def test_a_step_that_is_not_a_step_nor_a_use_names_both(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "      - name: scale api\n        action: scale\n", "      - name: scale api\n"
    )
    found = issues_of(folder(tmp_path, text))
    assert any(
        "missing required field; one of" in i and "(or 'uses' with a recipe)" in i for i in found
    ), found


def test_unknown_fields_in_a_use_are_located_at_the_key(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "        cluster: west\n        with:", "        clustr: west\n        with:"
    )
    found = issues_of(folder(tmp_path, text))
    assert found == [
        "s.yaml:13:9: spec.failover.steps[0].clustr: unknown field 'clustr' "
        "(did you mean 'cluster'?)"
    ]


def test_a_broken_user_recipe_is_reported_with_its_own_position(tmp_path: Path) -> None:
    broken = RECIPE.replace("    deployment: {type: name", "    deployment: {type: nam")
    found = issues_of(folder(tmp_path, recipe=broken))
    assert any(
        i.startswith("recipes/restart.yaml:9:24: spec.inputs.deployment.type: expected")
        for i in found
    ), found
    assert any("unknown recipe 'team.restart-and-wait'" in i for i in found)
    yaml_error = RECIPE.replace("  steps:\n", "  steps\n")
    found = issues_of(folder(tmp_path, recipe=yaml_error))
    assert any(i.startswith("recipes/restart.yaml:") and "YAML syntax error" in i for i in found), (
        found
    )


def test_a_recipe_that_makes_an_invalid_step_names_the_recipe_line(tmp_path: Path) -> None:
    bad = RECIPE.replace(
        "      action: rollout-restart\n", "      action: rollout-restart\n      replicas: 3\n"
    )
    (issue,) = issues_of(folder(tmp_path, recipe=bad))
    assert issue.startswith(
        "s.yaml:12:15: spec.failover.steps[0].uses: recipe 'team.restart-and-wait' ("
    )
    assert "restart.yaml:27:7) makes an invalid step: replicas: unknown field 'replicas'" in issue


def test_placeholders_that_name_nothing_are_refused(tmp_path: Path) -> None:
    bad = RECIPE.replace(
        'Deployment, namespace: "${{ inputs.namespace }}",\n       ',
        'Deployment, namespace: "${{ inputs.namespaec }}",\n       ',
    )
    assert bad != RECIPE
    found = issues_of(folder(tmp_path, recipe=bad))  # the anchor is used by five steps
    assert len(found) == 5
    assert all(
        "the recipe has no input 'namespaec' (inputs: deployment, extraChecks, "
        "measure, namespace, timeout)" in i
        for i in found
    ), found
    unseen = RECIPE.replace("captured.generation }}", "captured.generashun }}")
    (issue,) = issues_of(folder(tmp_path, recipe=unseen))
    assert "${{ captured.team-restart-and-wait.generashun }}, which no earlier capture" in issue


def test_two_uses_of_one_recipe_need_their_own_ids(tmp_path: Path) -> None:
    second = textwrap.indent(
        "- name: again\n  uses: team.restart-and-wait\n  cluster: west\n"
        "  with: {deployment: api, measure: false}\n",
        "      ",
    )
    text = SCENARIO.replace("      - name: scale api", second + "      - name: scale api")
    found = issues_of(folder(tmp_path, text))
    assert any("a second use with id 'team-restart-and-wait'" in i for i in found), found
    fixed = text.replace("  - name: again\n", "  - name: again\n        id: again\n")
    sc = loader.load_scenario(folder(tmp_path, fixed))
    assert [s.id for s in sc.steps_of("failover") if s.id] == [
        "team-restart-and-wait-restart",
        "team-restart-and-wait-wait",
        "again-restart",
        "again-wait",
    ]


def test_a_recipe_measurement_that_clashes_is_refused_unless_turned_off(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "  objectives:",
        "  measure:\n    spans:\n      rto: {from: faultStart, to: failoverDone}\n  objectives:",
    )
    (issue,) = issues_of(folder(tmp_path, text))
    assert "measures the RTO" in issue and "measure it one way" in issue
    off = text.replace("deployment: web\n", "deployment: web\n          measure: false\n")
    sc = loader.load_scenario(folder(tmp_path, off))
    assert sc.spec.measure.spans.rto is not None
    assert sc.spec.measure.spans.rto.from_ == "faultStart"


def test_a_baseline_step_must_change_nothing(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "  failover:",
        "  baseline:\n    steps:\n      - {name: oops, action: scale, cluster: west,"
        " target: {kind: Deployment, name: x}, replicas: 0}\n  failover:",
    )
    (issue,) = issues_of(folder(tmp_path, text))
    assert issue.startswith("s.yaml:11:9: spec.baseline.steps[0]: a baseline step must change")


def test_recipe_files_validate_on_their_own(tmp_path: Path) -> None:
    path = folder(tmp_path)
    loaded = loader.load_file(tmp_path / "recipes" / "restart.yaml")
    assert isinstance(loaded, recipes.Recipe) and loaded.name == "team.restart-and-wait"
    bad = RECIPE.replace(
        "timeout: {type: duration, default: 2m}", "timeout: {type: duration, default: later}"
    )
    (tmp_path / "recipes" / "restart.yaml").write_text(bad)
    with pytest.raises(InvalidInputError, match=r"restart.yaml:11:40: spec.inputs.timeout.default"):
        loader.load_file(tmp_path / "recipes" / "restart.yaml")
    assert path.exists()


def test_a_user_recipe_cannot_take_a_name_twice(tmp_path: Path) -> None:
    path = folder(tmp_path)
    (tmp_path / "recipes" / "another.yaml").write_text(RECIPE)
    catalog = recipes.catalog_for(path)  # files are read in name order: the first one wins
    assert catalog.found["team.restart-and-wait"].file.endswith("another.yaml")
    (problem,) = catalog.problems
    assert str(problem).endswith(
        "restart.yaml:4:9: metadata.name: recipe 'team.restart-and-wait' is already defined "
        f"in {tmp_path / 'recipes' / 'another.yaml'}"
    )


def test_recipes_from_the_environment_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "r.yaml").write_text(RECIPE)
    scenario = tmp_path / "elsewhere" / "s.yaml"
    scenario.parent.mkdir()
    scenario.write_text(SCENARIO)
    with pytest.raises(InvalidInputError, match="unknown recipe"):
        loader.load_scenario(scenario)
    monkeypatch.setenv(recipes.PATH_ENV, str(shared))
    assert loader.load_scenario(scenario).steps_of("failover")
