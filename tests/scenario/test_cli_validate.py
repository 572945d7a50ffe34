"""`drillctl validate` and `drillctl schema`: output, formats and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from runner.cli import exits
from runner.cli.main import cli
from runner.cli.validate import generate_schema
from tests.scenario.files import DRILL, REPO, SCENARIO, write


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_valid_files_print_ok_lines(tmp_path: Path) -> None:
    scenario = write(tmp_path, "small.yaml", SCENARIO)
    drill = write(tmp_path, "d.yaml", DRILL)
    code, out = _run("validate", str(scenario), str(drill))
    assert code == exits.OK
    assert out.splitlines() == [
        f"ok {scenario} (Scenario small)",
        f"ok {drill} (Drill small-drill, 1 scenarios)",
    ]


def test_invalid_files_print_issues_and_exit_2(tmp_path: Path) -> None:
    good = write(tmp_path, "a.yaml", SCENARIO)
    bad = write(tmp_path, "b.yaml", SCENARIO.replace("rto: 5m", "rto: fast"))
    code, out = _run("validate", str(tmp_path))
    assert code == exits.INVALID
    assert out.splitlines() == [
        f"ok {good} (Scenario small)",
        f"{bad}:26:10: spec.objectives.rto: expected a duration like '5m', '30s' or '1h30m', "
        "got 'fast'",
        "1 of 2 files have problems",
    ]


def test_a_folder_checks_drills_with_their_scenarios(tmp_path: Path) -> None:
    write(tmp_path, "small.yaml", SCENARIO.replace("cluster: west", "cluster: north"))
    write(tmp_path, "d.yaml", DRILL)
    (tmp_path / "notes.txt").write_text("not yaml")
    code, out = _run("validate", str(tmp_path), "--output", "json")
    assert code == exits.INVALID
    results = json.loads(out)
    assert [(Path(r["path"]).name, r["kind"], r["ok"]) for r in results] == [
        ("d.yaml", "Drill", False),
        ("small.yaml", None, False),
    ]
    assert results[0]["issues"] == results[1]["issues"]
    assert results[1]["issues"][0]["field"] == "spec.failover.steps[0].cluster"


def test_yaml_output(tmp_path: Path) -> None:
    write(tmp_path, "small.yaml", SCENARIO)
    code, out = _run("validate", "-o", "yaml", str(tmp_path))
    assert code == exits.OK
    (result,) = yaml.safe_load(out)
    assert result["name"] == "small" and result["issues"] == []


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _run("validate")[0] == exits.INVALID
    assert _run("validate", str(tmp_path / "missing.yaml"))[0] == exits.INVALID
    code, out = _run("validate", str(tmp_path))
    assert code == exits.INVALID
    assert "no .yaml or .yml files found" in out


@pytest.mark.parametrize("kind", ["scenario", "drill"])
def test_shipped_schemas_equal_the_generated_ones(kind: str) -> None:
    shipped = REPO / "runner" / "schemas" / f"{kind}.schema.json"
    assert shipped.read_text(encoding="utf-8") == generate_schema(kind)
    code, out = _run("schema", kind)
    assert code == exits.OK
    assert json.loads(out)["title"] == kind.capitalize()


def test_drillctl_validate_in_a_subprocess_never_shows_a_traceback(tmp_path: Path) -> None:
    write(tmp_path, "garbage.yaml", "\x00\x01binary")
    write(tmp_path, "broken.yaml", "a: [\n")
    write(tmp_path, "deep.yaml", "a: " + "[" * 50_000 + "]" * 50_000)
    drillctl = Path(sys.executable).parent / "drillctl"
    proc = subprocess.run(
        [str(drillctl), "validate", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == exits.INVALID
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "binary" in proc.stdout and "YAML syntax error" in proc.stdout
    assert "nested more than 64 levels" in proc.stdout
