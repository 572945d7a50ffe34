"""The Prometheus HTTP API, as the runner needs it: instant and range queries, the scrape interval.

This is the only module that imports `prometheus_api_client` (and `requests`). It owns:
retries (tenacity, exponential backoff, on connection errors and 5xx only), translating
every transport or API failure into `PrometheusError` with a one-line message, resolving
`SecretRef` credentials, and the frozen sample values (`Vector`, `Series`) the rest of the
runner works on. Credentials never appear in a message, a log line or a repr.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
import yaml
from prometheus_api_client import PrometheusConnect
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity import wait_exponential as _wait_exponential
from urllib3.util.retry import Retry

from runner import redact
from runner.errors import ConfigurationError, PrometheusError
from runner.scenario import model
from runner.scenario.secrets import resolve_secret

log = logging.getLogger(__name__)

RAW_CHUNK = timedelta(hours=1)
"""Raw-sample reads longer than this are split into several instant queries."""
MAX_POINTS = 11_000
"""Prometheus refuses range queries with more points per series than this; longer ones are split."""
_CHUNK_POINTS = 10_000
_DURATION_RE = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True, kw_only=True)
class Vector:
    """One element of an instant-query answer."""

    labels: Mapping[str, str]
    timestamp: float
    """Unix seconds."""
    value: float


@dataclass(frozen=True, kw_only=True)
class Series:
    """One series of a range-query answer: labels and time-ordered (unix seconds, value) pairs."""

    labels: Mapping[str, str]
    samples: tuple[tuple[float, float], ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe: non-finite values are written as Prometheus writes them ("NaN", "+Inf")."""
        return {
            "labels": dict(self.labels),
            "samples": [[t, _json_value(v)] for t, v in self.samples],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Series:
        samples = tuple((float(t), float(v)) for t, v in data["samples"])
        return cls(labels=dict(data["labels"]), samples=samples)


def _json_value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


class PrometheusHttpError(PrometheusError):
    """Prometheus answered with an HTTP error status (kept in `status`)."""

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)


class _HttpStatusError(Exception):
    """A non-200 answer, raised from a response hook so the status and body survive."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}")


def _raise_for_status(response: requests.Response, *args: object, **kwargs: object) -> None:
    if response.status_code != 200:
        raise _HttpStatusError(response.status_code, response.content[:4096])


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _HttpStatusError):
        return exc.status >= 500
    return isinstance(exc, requests.ConnectionError)


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment: safe to show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def parse_prometheus_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as `15s`, `1m30s`, `500ms`."""
    parts = _DURATION_RE.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


