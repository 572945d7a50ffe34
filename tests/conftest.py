"""Shared test configuration: opt-in markers for tests that need a real cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.lab import Lab, start_lab

pytest_plugins = ["pytester"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--with-cluster", action="store_true", help="run tests that need a real Kubernetes cluster"
    )
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="a skipped test fails, with its reason (scripts/test.sh under CI and as root)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need a real cluster are opt-in: without --with-cluster they are deselected
    (not skipped: nothing here could run them)."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_worker_group(item)))
    if config.getoption("--with-cluster"):
        return
    opted_out = [item for item in items if "cluster" in item.keywords]
    if opted_out:
        config.hook.pytest_deselected(items=opted_out)
        items[:] = [item for item in items if "cluster" not in item.keywords]


# Folders whose tests share one costly session fixture (two kube-apiservers; a backfilled
# Prometheus): under pytest-xdist each folder runs on one worker, so it is started once.
_SHARED_SESSION = ("envtest", "measure")


def _worker_group(item: pytest.Item) -> str:
    """Which tests pytest-xdist (`--dist loadgroup`) keeps on one worker: a module's tests
    together (module fixtures: a lab, a database), a shared-session folder's tests together."""
    path = item.path
    if path.is_relative_to(item.config.rootpath):
        path = path.relative_to(item.config.rootpath)
        if len(path.parts) > 2 and path.parts[1] in _SHARED_SESSION:
            return path.parts[1]
    return path.as_posix()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under --no-skips a skip is a failure: where setup installed everything, a test that
    cannot run is a broken setup, not something to pass over."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and item.config.getoption("--no-skips") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and --no-skips is on: {reason}"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Secrets a test resolved are masked in that test only (runner.redact is per process)."""
    yield
    from runner import redact

    redact.forget_all()


@pytest.fixture(scope="session")
def _session_lab() -> Iterator[Lab]:
    """One real local lab for the whole test session (e2e and pytest-plugin tests)."""
    yield from start_lab()


@pytest.fixture
def lab(_session_lab: Lab) -> Lab:
    """The session's lab, running: started again first if an earlier test left it down."""
    _session_lab.revive()
    return _session_lab
