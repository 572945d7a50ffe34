"""Loading, binding and running one drill for the plugin: shared by scenario items and the fixture.

Files are loaded with the scenario loader (issues become `InvalidFile`), the drill's targets
must bind every cluster of the scenario, and a run goes through `runner.engine.launch`, its
events logged to the `drill` logger (shown live with `--log-cli-level=INFO`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from runner.engine import events as ev
from runner.engine.launch import DrillRequest, launch
from runner.errors import DrillError, InvalidInputError
from runner.pytest_plugin.outcome import DrillNotStarted, InvalidFile
from runner.pytest_plugin.report import DrillReport
from runner.scenario import loader, model, source

log = logging.getLogger("drill")


@dataclass(frozen=True)
class LoadedDrill:
    drill: model.Drill
    path: Path


def _load(path: Path, label: str, expect: type[loader.M], kind: str) -> loader.M:
    try:
        source.read(path, label)  # located issues for unreadable, binary or non-YAML files
        return loader.parse_text(path.read_text(encoding="utf-8-sig"), label, expect)
    except InvalidInputError as e:
        raise InvalidFile(kind, label, e.issues) from None


def load_scenario(path: Path, label: str) -> model.Scenario:
    return _load(path, label, model.Scenario, "scenario")


def load_drill(path: Path, label: str) -> LoadedDrill:
    return LoadedDrill(_load(path, label, model.Drill, "drill"), path)


def is_scenario_file(path: Path, *, strict: bool = False) -> bool:
    """Whether a file says `kind: Scenario`; unparseable files count (to report their
    errors) unless `strict`."""
    try:
        data = source.read(path).data
    except InvalidInputError:
        return not strict
    return isinstance(data, dict) and data.get("kind") == "Scenario"


def unbound(scenario: model.Scenario, drill: model.Drill) -> list[str]:
    """The scenario's clusters that the drill does not bind to a target."""
    return [c for c in scenario.cluster_names if c not in drill.spec.targets]


def _log_event(event: ev.Event) -> None:
    fields = ", ".join(f"{k}={v}" for k, v in vars(event).items() if k != "at" and v is not None)
    log.info("%s %s", type(event).__name__, fields)


def run_drill(
    scenario: model.Scenario,
    scenario_path: Path,
    loaded: LoadedDrill,
    results_dir: Path,
    *,
    confirmed_targets: frozenset[str] = frozenset(),
) -> DrillReport:
    """Run the drill to its verdict; raise `DrillNotStarted` when it could not start (also
    when a protected target was not confirmed with `--drill-confirm-target NAME`)."""
    request = DrillRequest(
        scenario_path=scenario_path,
        drill_path=loaded.path,
        results_dir=results_dir,
        confirmed_targets=confirmed_targets,
        confirm_option="--drill-confirm-target",
        loaded=(scenario, loaded.drill),
    )
    try:
        result = launch(request, on_event=_log_event)
    except DrillError as e:
        raise DrillNotStarted(f"drill {scenario.name} could not start: {e}") from e
    return DrillReport.from_result(result)
