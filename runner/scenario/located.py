"""Data read from a YAML file, with the line:column of every key and value.

This module owns the value the loader passes around: `Source` (the plain data of one
document plus where each key and value was written), `Position`, and how a path into
the data is spelled in messages (`spec.faults[0].duration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Key = str | int
Path_ = tuple[Key, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    column: int


@dataclass
class Source:
    """One parsed YAML document: the data, and where each key and value was written."""

    file: str
    data: Any
    root: Position = Position(1, 1)
    values: dict[int, dict[Key, Position]] = field(default_factory=dict)
    """id(container) -> key or index -> where the value starts."""
    keys: dict[int, dict[Key, Position]] = field(default_factory=dict)
    """id(mapping) -> key -> where the key starts."""
    keep: list[Any] = field(default_factory=list, repr=False)
    """Every container, so no id() above is ever reused by another object."""

    def value_at(self, path: Path_) -> Position:
        """Where the value at `path` starts; for a missing path, its deepest present parent."""
        return self._walk(path, key=False)

    def key_at(self, path: Path_) -> Position:
        """Where the key of the last element of `path` is written (value_at for indexes)."""
        return self._walk(path, key=True)

    def _walk(self, path: Path_, *, key: bool) -> Position:
        here, node = self.root, self.data
        for i, part in enumerate(path):
            if not isinstance(node, dict | list) or id(node) not in self.values:
                break
            pos = self.values[id(node)].get(part)
            if pos is None:
                break
            if key and i == len(path) - 1 and isinstance(node, dict):
                return self.keys[id(node)].get(part, pos)
            here, node = pos, node[part]  # type: ignore[index]
        return here


def format_path(path: Path_) -> str:
    """`('spec', 'faults', 0, 'duration')` -> `spec.faults[0].duration`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
