"""Where the vendored upstream Chaos Mesh material lives: `tests/fixtures/chaos-mesh`
(CRDs and examples, copied unchanged; source, version and licence in its SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHAOS_MESH = REPO / "tests" / "fixtures" / "chaos-mesh"
CRDS = CHAOS_MESH / "crds"
EXAMPLES = CHAOS_MESH / "examples"
