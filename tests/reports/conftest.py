"""Recorded runs for the report tests (see fixtures/README.md) and helpers to copy them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = {
    "passed": "lab-region-failover-20261124-100307-2f5d",
    "failed": "lab-replication-lag-breach-20261124-100347-5470",
    "aborted": "lab-region-failover-20261124-095357-e23a",
    "inconclusive": "lab-region-failover-20261124-100436-edited",
}


def fixture_dir(status: str) -> Path:
    return FIXTURES / RUNS[status]


def load_run(status: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixture_dir(status) / "run.json").read_text())
    return data


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """An empty results folder."""
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def copy_run(results: Path) -> Callable[[str], Path]:
    """Copy a recorded run into `results`, so a test can write next to it."""

    def copy(status: str) -> Path:
        return Path(shutil.copytree(fixture_dir(status), results / RUNS[status]))

    return copy
