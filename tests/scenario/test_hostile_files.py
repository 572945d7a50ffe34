"""Hostile input files: bad tag values, odd scenario paths, files that are not ours, huge files.

Each must end in located issues (never a traceback); a file that is not a scenario or a
drill must never be quoted (a drill in a pull request could name a secret file); a drill's
scenarios must stay in the drill's tree unless DRILL_SCENARIO_ROOTS allows more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import exits
from runner.cli.main import cli
from runner.errors import InvalidInputError
from runner.scenario import builder, loader, model, references
from tests.scenario.files import DRILL, SCENARIO, write

DRILLCTL = Path(sys.executable).parent / "drillctl"
SECRET = "hunter2-S3CR3T-4f9a0c"


def drillctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DRILLCTL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


# --------------------------------------------------------------------------- item 9: tag values


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!bool maybe", "'maybe' is not a valid bool"),
        ("!!timestamp slack", "'slack' is not a valid timestamp"),
        ("!!int twelve", "'twelve' is not a valid int"),
        ("!!float fast", "'fast' is not a valid float"),
        ("!!timestamp 2025-02-30", "'2025-02-30' is not a valid timestamp"),
        ("!!binary abc", "unsupported YAML tag !!binary"),
        ("!!python/name:os.system x", "unsupported YAML tag !!python/name:os.system"),
    ],
)
def test_bad_explicit_tag_values_are_located_issues(value: str, message: str) -> None:
    text = SCENARIO.replace("rto: 5m", f"rto: {value}")
    with pytest.raises(InvalidInputError) as err:
        loader.parse_text(text, "s.yaml", model.Scenario)
    issue = err.value.issues[0]
    assert (issue.line, issue.column) == (26, 10)
    assert issue.message == message


def test_one_bad_tag_never_hides_the_other_files(tmp_path: Path) -> None:
    good = write(tmp_path, "a.yaml", SCENARIO)
    write(tmp_path, "b.yaml", SCENARIO.replace("name: small", "name: !!bool maybe"))
    write(tmp_path, "c.yaml", SCENARIO.replace("rto: 5m", "rto: !!timestamp slack"))
    text = drillctl("validate", str(tmp_path))
    assert text.returncode == exits.INVALID, text.stderr
    assert "Traceback" not in text.stdout + text.stderr
    assert text.stdout.splitlines() == [
        f"ok {good} (Scenario small)",
        f"{tmp_path / 'b.yaml'}:4:9: 'maybe' is not a valid bool",
        f"{tmp_path / 'c.yaml'}:26:10: 'slack' is not a valid timestamp",
        "2 of 3 files have problems",
    ]
    as_json = drillctl("validate", "-o", "json", str(tmp_path))
    assert as_json.returncode == exits.INVALID
    results = json.loads(as_json.stdout)
    assert [r["ok"] for r in results] == [True, False, False]


# --------------------------------------------------------------------------- item 10: odd paths


def _drill_naming(folder: Path, path: str) -> Path:
    (folder / "drills").mkdir(exist_ok=True)
    text = DRILL.replace("path: small.yaml", f"path: {json.dumps(path)}")
    return write(folder / "drills", "d.yaml", text)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../scenarios/a\x00b.yaml", "the path holds a NUL character"),
        ("../scenarios/loop", "a symlink loop: "),
        ("../scenarios/" + "x" * 300 + ".yaml", "the path or one of its names is too long: "),
        ("../scenarios", "a folder: "),
        ("../scenarios/none.yaml", "no such file: "),
        ("/etc/passwd", "/etc/passwd is outside the drill's folder"),
        ("../../../../../../etc/hostname", "is outside the drill's folder"),
        ("../elsewhere/small.yaml", "is outside the drill's folder"),
        ("../scenarios/out", "is outside the drill's folder"),  # a symlink pointing out
    ],
)
def test_odd_scenario_paths_are_issues_at_the_drills_line(
    tmp_path: Path, path: str, message: str
) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "elsewhere", "small.yaml", SCENARIO)
    (tmp_path / "scenarios" / "loop").symlink_to("loop2")
    (tmp_path / "scenarios" / "loop2").symlink_to("loop")
    (tmp_path / "scenarios" / "out").symlink_to(tmp_path / "elsewhere" / "small.yaml")
    drill = _drill_naming(tmp_path, path)
    with pytest.raises(InvalidInputError) as err:
        references.check_drill(drill)
    (issue,) = err.value.issues
    assert (issue.file, issue.line, issue.field) == (str(drill), 7, "spec.scenarios[0].path")
    assert message in issue.message
    assert len(issue.message) < 300  # a 300-character name is shortened


def test_the_scenarios_folder_beside_the_drill_and_the_drill_tree_are_allowed(
    tmp_path: Path,
) -> None:
    (tmp_path / "scenarios" / "team").mkdir(parents=True)
    write(tmp_path / "scenarios" / "team", "small.yaml", SCENARIO)
    _, scenarios = references.check_drill(_drill_naming(tmp_path, "../scenarios/team/small.yaml"))
    assert [s.name for s in scenarios] == ["small"]
    (tmp_path / "drills" / "sub").mkdir()
    write(tmp_path / "drills" / "sub", "small.yaml", SCENARIO)
    _, scenarios = references.check_drill(_drill_naming(tmp_path, "sub/small.yaml"))
    assert [s.name for s in scenarios] == ["small"]


def test_drill_scenario_roots_is_the_explicit_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "elsewhere", "small.yaml", SCENARIO)
    drill = _drill_naming(tmp_path, "../elsewhere/small.yaml")
    with pytest.raises(InvalidInputError, match="DRILL_SCENARIO_ROOTS"):
        references.check_drill(drill)
    monkeypatch.setenv(references.ROOTS_ENV, f"/nonexistent{os.pathsep}{tmp_path / 'elsewhere'}")
    _, scenarios = references.check_drill(drill)
    assert [s.name for s in scenarios] == ["small"]


def test_odd_paths_through_drillctl_never_show_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "loop").symlink_to("loop")
    for i, path in enumerate(["../scenarios/a\x00b", "../scenarios/loop", "x" * 400, "/etc"]):
        drill = _drill_naming(tmp_path, path)
        proc = drillctl("validate", str(drill))
        assert proc.returncode == exits.INVALID, (i, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
        assert f"{drill}:7:13: spec.scenarios[0].path: " in proc.stdout
        run = drillctl("run", str(tmp_path / "s.yaml"), "--drill", str(drill))
        assert run.returncode == exits.INVALID and "Traceback" not in run.stderr


# --------------------------------------------------------------------------- item 11: not ours

NOT_OURS = {
    "a line": f"root:{SECRET}:19000:0:99999:7:::\n",
    "a password map": f"user: admin\npassword: {SECRET}\n",
    "a tagged value": f"password: !!bool {SECRET}\n",
    "a bad timestamp": f"expires: !!timestamp {SECRET}\n",
    "a custom tag": f"token: !{SECRET} x\n",
    "a tagged key": f"!!int {SECRET}: x\n",
    "duplicate keys": f"{SECRET}: 1\n{SECRET}: 2\n",
    "an unknown alias": f"token: *{SECRET}\n",
    "a kubernetes secret": f"apiVersion: v1\nkind: Secret\ndata: {{token: {SECRET}}}\n",
    "a kind written as secret": f"kind: {SECRET}\n",
    "a list": f"- {SECRET}\n- b\n",
    "an env file": f"API_TOKEN={SECRET}\nOTHER=1\n",
    "a yaml syntax error": f"token: [{SECRET}\n",
    "a json file": json.dumps({"token": SECRET}),
}


@pytest.mark.parametrize("content", list(NOT_OURS.values()), ids=list(NOT_OURS))
def test_a_file_that_is_not_ours_is_never_quoted(tmp_path: Path, content: str) -> None:
    (tmp_path / "secrets").mkdir()
    secret_file = write(tmp_path / "secrets", "creds.yaml", content)
    drill = _drill_naming(tmp_path, "../secrets/creds.yaml")
    env = {references.ROOTS_ENV: str(tmp_path / "secrets")}  # even when allowed explicitly
    for args in (["validate", str(drill)], ["validate", "-o", "json", str(tmp_path)]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == exits.INVALID, result.output
        assert str(secret_file) in result.output  # located...
        assert SECRET not in result.output  # ...never quoted
    direct = CliRunner().invoke(cli, ["validate", str(secret_file)])
    assert SECRET not in direct.output and direct.exit_code == exits.INVALID


def test_our_own_files_are_still_quoted(tmp_path: Path) -> None:
    text = SCENARIO.replace("rto: 5m", f"rto: {SECRET}")
    result = CliRunner().invoke(cli, ["validate", str(write(tmp_path, "s.yaml", text))])
    assert f"got '{SECRET}'" in result.output


# --------------------------------------------------------------------------- item 16: bounded


def test_a_4_mib_file_of_245000_unknown_keys_is_bounded(tmp_path: Path) -> None:
    head = "apiVersion: drill-runner.dev/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nspec:\n"
    body = "".join(f"  key{i:07d}: 1\n" for i in range(245_000))
    path = write(tmp_path, "huge.yaml", head + body)
    assert 3.5 * 2**20 < path.stat().st_size <= 4 * 2**20
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(path)
    assert len(err.value.issues) <= builder.MAX_ISSUES + 1
    assert "more than 100,000 keys and values" in err.value.issues[-1].message


def test_reported_problems_are_bounded_with_a_count_of_the_rest(tmp_path: Path) -> None:
    head = "apiVersion: drill-runner.dev/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nspec:\n"
    body = "".join(f"  key{i:05d}: 1\n" for i in range(5_000))
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(write(tmp_path, "many.yaml", head + body))
    issues = err.value.issues
    assert len(issues) == builder.MAX_ISSUES + 1
    assert issues[-1].message.startswith("4,902 more problems not shown")  # 5,000 + 2 missing
    dupes = "kind: Scenario\n" + "".join("a: 1\n" for _ in range(1_000))
    with pytest.raises(InvalidInputError) as err:
        loader.parse_text(dupes, "d.yaml", model.Scenario)
    assert len(err.value.issues) == builder.MAX_ISSUES + 1
    assert err.value.issues[-1].message == "stopped after 100 problems; fix these first"
