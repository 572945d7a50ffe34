"""One base for relative paths: a file named in a scenario or a drill is found relative to the
file that names it, whatever the working directory; a path that cannot name a file is an
issue naming file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.scenario import loader
from runner.scenario.secrets import resolve_secret
from tests.scenario.files import SCENARIO

DRILL = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata: {name: d}
spec:
  scenarios: [{path: ../scenarios/s.yaml}]
  targets:
    east: {kubernetes: {kubeconfig: KUBECONFIG, context: east}}
    west: {kubernetes: {kubeconfig: /etc/kube/west, context: west}}
  prometheus:
    url: https://prometheus.example:9090
    caFile: CAFILE
    bearerToken: {file: secrets/token}
  notifications:
    - {name: n, url: {file: secrets/hook}}
"""


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that holds none of the files."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _drill(tmp_path: Path, **values: str) -> Path:
    folder = tmp_path / "drills"
    (folder / "secrets").mkdir(parents=True, exist_ok=True)
    (folder / "secrets" / "token").write_text("t0ken\n")
    (folder / "secrets" / "hook").write_text("http://127.0.0.1:9/hook\n")
    text = DRILL.replace("KUBECONFIG", values.get("kubeconfig", "kube/east.yaml"))
    path = folder / "d.yaml"
    path.write_text(text.replace("CAFILE", values.get("ca", "ca.pem")))
    return path


def test_every_path_in_a_drill_is_relative_to_the_drill(tmp_path: Path, elsewhere: Path) -> None:
    path = _drill(tmp_path)
    drill = loader.load_drill(os.path.relpath(path, elsewhere))  # named relative to the cwd
    folder = tmp_path / "drills"
    east, west = drill.spec.targets["east"].kubernetes, drill.spec.targets["west"].kubernetes
    assert east is not None and west is not None
    assert east.kubeconfig == str(folder / "kube" / "east.yaml")
    assert west.kubeconfig == "/etc/kube/west"  # absolute: as written
    prometheus = drill.spec.prometheus
    assert prometheus is not None and prometheus.bearer_token is not None
    assert prometheus.ca_file == str(folder / "ca.pem")  # was: relative to the cwd
    assert resolve_secret(prometheus.bearer_token, what="t") == "t0ken"  # was: cwd
    assert resolve_secret(drill.spec.notifications[0].url, what="u") == "http://127.0.0.1:9/hook"


def test_home_is_expanded(tmp_path: Path, elsewhere: Path) -> None:
    drill = loader.load_drill(_drill(tmp_path, kubeconfig="~/.kube/config"))
    east = drill.spec.targets["east"].kubernetes
    assert east is not None and east.kubeconfig == str(Path.home() / ".kube" / "config")


def test_a_step_secret_is_relative_to_the_scenario(tmp_path: Path, elsewhere: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "tok").write_text("s3cret\n")
    step = (
        "      - name: call\n        action: http\n        url: http://127.0.0.1:9/x\n"
        "        headerSecrets: {Authorization: {file: tok}}\n"
    )
    text = SCENARIO.replace("  objectives:", "  failback:\n    steps:\n" + step + "  objectives:")
    (folder / "s.yaml").write_text(text)
    scenario = loader.load_scenario(folder / "s.yaml")
    (call,) = scenario.steps_of("failback")
    assert call.action == "http"
    ref = call.header_secrets["Authorization"]
    assert ref.file == str(folder / "tok")
    assert resolve_secret(ref, what="h") == "s3cret"


LAB_DRILL = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata: {name: d}
spec:
  scenarios: [{path: s.yaml}]
  targets:
    east: {lab: {site: east, stateDir: STATE}}
    west: {lab: {site: west}}
"""


def _lab_drill(tmp_path: Path, state: str) -> Path:
    folder = tmp_path / "drills"
    folder.mkdir(exist_ok=True)
    path = folder / "d.yaml"
    path.write_text(LAB_DRILL.replace("STATE", state))
    return path


def test_a_lab_state_dir_is_relative_to_the_drill(tmp_path: Path, elsewhere: Path) -> None:
    from runner.lab.backend import lab_state_dir

    path = _lab_drill(tmp_path, "lab-state")
    targets = loader.load_drill(os.path.relpath(path, elsewhere)).spec.targets
    assert lab_state_dir(targets["east"]) == tmp_path / "drills" / "lab-state"  # was: the cwd's
    assert lab_state_dir(targets["west"]) == Path(".drill-lab")  # absent: `lab up`'s default


def test_a_lab_state_dir_that_is_a_file_is_located(tmp_path: Path, elsewhere: Path) -> None:
    path = _lab_drill(tmp_path, "d.yaml")
    with pytest.raises(InvalidInputError) as err:
        loader.load_drill(path)
    (issue,) = err.value.issues
    assert (issue.file, issue.line, issue.field) == (
        str(path),
        7,
        "spec.targets.east.lab.stateDir",
    )
    assert issue.message == f"{path} is a file, not a folder"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"kubeconfig": "''"}, "spec.targets.east.kubernetes.kubeconfig", "the path is empty"),
        ({"ca": '"ca\\tpem"'}, "spec.prometheus.caFile", "the path contains a control character"),
        (
            {"kubeconfig": "~nobody-here-at-all/kc"},
            "spec.targets.east.kubernetes.kubeconfig",
            "the home folder of '~nobody-here-at-all' is unknown",
        ),
        ({"ca": "secrets"}, "spec.prometheus.caFile", "is a folder, not a file"),
    ],
)
def test_a_path_that_cannot_name_a_file_is_located(
    tmp_path: Path, elsewhere: Path, values: dict[str, str], field: str, message: str
) -> None:
    path = _drill(tmp_path, **values)
    with pytest.raises(InvalidInputError) as err:
        loader.load_drill(path)
    (issue,) = err.value.issues
    assert (issue.file, issue.field) == (str(path), field)
    assert message in issue.message
    line = 7 if "kubernetes" in field else 11
    assert issue.line == line and issue.column > 1
