"""Where the shared reference material is: `../shared` beside the repository (as in CI), or
the folder named by $DRILL_SHARED_DIR."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DRILL_SHARED_DIR") or REPO.parent / "shared")
CHAOS_MESH = SHARED / "chaos-mesh"
CRDS = CHAOS_MESH / "crds"
EXAMPLES = CHAOS_MESH / "examples"
ENVTEST_TOOLS = SHARED / "tools" / "envtest"
