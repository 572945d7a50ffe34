"""Secrets out of everything the runner prints or stores.

This module owns what counts as a secret and how it is masked: the credentials and the
query and fragment values of every URL in a text (`https://user:***@host/p?token=***`), the
values of mapping keys that name a credential (`password`, `token`, ...), and every value
resolved from a `SecretRef` (`register`, called by `runner.scenario.secrets`), also in its
URL-encoded and JSON-escaped forms. Every boundary that writes a record, a report, a log
line or a terminal line passes its text through here (`text`, `value`; log lines through
`runner.text.LogFilter`).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

MASK = "***"
REDACTED = "<redacted>"
"""The value of a mapping key that names a credential."""
MIN_SECRET_CHARS = 6
"""Shorter resolved secrets are not masked in free text (they would mask ordinary words)."""

_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://)([^\s\"'<>`]*)")
_REQUEST_LINE = re.compile(r"\b((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /[^\s?\"]*)\?([^\s\"]+)")
"""`GET /path?query` as HTTP libraries log it (urllib3 at debug level)."""
_AUTH_HEADER = re.compile(r"(?i)\b((?:basic|bearer)\s+)(?=\S*[0-9=._~+/-])[A-Za-z0-9._~+/=-]{8,}")
"""An HTTP Authorization value (`Basic dXNlcjpwdw==`, `Bearer abc...`), as servers echo it."""
_SECRET_KEYS = re.compile(
    r"(token|password|passwd|secret|authorization|credential|api[-_]?key|cookie)", re.IGNORECASE
)
_SECRET_PARAMS = re.compile(r"(?i)^(key|sig|signature|auth|code|pass|pwd|session|jwt|access)")
"""Query parameter names that carry a credential (besides `_SECRET_KEYS`)."""
_TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:?\d\d)?$")
"""An ISO time: nothing to mask, and it must stay parseable."""
_TRAILING = ".,;:!?)]}"
"""Punctuation that ends a sentence rather than a URL."""
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def register(secret: str) -> None:
    """Mask `secret` (and its encoded forms) wherever it appears from now on."""
    global _pattern
    forms = {secret, secret.strip(), urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]}
    forms = {f for f in forms if len(f) >= MIN_SECRET_CHARS}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def names_a_secret(name: str) -> bool:
    """Whether a key or field name says its value is a credential (`token`, `password`,
    `demotionToken`, ...): such values are never shown, and a value read from such a
    field is masked everywhere from then on (`register`)."""
    return bool(_SECRET_KEYS.search(name))


def register_url(value: str) -> None:
    """Mask the secrets a URL carries wherever they appear alone (a server may echo them):
    its user info and the values of query parameters whose names say credential."""
    for match in _URL.finditer(value):
        rest = match.group(2)
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        if "@" in authority:
            info = authority[: authority.rfind("@")]
            secret = info.split(":", 1)[1] if ":" in info else info  # a password, or a token
            register(secret)
            register(urllib.parse.unquote(secret))
        for name, _, secret in (p.partition("=") for p in re.split(r"[&;?#]", rest)[1:]):
            if secret and (_SECRET_KEYS.search(name) or _SECRET_PARAMS.search(name)):
                register(secret)
                register(urllib.parse.unquote_plus(secret))


def forget_all() -> None:
    """Forget every registered secret (tests)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def text(value: str) -> str:
    """`value` with registered secrets and URL credentials, query and fragment values masked."""
    pattern = _pattern
    if pattern is not None:
        value = pattern.sub(MASK, value)
    if "://" in value:
        value = _URL.sub(_mask_url, value)
    if "?" in value:
        value = _REQUEST_LINE.sub(lambda m: m.group(1) + "?" + _mask_pairs(m.group(2)), value)
    return _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, value)


def url(value: str) -> str:
    """One URL, safe to show: `https://user:***@host:1/path?a=***&b=***#***`."""
    return text(value)


def value(data: Any) -> Any:
    """A copy of JSON-like data with every string masked (`text`) and the values of keys
    that name a credential replaced by `<redacted>`."""
    if isinstance(data, str):
        return data if _TIME.match(data) else text(data)
    if isinstance(data, Mapping):
        return {
            k: (REDACTED if _SECRET_KEYS.search(str(k)) and v else value(v))
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [value(v) for v in data]
    return data


def _mask_url(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    kept = rest.rstrip(_TRAILING)
    rest, after = kept, rest[len(kept) :]
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if at >= 0:
            end = min(end, at)
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:  # `user:***@`, or `***@` for a user-info token
        info, host = authority[: authority.rfind("@")], authority[authority.rfind("@") :]
        authority = (info.split(":", 1)[0] + ":" + MASK if ":" in info else MASK) + host
    path, sep, fragment = tail.partition("#")
    path, qsep, query = path.partition("?")
    if qsep:
        path += "?" + _mask_pairs(query)
    if sep:
        path += "#" + (_mask_pairs(fragment) if fragment else "")
    return scheme + authority + path + after


def _mask_pairs(query: str) -> str:
    """`a=1&b=2&c` -> `a=***&b=***&***`: names kept, values masked."""
    out = []
    for part in re.split(r"([&;])", query):
        if part in ("&", ";") or not part:
            out.append(part)
        elif "=" in part:
            out.append(part.split("=", 1)[0] + "=" + MASK)
        else:
            out.append(MASK)
    return "".join(out)
