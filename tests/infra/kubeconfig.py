"""A one-context kubeconfig (`emu`) for a test API server reached without TLS."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_kubeconfig(path: Path, url: str, *, token: str = "t0ken-never-printed") -> Path:
    """Write it to `path`; the bearer token is there to prove it never leaks."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emu",
                "clusters": [{"name": "emu", "cluster": {"server": url}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": token}}],
            }
        )
    )
    return path
