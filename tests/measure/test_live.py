"""Live-scrape conformance: a real exporter scraped every second, so Prometheus writes
staleness markers when a series vanishes or a target goes down (unlike the backfilled
cases of test_conformance.py, where every hole is filled in).

Four cases run at once against one Prometheus, each with a known timeline (the world):
a clean outage, a series that vanishes while down, a target that answers 503 while down,
and a `min()` over two series one of which ends cleanly (a staleness marker, not a gap).
The engine's verification is polled live while they unfold; the result is compared with
the oracle (fed with the raw samples read over plain HTTP) and with the world."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import Gauge

from runner.engine.prometheus_metrics import PrometheusMetrics
from runner.measure import collect, timebase
from runner.prom import PrometheusClient
from runner.scenario import model
from tests.infra.prometheus import PROMETHEUS, LiveExporter, PrometheusServer
from tests.measure import oracle

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed"),
]


class Exporter:
    """A live exporter whose series can be set, removed (not exposed: a staleness marker
    follows) or all made unreachable (`down`: 503, every series marked stale)."""

    def __init__(self) -> None:
        self.live = LiveExporter()
        self.sli = self.live.gauge("drill_live_sli", labels=["case"])
        self.multi = self.live.gauge("drill_live_multi", labels=["case", "instance"])

    @property
    def target(self) -> str:
        return self.live.target

    def set(self, **changes: float | None) -> None:
        for key, value in changes.items():
            gauge, labels = SERIES[key]
            if value is None:
                gauge(self).remove(*labels)
            else:
                gauge(self).labels(*labels).set(value)

    def close(self) -> None:
        self.live.close()


SERIES: dict[str, tuple[Callable[[Exporter], Gauge], tuple[str, ...]]] = {
    "clean": (lambda e: e.sli, ("live-clean",)),
    "vanish": (lambda e: e.sli, ("live-vanish",)),
    "down": (lambda e: e.sli, ("live-target-down",)),
    "min_a": (lambda e: e.multi, ("live-min", "a")),
    "min_b": (lambda e: e.multi, ("live-min", "b")),
}
QUERIES = {
    "live-clean": 'drill_live_sli{case="live-clean"}',
    "live-vanish": 'drill_live_sli{case="live-vanish"}',
    "live-target-down": 'drill_live_sli{case="live-target-down"}',
    "live-min": 'min(drill_live_multi{case="live-min"})',
}
HOLD, WINDOW, OBJECTIVE = 3, 16, 30


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    main, second = Exporter(), Exporter()
    main.set(clean=1, vanish=1, min_a=1, min_b=1)
    second.set(down=1)
    work = tmp_path_factory.mktemp("live")
    with PrometheusServer(
        work, scrape_targets=[main.target, second.target], scrape_interval="1s"
    ) as srv:
        client = PrometheusClient(srv.url, retry_max_wait=0)
        _wait_until_scraped(srv.url, 4)
        t0 = datetime.now(UTC)
        metrics = PrometheusMetrics(client)
        verifiers = {
            case: metrics.verification(_spec(q), fault_start=t0, fault_requested=None)
            for case, q in QUERIES.items()
        }
        world: dict[str, float] = {}

        def at(offset: float) -> None:
            time.sleep(
                max(0.0, (t0 + timedelta(seconds=offset) - datetime.now(UTC)).total_seconds())
            )
            for v in verifiers.values():
                v.poll(datetime.now(UTC))

        at(1.0)
        main.set(clean=0, vanish=0, min_a=0, min_b=0)
        second.set(down=0)
        at(2.3)
        second.live.down = True
        at(3.2)
        main.set(vanish=None)
        at(4.6)
        main.set(clean=1, min_a=1, min_b=1)
        world["live-clean"] = world["live-min"] = (datetime.now(UTC) - t0).total_seconds()
        at(6.4)
        second.set(down=1)
        second.live.down = False
        world["live-target-down"] = (datetime.now(UTC) - t0).total_seconds()
        at(7.1)
        main.set(vanish=1)
        world["live-vanish"] = (datetime.now(UTC) - t0).total_seconds()
        at(9.5)
        main.set(min_b=None)  # ends cleanly: a staleness marker, not a gap
        at(WINDOW + 1.5)
        end = t0 + timedelta(seconds=WINDOW)
        results = {case: v.finish(end, failover_done=None) for case, v in verifiers.items()}
        yield {
            "client": client,
            "url": srv.url,
            "t0": t0,
            "end": end,
            "world": world,
            "results": results,
        }
        client.close()
    main.close()
    second.close()


def _spec(sli: str) -> model.ScenarioSpec:
    return model.ScenarioSpec.model_validate(
        {
            "clusters": [{"name": "east"}],
            "faults": [
                {"name": "loss", "type": "cluster-loss", "cluster": "east", "duration": "1m"}
            ],
            "measure": {"rto": {"sli": sli, "upWhen": ">= 1", "hold": f"{HOLD}s"}},
            "objectives": {"rto": f"{OBJECTIVE}s"},
        }
    )


def _get(url: str, path: str, **params: str) -> object:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=5) as r:
        return json.loads(r.read())["data"]


def _wait_until_scraped(url: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        data = _get(
            url, "/api/v1/query", query='count_over_time(drill_live_sli{case="live-clean"}[1m])'
        )
        if data["result"] and float(data["result"][0]["value"][1]) >= count:  # type: ignore[index]
            return
        time.sleep(0.2)
    raise AssertionError("Prometheus did not scrape the live exporter")


def _raw(url: str, selector: str, end: datetime) -> list[list[tuple[int, float]]]:
    data = _get(url, "/api/v1/query", query=f"{selector}[5m]", time=f"{end.timestamp():.3f}")
    return [
        [(round(float(t) * 1000), float(v)) for t, v in r["values"]]
        for r in data["result"]  # type: ignore[index]
    ]


@pytest.mark.parametrize("case", list(QUERIES))
def test_live_scrape_conforms(live: dict[str, object], case: str) -> None:
    url, t0, end = str(live["url"]), live["t0"], live["end"]
    assert isinstance(t0, datetime) and isinstance(end, datetime)
    result = live["results"][case]  # type: ignore[index]
    got = result.rto
    f, w = timebase.ms(t0), timebase.ms(end)
    if case == "live-min":
        a, b = _raw(url, 'drill_live_multi{case="live-min"}', end)
        # b ended cleanly: Prometheus drops it at the staleness marker, one scrape after
        # its last sample; the oracle stops reading it there
        view = oracle.view_aggregate(
            [a, b], min, lo=f - 300_000, hi=w, step=1000, ended={1: b[-1][0] + 1000}
        )
    else:
        (samples,) = _raw(url, QUERIES[case], end)
        view = oracle.view_selector(samples, f - 300_000, w)
    truth = oracle.rto(
        view, healthy=lambda v: v >= 1, hold=HOLD * 1000, f=f, w=w, objective=OBJECTIVE
    )
    assert (got.outcome.value, got.status.value) == (truth.outcome, truth.status), got.explanation
    assert got.bounds is not None and truth.lower is not None and truth.upper is not None
    assert got.bounds.lower == pytest.approx(truth.lower, abs=1e-3)
    assert got.bounds.upper == pytest.approx(truth.upper, abs=1e-3)
    real = live["world"][case]  # type: ignore[index]
    assert got.bounds.lower - 1e-3 <= real <= got.bounds.upper + 1e-3, (real, got.explanation)
    if case in ("live-vanish", "live-target-down"):
        assert got.gaps, "the staleness marker must leave the SLI unknown, not healthy"
    if case == "live-min":
        assert not got.gaps, "a series that ended with a staleness marker is no gap"
    client = live["client"]
    assert isinstance(client, PrometheusClient)
    once = collect.measure(
        client, _spec(QUERIES[case]), fault_start=t0, failover_done=None, window_end=end, step_s=1.0
    )
    assert once.rto is not None and once.rto.to_json() == got.to_json()
    assert collect.remeasure(result.stored, _spec(QUERIES[case])).rto == got
