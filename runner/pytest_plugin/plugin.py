"""The pytest11 entry point: options, collection of scenario files, the `drill` fixture.

Nothing here acts on a test suite until `--drill`, `--drill-pattern` or `--drill-dry-run`
(or the `drill_file` / `drill_pattern` ini settings) turn collection on, or a scenario file
is named on the command line (collected as pytest collects a test module named there); the
`drill` marker and fixture exist regardless.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.pytest_plugin import runs
from runner.pytest_plugin.fixture import DrillFixture
from runner.pytest_plugin.items import DRILL, ScenarioFile
from runner.pytest_plugin.outcome import InvalidFile
from runner.pytest_plugin.pattern import matches
from runner.pytest_plugin.settings import SETTINGS, add_options, resolve

_LABELS = {
    "inconclusive": ("failed", "I", "INCONCLUSIVE"),
    "aborted": ("error", "E", "ABORTED"),
    "error": ("error", "E", "ERROR"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "drill: a disaster-recovery drill (scenario items, tests using `drill`)"
    )
    settings = resolve(config)
    config.stash[SETTINGS] = settings
    loaded = None
    if settings.drill_file is not None:
        try:
            loaded = runs.load_drill(settings.drill_file, settings.label(settings.drill_file))
        except InvalidFile as e:
            raise pytest.UsageError(f"--drill: {e}") from None
    config.stash[DRILL] = loaded


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    settings = parent.config.stash.get(SETTINGS, None)
    if settings is None:
        return None
    if parent.session.isinitpath(file_path) and file_path.suffix in (".yaml", ".yml"):
        # named on the command line: collected whatever the patterns say, as pytest does for
        # test modules; without the plugin turned on, only a file that really is a scenario
        wanted = runs.is_scenario_file(file_path, strict=not settings.enabled)
        return ScenarioFile.from_parent(parent, path=file_path) if wanted else None
    if not settings.enabled:
        return None
    relative = settings.relative_to_root(file_path)
    if not matches(relative, settings.patterns, name=file_path.name):
        return None
    if not runs.is_scenario_file(file_path):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "drill" in getattr(item, "fixturenames", ()):
            item.add_marker("drill")


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """A failed drill that was inconclusive, aborted or could not start says so."""
    if report.when != "call" or not report.failed:
        return None
    status = dict(report.user_properties).get("drill_status")
    return _LABELS.get(str(status))


@pytest.fixture
def drill(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DrillFixture:
    """Run drills from a Python test: `report = drill.run("scenarios/x.yaml", ...)`."""
    node = request.node
    assert isinstance(node, pytest.Item)
    return DrillFixture(
        settings=request.config.stash[SETTINGS],
        default=request.config.stash.get(DRILL, None),
        node=node,
        scratch=lambda: tmp_path_factory.mktemp("drill-inputs"),
    )
