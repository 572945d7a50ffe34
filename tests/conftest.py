"""Shared test configuration: opt-in markers for tests that need a real cluster."""

from __future__ import annotations

import pytest


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
