"""Reading credentials named by a `SecretRef` (an environment variable or a file).

Errors name where the secret should come from, never its value. Every value read is
registered with `runner.redact`, so it is masked wherever it would be printed or stored.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner import redact
from runner.errors import ConfigurationError
from runner.scenario import model


def resolve_secret(ref: model.SecretRef, *, what: str) -> str:
    """The secret's value. A file path is absolute once loaded (`scenario.paths`: relative to
    the file that names it)."""
    if ref.env is not None:
        value = os.environ.get(ref.env, "")
        if not value:
            raise ConfigurationError(f"{what}: environment variable {ref.env} is not set")
        redact.register(value)
        return value
    assert ref.file is not None
    path = Path(os.path.expanduser(ref.file))
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigurationError(f"{what}: cannot read secret file {path} ({e.strerror})") from None
    if not value:
        raise ConfigurationError(f"{what}: secret file {path} is empty")
    redact.register(value)
    return value
