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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--with-cluster"):
        return
    skip = pytest.mark.skip(reason="needs a real Kubernetes cluster (use --with-cluster)")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """One real local lab for the whole test session (e2e and pytest-plugin tests)."""
    yield from start_lab()
