"""Scenario files as pytest collectors and items.

A matching file whose `kind` is Scenario is validated at collection (issues are a
collection error); its item is skipped when no drill binds its clusters, only planned in a
dry run, and otherwise run: a verdict other than passed fails the item with the run's
summary, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.engine.plan import render_plan
from runner.pytest_plugin import runs
from runner.pytest_plugin.outcome import DrillNotStarted, DrillPluginError, verdict_error
from runner.pytest_plugin.settings import SETTINGS
from runner.scenario import model

DRILL = pytest.StashKey["runs.LoadedDrill | None"]()


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        settings = self.config.stash[SETTINGS]
        label = settings.label(self.path)
        scenario = runs.load_scenario(self.path, label)
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        item.add_marker("drill")
        loaded = self.config.stash.get(DRILL, None)
        if loaded is None:
            reason = "valid; not run: no drill binds its clusters (pass --drill)"
            item.add_marker(pytest.mark.skip(reason=reason))
        elif missing := runs.unbound(scenario, loaded.drill):
            reason = (
                f"valid; not run: drill {loaded.drill.name} does not bind "
                f"cluster(s) {', '.join(missing)}"
            )
            item.add_marker(pytest.mark.skip(reason=reason))
        yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DrillPluginError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: model.Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        settings = self.config.stash[SETTINGS]
        loaded = self.config.stash[DRILL]
        assert loaded is not None  # unbound items are skipped at collection
        if settings.dry_run:
            self.add_report_section("call", "drill plan", render_plan(self.scenario, loaded.drill))
            return
        try:
            report = runs.run_drill(
                self.scenario,
                Path(self.path),
                loaded,
                settings.results_dir,
                confirmed_targets=settings.confirmed_targets,
            )
        except DrillNotStarted:
            self.user_properties.append(("drill_status", "error"))
            raise
        self.user_properties.extend(report.properties())
        error = verdict_error(report)
        if error is not None:
            raise error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DrillPluginError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"drill {self.name}"
