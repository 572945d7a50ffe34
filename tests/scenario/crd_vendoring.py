"""Extracting the Chaos Mesh CRD schemas that `runner/schemas/chaos-mesh/` vendors.

Run `python -m tests.scenario.crd_vendoring tests/fixtures/chaos-mesh/crds` to regenerate the
vendored files; `test_crds.py` checks they equal what this extracts from the upstream CRDs
(copied unchanged into `tests/fixtures/chaos-mesh`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

VENDORED = Path(__file__).resolve().parents[2] / "runner" / "schemas" / "chaos-mesh"
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("additionalProperties", "items", "not", "additionalItems")


def strip_descriptions(schema: Any) -> Any:
    """The schema without `description` keywords (validation is unchanged; 3.5x smaller)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: strip_descriptions(v) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip_descriptions(v) for v in value]
        elif key in _SCHEMA_ONE:
            items = value if isinstance(value, list) else None
            out[key] = (
                [strip_descriptions(v) for v in items] if items else strip_descriptions(value)
            )
        else:
            out[key] = value
    return out


def extract(crd_dir: Path) -> dict[str, str]:
    """File name -> compact JSON text, for every CRD in `crd_dir` plus `index.json`."""
    files: dict[str, str] = {}
    index: dict[str, dict[str, Any]] = {}
    for path in sorted(crd_dir.glob("chaos-mesh.org_*.yaml")):
        crd = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        names = crd["spec"]["names"]
        (version,) = crd["spec"]["versions"]
        schema = strip_descriptions(version["schema"]["openAPIV3Schema"])
        files[f"{names['kind']}.json"] = json.dumps(schema, separators=(",", ":"), sort_keys=True)
        index[names["kind"]] = {
            "plural": names["plural"],
            "namespaced": crd["spec"]["scope"] == "Namespaced",
            "version": version["name"],
        }
    files["index.json"] = json.dumps(index, indent=1, sort_keys=True)
    return files


def main(argv: list[str]) -> int:
    files = extract(Path(argv[1]))
    for name, text in files.items():
        (VENDORED / name).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(files)} files to {VENDORED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
