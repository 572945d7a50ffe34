"""A misbehaving Prometheus over real HTTP that echoes the credentials it was sent (its URL's
query token and password, the bearer token, the Authorization header) in error bodies,
JSON or HTML: no error message may carry them. A URL with a path and a query string keeps
both on every request (`/prom/api/v1/query?token=...&query=...`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest

from runner import redact
from runner.errors import PrometheusError
from runner.prom import PrometheusClient
from tests.measure.test_prom import OK_VECTOR, FakeServer, Reply

TOKEN = "qTok3n-8a1f-secret"
PASSWORD = "pAssw0rd-6c2e-secret"
BEARER = "b3arer-91d0-secret"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def echo(status: int, html: bool) -> Reply:
    def reply(h: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        said = f"{h.command} {h.path} Authorization: {h.headers.get('Authorization')}"
        if html:
            return status, f"<html><body><h1>{status}</h1><pre>{said}</pre></body></html>".encode()
        return status, json.dumps({"status": "error", "errorType": "x", "error": said}).encode()

    return reply


def _all_forms() -> list[str]:
    basic = base64.b64encode(f"drill:{PASSWORD}".encode()).decode()
    return [TOKEN, PASSWORD, BEARER, basic]


@pytest.fixture
def served() -> Iterator[list[FakeServer]]:
    servers: list[FakeServer] = []
    yield servers
    for server in servers:
        server.close()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 500, 502, 503])
@pytest.mark.parametrize("html", [False, True], ids=["json", "html"])
@pytest.mark.parametrize("auth", ["url-password", "bearer"])
def test_echoed_credentials_never_reach_an_error(
    served: list[FakeServer], status: int, html: bool, auth: str
) -> None:
    redact.forget_all()  # only what this client registers itself may be masked
    server = FakeServer(echo(status, html))
    served.append(server)
    host = server.url.split("://", 1)[1]
    userinfo = f"drill:{PASSWORD}@" if auth == "url-password" else ""
    client = PrometheusClient(
        f"http://{userinfo}{host}/prom/?token={TOKEN}&tenant=a",
        bearer_token=BEARER if auth == "bearer" else None,
        retry_attempts=2,
        retry_max_wait=0.01,
    )
    with pytest.raises(PrometheusError) as err:
        client.query("up", NOW)
    message = str(err.value)
    assert [s for s in _all_forms() if s in message] == []
    assert "Traceback" not in message and "\n" not in message
    sent = server.requests[0]
    assert sent["path"].startswith(f"/prom/api/v1/query?token={TOKEN}&tenant=a&query=up")
    expected = f"Basic {base64.b64encode(f'drill:{PASSWORD}'.encode()).decode()}"
    assert sent["Authorization"] == (expected if auth == "url-password" else f"Bearer {BEARER}")
    assert TOKEN not in repr(client) and PASSWORD not in repr(client)


def test_a_prometheus_url_with_a_query_string_works(served: list[FakeServer]) -> None:
    server = FakeServer(lambda h: (200, json.dumps(OK_VECTOR).encode()))
    served.append(server)
    client = PrometheusClient(f"{server.url}/prom?token={TOKEN}")
    (vector,) = client.query("up", NOW)
    assert vector.value == 7.0
    assert server.requests[0]["path"].startswith(f"/prom/api/v1/query?token={TOKEN}&query=up")
