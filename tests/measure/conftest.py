"""Fixtures: one real Prometheus holding the backfilled drill history, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runner.prom import PrometheusClient
from runner.scenario import model
from tests.infra.prometheus import PROMETHEUS, PrometheusServer
from tests.measure import history


@pytest.fixture(scope="session")
def history_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed")
    work = tmp_path_factory.mktemp("prom-history")
    with PrometheusServer(
        work, scrape_interval="5s", backfill_openmetrics=history.history().text()
    ) as server:
        yield server


@pytest.fixture
def prom(history_prometheus: PrometheusServer) -> Iterator[PrometheusClient]:
    client = PrometheusClient(history_prometheus.url, retry_max_wait=0)
    yield client
    client.close()


def make_spec(**spec: Any) -> model.ScenarioSpec:
    """A minimal valid scenario spec with the given measurement sections (YAML names)."""
    base: dict[str, Any] = {
        "clusters": [{"name": "east"}],
        "faults": [{"name": "loss", "type": "cluster-loss", "cluster": "east", "duration": "1m"}],
    }
    return model.ScenarioSpec.model_validate({**base, **spec})
