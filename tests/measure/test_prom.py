"""PrometheusClient over real HTTP: a real Prometheus, and tiny servers for failures and auth."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runner.errors import ConfigurationError, PrometheusError
from runner.prom import PrometheusClient, PrometheusHttpError
from runner.scenario import model
from tests.infra.prometheus import free_port
from tests.measure import history

pytestmark = pytest.mark.prometheus
TOKEN = "tok-3f9a-very-secret"
PASSWORD = "pw-77c1-very-secret"
OK_VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {"job": "x"}, "value": [1.0, "7"]}]},
}

Reply = Callable[[BaseHTTPRequestHandler], tuple[int, bytes]]


class FakeServer:
    """Real HTTP on 127.0.0.1: answers with `reply(handler)` and records every request."""

    def __init__(self, reply: Reply) -> None:
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append({"path": self.path, **dict(self.headers)})
                status, body = reply(self)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[Callable[[Reply], FakeServer]]:
    servers: list[FakeServer] = []

    def start(reply: Reply) -> FakeServer:
        servers.append(FakeServer(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_instant_and_range_queries_return_frozen_values(prom: PrometheusClient) -> None:
    (vector,) = prom.query('drill_sli{case="clean"}', history.at(30))
    assert vector.value == 0.0 and vector.labels["case"] == "clean"
    assert vector.timestamp == pytest.approx(history.F + 30)

    (series,) = prom.query_range('drill_sli{case="clean"}', history.at(0), history.at(70), 5)
    assert [v for _, v in series.samples] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert series.samples[0][0] == pytest.approx(history.F)

    (scalar,) = prom.query("1 + 1", history.at(0))
    assert scalar.value == 2.0 and scalar.labels == {}


def test_long_ranges_are_split_under_the_point_limit(prom: PrometheusClient) -> None:
    before = prom.requests_made
    (series,) = prom.query_range("vector(1)", history.at(0), history.at(12_000), 1)
    assert len(series.samples) == 12_001
    assert prom.requests_made - before == 2


def test_raw_reads_return_stored_samples_only(prom: PrometheusClient) -> None:
    """`gap` has no sample from F+35 to F+400: a raw read shows the hole that a range
    query would fill with the last value for five minutes."""
    (series,) = prom.query_raw('drill_sli{case="gap"}', history.at(0), history.at(500))
    times = [t - history.F for t, _ in series.samples]
    assert times[0] == 0 and 30 in times and 400 in times
    assert not [t for t in times if 30 < t < 400]
    (grid,) = prom.query_range('drill_sli{case="gap"}', history.at(0), history.at(500), 5)
    assert len(grid.samples) > len(series.samples)  # the range query repeats into the hole


def test_long_raw_reads_are_split_and_merged(prom: PrometheusClient) -> None:
    before = prom.requests_made
    (series,) = prom.query_raw('drill_sli{case="clean"}', history.at(-1200), history.at(900))
    assert prom.requests_made - before == 1
    whole = [t for t, _ in series.samples]
    assert whole == sorted(set(whole)) and len(whole) == 2100 // 5 + 1
    # over an hour: one instant query per hour, no sample lost or doubled at the seams
    start = history.at(-1200)
    before = prom.requests_made
    (long,) = prom.query_raw('drill_sli{case="clean"}', start - timedelta(hours=2), history.at(900))
    assert prom.requests_made - before == 3
    assert [t for t, _ in long.samples] == whole


def test_scrape_interval_is_read_from_the_config(prom: PrometheusClient) -> None:
    assert prom.scrape_interval() == 5.0


def test_bad_promql_is_one_line_with_prometheus_message(prom: PrometheusClient) -> None:
    before = prom.requests_made
    with pytest.raises(PrometheusHttpError) as err:
        prom.query("sum(rate(x[5m]) by", history.at(0))
    text = str(err.value)
    assert text.startswith("Prometheus rejected the query 'sum(rate(x[5m]) by': ")
    assert "parse error" in text and "\n" not in text
    assert err.value.status == 400
    assert err.value.__suppress_context__ and err.value.__cause__ is None
    assert prom.requests_made - before == 1  # never retried


def test_unreachable_prometheus_is_named_after_all_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = PrometheusClient(url, bearer_token=TOKEN, retry_attempts=3, retry_max_wait=0)
    with pytest.raises(PrometheusError) as err:
        client.query("up", history.at(0))
    assert str(err.value) == f"Prometheus at {url} is unreachable after 3 attempt(s)"
    assert client.requests_made == 3
    assert TOKEN not in repr(client) and TOKEN not in str(err.value)


def test_5xx_is_retried_and_then_succeeds(fake: Callable[[Reply], FakeServer]) -> None:
    answers = iter(
        [(503, b'{"status":"error","error":"busy"}'), (200, json.dumps(OK_VECTOR).encode())]
    )
    server = fake(lambda h: next(answers))
    client = PrometheusClient(server.url, retry_max_wait=0)
    (vector,) = client.query("up", history.at(0))
    assert vector.value == 7.0
    assert client.requests_made == 2


def test_5xx_that_persists_fails_with_the_status(fake: Callable[[Reply], FakeServer]) -> None:
    server = fake(lambda h: (502, b"bad gateway"))
    client = PrometheusClient(server.url, retry_attempts=2, retry_max_wait=0)
    with pytest.raises(PrometheusHttpError) as err:
        client.query_range("up", history.at(0), history.at(10), 5)
    assert err.value.status == 502
    assert "HTTP 502 after 2 attempt(s): bad gateway" in str(err.value)
    assert len(server.requests) == 2


def echo_authorization(h: BaseHTTPRequestHandler) -> tuple[int, bytes]:
    """A proxy that echoes the credentials it got back in its error."""
    return 401, json.dumps({"error": f"denied: {h.headers.get('Authorization')}"}).encode()


def test_bearer_token_is_sent_but_never_shown(fake: Callable[[Reply], FakeServer]) -> None:
    server = fake(echo_authorization)
    client = PrometheusClient(
        server.url, bearer_token=TOKEN, headers={"X-Scope-OrgID": "team-a"}, retry_max_wait=0
    )
    with pytest.raises(PrometheusHttpError) as err:
        client.query("up", history.at(0))
    assert server.requests[0]["Authorization"] == f"Bearer {TOKEN}"
    assert server.requests[0]["X-Scope-OrgID"] == "team-a"
    for shown in (str(err.value), repr(err.value), repr(client)):
        assert TOKEN not in shown
    assert str(err.value) == f"Prometheus at {server.url} answered HTTP 401: denied: Bearer ***"


def test_password_in_the_url_is_never_shown(fake: Callable[[Reply], FakeServer]) -> None:
    server = fake(echo_authorization)
    host = server.url.removeprefix("http://")
    client = PrometheusClient(f"http://admin:{PASSWORD}@{host}", retry_max_wait=0)
    with pytest.raises(PrometheusHttpError) as err:
        client.query("up", history.at(0))
    assert server.requests[0]["Authorization"].startswith("Basic ")
    for shown in (str(err.value), repr(err.value), repr(client)):
        assert PASSWORD not in shown and "admin" not in shown


def test_basic_auth_from_a_secret_file(fake: Callable[[Reply], FakeServer], tmp_path: Path) -> None:
    server = fake(lambda h: (200, json.dumps(OK_VECTOR).encode()))
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    source = model.PrometheusSource.model_validate(
        {"url": server.url, "basicAuth": {"username": "drill", "password": {"file": str(secret)}}}
    )
    client = PrometheusClient.from_source(source)
    client.query("up", history.at(0))
    expected = base64.b64encode(f"drill:{PASSWORD}".encode()).decode()
    assert server.requests[0]["Authorization"] == f"Basic {expected}"


def test_missing_secrets_name_their_source_not_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRILL_TEST_PROM_TOKEN", raising=False)
    source = model.PrometheusSource.model_validate(
        {"url": "http://127.0.0.1:1", "bearerToken": {"env": "DRILL_TEST_PROM_TOKEN"}}
    )
    with pytest.raises(
        ConfigurationError, match="environment variable DRILL_TEST_PROM_TOKEN is not set"
    ):
        PrometheusClient.from_source(source)
    missing = tmp_path / "nope"
    source = model.PrometheusSource.model_validate(
        {"url": "http://127.0.0.1:1", "bearerToken": {"file": str(missing)}}
    )
    with pytest.raises(ConfigurationError, match=r"cannot read secret file .*nope"):
        PrometheusClient.from_source(source)


def test_lab_source_needs_the_lab_url() -> None:
    source = model.PrometheusSource.model_validate({"lab": True, "timeout": "5s"})
    with pytest.raises(ConfigurationError, match="lab"):
        PrometheusClient.from_source(source)
    client = PrometheusClient.from_source(source, url="http://127.0.0.1:9")
    assert client.url == "http://127.0.0.1:9"
    assert source.timeout == timedelta(seconds=5)
