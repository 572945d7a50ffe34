"""Scenario files as pytest items, without running a drill: collection, skips, errors, dry runs."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import lab_drill


def test_unrelated_suites_are_left_alone(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = project.runpytest("-q")
    result.assert_outcomes(passed=1)
    assert "scenarios" not in result.stdout.str()


def test_collects_files_of_kind_scenario_matching_the_pattern(project: pytest.Pytester) -> None:
    lab_drill(project.path / "scenarios" / "lab" / "drill.yaml", project.path / "lab")
    (project.path / "elsewhere").mkdir()
    (project.path / "elsewhere" / "x.yaml").write_text(
        (project.path / "scenarios/lab/region-failover.yaml").read_text()
    )
    result = project.runpytest("--drill-pattern=scenarios/**/*.yaml", "--collect-only", "-q", ".")
    result.stdout.fnmatch_lines(
        [
            "scenarios/lab/network-partition.yaml::lab-network-partition",
            "scenarios/lab/region-failover.yaml::lab-region-failover",
            "2 tests collected*",
        ]
    )
    assert "drill.yaml" not in result.stdout.str()  # kind: Drill is not a scenario
    assert "elsewhere" not in result.stdout.str()


def test_a_pattern_without_a_slash_matches_file_names_under_the_given_folder(
    project: pytest.Pytester,
) -> None:
    """As pytest's python_files: `*.yaml` matches the name, wherever the file is."""
    (project.path / "scenarios" / "lab" / "notes.yaml").write_text("kind: Notes\n")
    result = project.runpytest("--drill-pattern=*.yaml", "--collect-only", "-q", "scenarios/lab")
    result.stdout.fnmatch_lines(
        [
            "scenarios/lab/network-partition.yaml::lab-network-partition",
            "scenarios/lab/region-failover.yaml::lab-region-failover",
            "2 tests collected*",
        ]
    )
    result = project.runpytest("--drill-pattern=region-*.yaml", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/lab/region-failover.yaml::lab-region-failover", "1 *"])
    result = project.runpytest("--drill-pattern=scenarios/*.yaml", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED  # '/': the relative path, one level


def test_scenario_files_named_on_the_command_line_are_collected(
    project: pytest.Pytester,
) -> None:
    """Whatever the patterns, and without any --drill option: as pytest does for test
    modules named explicitly. A YAML file that is not a scenario is not taken."""
    other = project.path / "elsewhere" / "mine.yml"
    other.parent.mkdir()
    other.write_text((project.path / "scenarios/lab/region-failover.yaml").read_text())
    (project.path / "elsewhere" / "notes.yaml").write_text("kind: Notes\n")
    (project.path / "elsewhere" / "broken.yaml").write_text("kind: [\n")
    named = ["scenarios/lab/network-partition.yaml", "elsewhere/mine.yml"]
    for options in ([], ["--drill-pattern=nothing/*.yaml"]):
        result = project.runpytest(*options, "--collect-only", "-q", *named)
        result.stdout.fnmatch_lines(
            [
                "scenarios/lab/network-partition.yaml::lab-network-partition",
                "elsewhere/mine.yml::lab-region-failover",
                "2 tests collected*",
            ]
        )
    result = project.runpytest("-rs", "scenarios/lab/network-partition.yaml")
    result.assert_outcomes(skipped=1)  # validated; no drill binds it, so not run
    result.stdout.fnmatch_lines(["SKIPPED * scenarios/lab/network-partition.yaml: valid;*"])
    # the plugin turned on: a named file that cannot be parsed is an error, as a pattern's is
    result = project.runpytest("--drill-pattern=nothing/*.yaml", "elsewhere/broken.yaml")
    result.assert_outcomes(errors=1)
    for not_a_scenario in ("elsewhere/notes.yaml", "elsewhere/broken.yaml"):  # plugin off
        result = project.runpytest("--collect-only", not_a_scenario)
        assert result.ret == pytest.ExitCode.USAGE_ERROR  # pytest: "not found" (no item)
        result.stderr.fnmatch_lines(["ERROR: not found: *" + not_a_scenario])


def test_the_pattern_can_come_from_the_ini_file(project: pytest.Pytester) -> None:
    project.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "drill_pattern = scenarios/lab/region-*.yaml\n"
    )
    result = project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/lab/region-failover.yaml::lab-region-failover", "1 *"])


def test_without_a_drill_valid_scenarios_are_skipped_with_the_reason(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest("--drill-pattern=scenarios/**/*.yaml", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED * scenarios/lab/region-failover.yaml: valid; not run: no drill binds*--drill*"]
    )


def test_a_drill_that_does_not_bind_the_clusters_skips_with_their_names(
    project: pytest.Pytester,
) -> None:
    drill = lab_drill(project.path / "drill.yaml", project.path / "lab", ("east", "west"))
    result = project.runpytest(f"--drill={drill}", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED *does not bind cluster(s) primary, secondary*"])


def test_a_validation_error_is_a_collection_error_at_file_line_column_field(
    project: pytest.Pytester,
) -> None:
    path = project.path / "scenarios" / "lab" / "region-failover.yaml"
    lines = path.read_text().splitlines()
    at = lines.index("    rto: 30s")
    lines[at] = "    rto: banana"
    path.write_text("\n".join(lines) + "\n")
    result = project.runpytest("--drill-pattern=scenarios/**/*.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting scenarios/lab/region-failover.yaml*",
            "invalid scenario scenarios/lab/region-failover.yaml: 1 issue(s)",
            f"  scenarios/lab/region-failover.yaml:{at + 1}:10: spec.objectives.rto: "
            "expected a duration*got 'banana'",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_yaml_syntax_errors_are_reported_too(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "broken.yaml").write_text("kind: Scenario\nspec: [\n")
    result = project.runpytest("--drill-pattern=scenarios/*.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["invalid scenario scenarios/broken.yaml*", "  scenarios/broken.yaml:*"]
    )


def test_an_invalid_drill_file_is_a_usage_error(project: pytest.Pytester) -> None:
    drill = project.path / "drill.yaml"
    drill.write_text("apiVersion: drill-runner.dev/v1alpha1\nkind: Drill\nmetadata: {name: d}\n")
    result = project.runpytest(f"--drill={drill}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--drill: invalid drill drill.yaml*", "*drill.yaml:*spec*"])


def test_dry_run_passes_valid_bound_scenarios_and_shows_the_plan(project: pytest.Pytester) -> None:
    drill = lab_drill(project.path / "drill.yaml", project.path / "no-lab-here")
    result = project.runpytest(f"--drill={drill}", "--drill-dry-run", "-rP")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*plan of lab-region-failover with drill plugin-test: nothing is created or injected",
            "*primary: lab site east",
            "*. [[]inject] cluster-loss 'lose-primary' in primary for 2m*",
            "*. [[]failover] promote-secondary (lab.promote on secondary*",
            "objectives: RTO <= 30s, RPO <= 5s",
        ]
    )
    assert not (project.path / "results").exists()


def test_the_fixture_validates_overrides_and_plans_in_a_dry_run(project: pytest.Pytester) -> None:
    state = project.path / "no-lab-here"
    project.makepyfile(
        test_dr=f"""
        def test_valid(drill):
            drill.run(
                "scenarios/lab/region-failover.yaml",
                targets={{"primary": {{"lab": {{"site": "east", "stateDir": "{state}"}}}},
                         "secondary": {{"lab": {{"site": "west", "stateDir": "{state}"}}}}}},
                overrides={{"objectives": {{"rto": "10m"}}}},
            )

        def test_invalid_override(drill):
            scenario = "scenarios/lab/region-failover.yaml"
            drill.run(scenario, overrides={{"objectives": {{"rto": 5}}}})
        """
    )
    result = project.runpytest("--drill-dry-run", "-rA", "test_dr.py")
    result.assert_outcomes(skipped=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*InvalidFile: invalid scenario *region-failover.overridden.yaml*",
            "*region-failover.overridden.yaml:*: spec.objectives.rto: *",
            "SKIPPED * dry run: * is valid and planned; nothing was run",
        ]
    )


def test_fixture_tests_carry_the_drill_marker(project: pytest.Pytester) -> None:
    project.makepyfile(test_m="def test_a(drill):\n    pass\n\ndef test_b():\n    pass\n")
    result = project.runpytest("-m", "not drill", "-q")
    result.assert_outcomes(passed=1, deselected=1)


def test_a_drill_that_cannot_start_is_an_error_with_the_reason(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "lab" / "network-partition.yaml").unlink()
    drill = lab_drill(project.path / "drill.yaml", project.path / "no-lab-here")
    result = project.runpytest(f"--drill={drill}", "-v", "--junitxml=junit.xml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*region-failover.yaml::lab-region-failover ERROR*",
            "*ERROR at call of*",
            "drill lab-region-failover could not start: *",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert 'name="drill_status" value="error"' in (project.path / "junit.xml").read_text()