class PrometheusClient:
    """A Prometheus server, queried over HTTP with retries and honest errors."""

    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_file: str | None = None,
        insecure: bool = False,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry_attempts: int = 4,
        retry_max_wait: float = 8.0,
    ) -> None:
        redact.register_url(url)  # a server may echo a token of its URL back
        parts = urlsplit(url)
        # `http://h/prom?token=x`: the API paths go after the path, the query on every request
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.display_url = safe_url(self.url)
        self._timeout = timeout
        self._attempts = max(1, retry_attempts)
        self._max_wait = retry_max_wait
        secrets = (bearer_token, basic_auth and basic_auth[1], urlsplit(url).password)
        self._secrets = tuple(s for s in secrets if s)
        self._headers = dict(headers or {})
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._auth = basic_auth
        self._session = requests.Session()
        self._session.params = dict(parse_qsl(parts.query, keep_blank_values=True))
        self._session.verify = False if insecure else (ca_file or True)
        self._session.hooks["response"].append(_raise_for_status)
        self._conn = PrometheusConnect(
            url=self.url,
            headers=self._headers,
            auth=basic_auth,
            session=self._session,
            timeout=timeout,
            retry=Retry(0, read=False),
        )
        self._lock = threading.Lock()
        self._requests = 0
        self._bytes = 0
        self._session.hooks["response"].append(self._count_bytes)

    @classmethod
    def from_source(
        cls, source: model.PrometheusSource, *, url: str | None = None, **kwargs: Any
    ) -> PrometheusClient:
        """Build from a drill's `prometheus:` block; `url` overrides it (the lab's address)."""
        address = url or source.url
        if not address:
            raise ConfigurationError("prometheus: 'lab: true' needs the running lab's URL")
        token = None
        if source.bearer_token is not None:
            token = resolve_secret(source.bearer_token, what="prometheus.bearerToken")
        basic = None
        if source.basic_auth is not None:
            password = resolve_secret(source.basic_auth.password, what="prometheus.basicAuth")
            basic = (source.basic_auth.username, password)
        if source.ca_file and not Path(source.ca_file).is_file():
            raise ConfigurationError(f"prometheus.caFile: {source.ca_file} does not exist")
        return cls(
            address,
            bearer_token=token,
            basic_auth=basic,
            ca_file=source.ca_file,
            insecure=source.insecure_skip_verify,
            headers=source.headers,
            timeout=source.timeout.total_seconds(),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"PrometheusClient(url={self.display_url!r})"

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far, retries included."""
        with self._lock:
            return self._requests

    @property
    def bytes_received(self) -> int:
        """Response body bytes received so far (every request, retries included)."""
        with self._lock:
            return self._bytes

    def _count_bytes(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        with self._lock:
            self._bytes += len(response.content)

    def close(self) -> None:
        self._conn.close()

    def query(self, expr: str, at: datetime) -> list[Vector]:
        """Evaluate `expr` at the instant `at` (aware)."""
        params = {"time": _ts(at)}
        result = self._call(lambda: self._conn.custom_query(expr, params=params), what=expr)
        if _is_scalar(result):
            return [Vector(labels={}, timestamp=float(result[0]), value=float(result[1]))]
        return [
            Vector(
                labels=dict(r["metric"]), timestamp=float(r["value"][0]), value=float(r["value"][1])
            )
            for r in result
        ]

    def query_range(
        self, expr: str, start: datetime, end: datetime, step_seconds: float
    ) -> list[Series]:
        """Evaluate `expr` at start, start+step, ... end (split into several requests if long)."""
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        merged: dict[frozenset[tuple[str, str]], tuple[dict[str, str], list[tuple[float, float]]]]
        merged = {}
        for lo, hi in _chunks(start, end, step_seconds):
            for r in self._range_once(expr, lo, hi, step_seconds):
                labels = dict(r.get("metric", {}))
                key = frozenset(labels.items())
                samples = [(float(t), float(v)) for t, v in r["values"]]
                merged.setdefault(key, (labels, []))[1].extend(samples)
        return [Series(labels=labels, samples=tuple(s)) for labels, s in merged.values()]

    def query_raw(self, selector: str, start: datetime, end: datetime) -> list[Series]:
        """The raw samples, with their own timestamps, of a plain vector `selector` in
        [start, end]: one instant query `selector[range]` at `end` per RAW_CHUNK. Raw
        samples show what was really stored: no value is repeated into a gap, and a
        staleness marker is no sample."""
        if end < start:
            raise ValueError("the end of a raw read is before its start")
        lo_s, hi_s = start.timestamp(), end.timestamp()
        merged: dict[frozenset[tuple[str, str]], tuple[dict[str, str], dict[float, float]]] = {}
        piece_end = end
        while True:
            piece_start = max(start, piece_end - RAW_CHUNK)
            span_ms = round((piece_end - piece_start).total_seconds() * 1000) + 1
            params = {"time": _ts(piece_end)}
            query = f"{selector}[{span_ms}ms]"
            result = self._raw_once(query, params, selector)
            for r in result:
                labels = dict(r.get("metric", {}))
                key = frozenset(labels.items())
                kept = merged.setdefault(key, (labels, {}))[1]
                for t, v in r["values"]:
                    if lo_s - 5e-4 <= float(t) <= hi_s + 5e-4:
                        kept[float(t)] = float(v)
            if piece_start <= start:
                break
            piece_end = piece_start
        return [
            Series(labels=labels, samples=tuple(sorted(points.items())))
            for labels, points in merged.values()
        ]

    def _raw_once(self, query: str, params: dict[str, str], what: str) -> Any:
        return self._call(lambda: self._conn.custom_query(query, params=params), what=what)

    def _range_once(self, expr: str, lo: datetime, hi: datetime, step: float) -> Any:
        # The client rounds start/end to whole seconds; our params override that.
        params = {"start": _ts(lo), "end": _ts(hi), "step": f"{step:g}"}
        return self._call(
            lambda: self._conn.custom_query_range(
                expr, start_time=lo, end_time=hi, step=params["step"], params=params
            ),
            what=expr,
        )

    def scrape_interval(self) -> float | None:
        """The smallest scrape interval in the server's configuration, or None if not readable."""

        def fetch() -> Any:
            response = self._session.get(
                f"{self.url}/api/v1/status/config",
                headers=self._headers,
                auth=self._auth,
                timeout=self._timeout,
            )
            return response.json()["data"]["yaml"]

        try:
            text = self._call(fetch, what="/api/v1/status/config")
        except PrometheusError as e:
            if isinstance(e, PrometheusHttpError) and e.status in {401, 403, 404, 405}:
                log.info("Prometheus at %s does not show its configuration", self.display_url)
                return None
            raise
        try:
            config = yaml.safe_load(text) or {}
            default = (config.get("global") or {}).get("scrape_interval", "1m")
            intervals = [
                parse_prometheus_duration(str(job.get("scrape_interval", default)))
                for job in config.get("scrape_configs") or []
            ]
            return min(intervals) if intervals else parse_prometheus_duration(str(default))
        except (yaml.YAMLError, ValueError, AttributeError, TypeError):
            log.warning("Prometheus at %s has a configuration I cannot read", self.display_url)
            return None

    # ------------------------------------------------------------------ transport

    def _call(self, fn: Callable[[], Any], *, what: str) -> Any:
        def attempt() -> Any:
            with self._lock:
                self._requests += 1
            return fn()

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=_wait_exponential(multiplier=0.5, max=self._max_wait),
            retry=retry_if_exception(_is_transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _HttpStatusError as e:
            raise self._status_error(e, what=what) from None
        except requests.Timeout:
            raise PrometheusError(
                f"Prometheus at {self.display_url} did not answer within {self._timeout:g}s"
                f" (query: {what})"
            ) from None
        except requests.ConnectionError:
            raise PrometheusError(
                f"Prometheus at {self.display_url} is unreachable after {self._attempts} attempt(s)"
            ) from None
        except requests.RequestException as e:
            raise PrometheusError(
                f"request to Prometheus at {self.display_url} failed: {type(e).__name__}"
            ) from None
        except (ValueError, KeyError, TypeError, IndexError):
            raise PrometheusError(
                f"Prometheus at {self.display_url} sent an answer that is not a Prometheus API"
                f" response (query: {what})"
            ) from None

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = f"HTTP {exc.status}" if isinstance(exc, _HttpStatusError) else type(exc).__name__
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Prometheus request attempt #%d/%d failed; will retry in %.1fs: %s %s",
            state.attempt_number,
            self._attempts,
            wait,
            self.display_url,
            reason,
        )

    def _status_error(self, e: _HttpStatusError, *, what: str) -> PrometheusHttpError:
        message = self._redact(_api_message(e.body))
        if e.status in (400, 422):
            text = f"Prometheus rejected the query {what!r}: {message}"
        elif e.status >= 500:
            text = (
                f"Prometheus at {self.display_url} failed with HTTP {e.status}"
                f" after {self._attempts} attempt(s): {message}"
            )
        else:
            text = f"Prometheus at {self.display_url} answered HTTP {e.status}: {message}"
        return PrometheusHttpError(text, status=e.status)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact.text(text)


def _api_message(body: bytes) -> str:
    """Prometheus's own error text from an error body, else the body's first line, shortened."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        if isinstance(data, dict) and data.get("error"):
            text = str(data["error"])
    except ValueError:
        pass
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


def _is_scalar(result: Any) -> bool:
    return (
        isinstance(result, list)
        and len(result) == 2
        and not isinstance(result[0], dict)
        and isinstance(result[1], str)
    )


def _ts(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("times given to Prometheus must be timezone-aware")
    return f"{at.timestamp():.3f}"


def _chunks(start: datetime, end: datetime, step: float) -> Iterator[tuple[datetime, datetime]]:
    if end < start:
        raise ValueError("the end of a range query is before its start")
    points = math.floor((end - start).total_seconds() / step) + 1
    if points <= MAX_POINTS:
        yield start, end
        return
    lo = start
    while lo <= end:
        hi = min(end, lo + timedelta(seconds=step * (_CHUNK_POINTS - 1)))
        yield lo, hi
        lo = lo + timedelta(seconds=step * _CHUNK_POINTS)
