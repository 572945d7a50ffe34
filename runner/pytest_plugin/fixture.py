"""The `drill` fixture's object: run a scenario from a Python test and get a `DrillReport`.

    def test_region_failover(drill):
        report = drill.run("scenarios/lab/region-failover.yaml", targets="drills/lab.yaml")
        assert report.rto <= timedelta(minutes=1)

Relative paths are taken from the rootdir. Each run's RTO, RPO and verdict become the
test's JUnit properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from runner.engine.plan import render_plan
from runner.pytest_plugin import inputs, runs
from runner.pytest_plugin.outcome import DrillNotStarted
from runner.pytest_plugin.report import DrillReport
from runner.pytest_plugin.settings import Settings

Targets = str | Path | Mapping[str, Any] | None


class DrillFixture:
    """Runs drills for one test; `run` returns the report, whatever the verdict."""

    def __init__(
        self,
        *,
        settings: Settings,
        default: runs.LoadedDrill | None,
        node: pytest.Item,
        scratch: Callable[[], Path],
    ) -> None:
        self._settings = settings
        self._default = default
        self._node = node
        self._scratch = scratch

    def run(
        self,
        scenario: str | Path,
        *,
        targets: Targets = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> DrillReport:
        """Validate, bind and run `scenario`; skip when nothing binds it or in a dry run.

        targets: a drill file, or a mapping (a drill's `spec`, or just its `targets`);
        default: the session's `--drill`. overrides: deep-merged into the scenario's `spec`.
        """
        settings = self._settings
        path = self._path(scenario)
        label = settings.label(path)
        if overrides:
            path = inputs.write_overridden_scenario(path, label, overrides, self._scratch())
            label = str(path)
        loaded_scenario = runs.load_scenario(path, label)
        drill = self._drill(targets, path)
        if drill is None:
            pytest.skip(f"{label} is valid; not run: no drill targets (pass --drill or targets=)")
        missing = runs.unbound(loaded_scenario, drill.drill)
        if missing:
            raise DrillNotStarted(
                f"drill {drill.path} does not bind cluster(s) {', '.join(missing)} "
                f"of scenario {loaded_scenario.name}"
            )
        if settings.dry_run:
            plan = render_plan(loaded_scenario, drill.drill)
            self._node.add_report_section("call", "drill plan", plan)
            pytest.skip(f"dry run: {label} is valid and planned; nothing was run")
        report = runs.run_drill(
            loaded_scenario,
            path,
            drill,
            settings.results_dir,
            confirmed_targets=settings.confirmed_targets,
        )
        self._node.user_properties.extend(report.properties())
        return report

    def _path(self, value: str | Path) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self._settings.rootdir / path

    def _drill(self, targets: Targets, scenario_path: Path) -> runs.LoadedDrill | None:
        if targets is None:
            return self._default
        if isinstance(targets, Mapping):
            rootdir = self._settings.rootdir
            path = inputs.write_drill(targets, scenario_path, rootdir, self._scratch())
        else:
            path = self._path(targets)
        return runs.load_drill(path, self._settings.label(path))
