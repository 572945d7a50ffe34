"""Scalar values users write by hand: durations (`30s`, `1h30m`), expectations (`>= 0.99`)
and http(s) URLs.

Durations and expectations parse into small frozen values with a canonical text form, so a
model round-trips to YAML and JSON as users wrote it. A URL stays text, checked the way the
HTTP clients will read it (scheme, host, port), and is shown in messages with its
credentials and query values masked.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from runner import redact

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
MAX_DURATION_SECONDS = 366 * 86400.0


def parse_duration(text: object) -> timedelta:
    """Parse `30s`, `5m`, `1h30m`, `250ms` into a timedelta; reject anything else."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a duration like '5m', got {_show(text)}")
    s = text.strip()
    if not s or not _DURATION_RE.match(s):
        raise ValueError(f"expected a duration like '5m', '30s' or '1h30m', got {_show(text)}")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART_RE.findall(s))
    if not math.isfinite(seconds) or seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {_show(text)} is longer than a year")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest canonical text for a duration: 90s -> '1m30s', 0.25s -> '250ms'."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, total_ms = divmod(total_ms, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m", "1h30m"]}
    ),
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_EXPECT_RE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
EXPECTATION_PATTERN = r"^\s*(>=|<=|==|!=|>|<)\s*\S+\s*$"


@dataclass(frozen=True)
class Expectation:
    """A comparison such as `>= 0.99` or `< 5m` (durations compare in seconds)."""

    op: str
    value: float
    text: str

    def holds(self, measured: float) -> bool:
        """True if `measured` satisfies the comparison (NaN never does)."""
        if math.isnan(measured):
            return False
        return _OPS[self.op](measured, self.value)

    def __str__(self) -> str:
        return self.text


def parse_expectation(text: object) -> Expectation:
    """Parse `>= 0.99`, `< 5m`, `== 1` into an Expectation."""
    if isinstance(text, Expectation):
        return text
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a comparison like '>= 0.99' or '< 5m', got {_show(text)}")
    m = _EXPECT_RE.match(text)
    if not m:
        raise ValueError(f"expected a comparison like '>= 0.99' or '< 5m', got {_show(text)}")
    op, raw = m.groups()
    try:
        value = float(raw)
    except ValueError:
        try:
            value = parse_duration(raw).total_seconds()
        except ValueError:
            raise ValueError(
                f"expected a number or a duration after {op!r}, got {_show(raw)}"
            ) from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number after {op!r}, got {_show(raw)}")
    return Expectation(op=op, value=value, text=f"{op} {raw}")


Comparison = Annotated[
    Expectation,
    BeforeValidator(parse_expectation),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": EXPECTATION_PATTERN, "examples": [">= 0.99", "< 5m"]}
    ),
]


def check_http_url(text: str) -> str:
    """`text` if it is an http(s) URL with a host and a valid port, else ValueError."""
    shown = _show(redact.url(text))
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"expected an http(s) URL without spaces, got {shown}")
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as e:  # a bad [IPv6] literal or a port out of range
        raise ValueError(f"expected a valid URL ({_reason(e)}), got {shown}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"expected an http:// or https:// URL, got {shown}")
    if not host:
        raise ValueError(f"expected a URL with a host, got {shown}")
    if port == 0:
        raise ValueError(f"expected a port from 1 to 65535, got {shown}")
    return text


def _reason(error: ValueError) -> str:
    text = str(error)
    return "the port is not a number from 1 to 65535" if "ort" in text else "a bad IPv6 address"


HttpUrl = Annotated[
    str,
    AfterValidator(check_http_url),
    WithJsonSchema({"type": "string", "pattern": "^https?://", "format": "uri"}),
]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
