"""What an API server's answer says about the object that was sent: which fields it dropped.

Kubernetes before 1.25 ignores `fieldValidation=Strict` and prunes, without a word, every
field a CRD's structural schema does not declare. The only proof that nothing was dropped is
the answer itself: every key that was sent must come back. Values may differ (a mutating
webhook may default or normalise them); a key that is missing was pruned. A key sent as
null counts as absent (the server prunes nulls too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IGNORED = frozenset({"status"})
"""Top-level keys the server owns (a create ignores a `status` that was sent)."""


def dropped_fields(sent: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    """Paths of keys in `sent` that `got` lacks, e.g. `spec.selector.labelSelector`."""
    kept = {k: v for k, v in sent.items() if k not in IGNORED}
    return _compare(kept, got, "")


def _join(path: str, key: object) -> str:
    text = str(key)
    if "." in text or "[" in text:
        return f"{path}[{text!r}]"
    return f"{path}.{text}" if path else text


def _compare(sent: Any, got: Any, path: str) -> list[str]:
    if isinstance(sent, Mapping):
        if not isinstance(got, Mapping):
            return []  # the value changed shape (defaulting): not a dropped key
        out: list[str] = []
        for key, value in sent.items():
            sub = _join(path, key)
            if key in got:
                out += _compare(value, got[key], sub)
            elif value is not None:
                out.append(sub)
        return out
    if isinstance(sent, list) and isinstance(got, list) and len(sent) == len(got):
        out = []
        for i, (a, b) in enumerate(zip(sent, got, strict=True)):
            out += _compare(a, b, f"{path}[{i}]")
        return out
    return []
