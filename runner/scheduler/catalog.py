"""The drills the scheduler knows: every drill file in a folder, loaded and cross-checked.

A drill file is reloaded when it or one of its scenario files changes (modification time
and size, polled). A file that stops loading keeps its last good version scheduled and
its error is reported, so a typo pushed to the ConfigMap never silently cancels a game
day; a file that is deleted is dropped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runner.errors import DrillError, InvalidInputError
from runner.scenario import model, references

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]
"""(path, mtime_ns, size) of a drill file and each of its scenario files."""


@dataclass(frozen=True, kw_only=True)
class DrillEntry:
    """One loaded drill with the files it was loaded from."""

    path: Path
    drill: model.Drill
    scenarios: tuple[tuple[Path, model.Scenario], ...]
    fingerprint: Fingerprint

    @property
    def name(self) -> str:
        return self.drill.name

    @property
    def schedule(self) -> model.Schedule | None:
        return self.drill.spec.schedule


def fingerprint(paths: list[Path]) -> Fingerprint:
    found = []
    for p in paths:
        try:
            st = p.stat()
            found.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            found.append((str(p), -1, -1))
    return tuple(found)


def scenario_paths(drill_path: Path, drill: model.Drill) -> list[Path]:
    base = drill_path.parent
    return [Path(os.path.normpath(base / ref.path)) for ref in drill.spec.scenarios]


def load_entry(path: Path) -> DrillEntry:
    """Load one drill and its scenarios; raises InvalidInputError with every issue."""
    before = fingerprint([path])
    drill, scenarios = references.check_drill(path)
    files = scenario_paths(path, drill)
    return DrillEntry(
        path=path,
        drill=drill,
        scenarios=tuple(zip(files, scenarios, strict=True)),
        fingerprint=before + fingerprint(files),
    )


def drill_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def referenced_files(path: Path) -> list[Path]:
    """The drill file and the scenario files it names, read leniently (for change tracking)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        refs = doc["spec"]["scenarios"]
        named = [Path(os.path.normpath(path.parent / r["path"])) for r in refs]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        named = []
    return [path, *named]


@dataclass
class Catalog:
    """The drills of a folder (or one file), refreshed by `refresh()`."""

    folder: Path
    entries: dict[str, DrillEntry] = field(default_factory=dict)
    """By drill name."""
    errors: dict[str, str] = field(default_factory=dict)
    """By file path: why the file does not load (its last good version, if any, stays)."""
    _loaded: dict[Path, DrillEntry] = field(default_factory=dict)
    _tried: dict[Path, Fingerprint] = field(default_factory=dict)
    """What each file (and its scenarios) looked like when last loaded or tried."""

    def refresh(self) -> bool:
        """Reload new and changed files, drop deleted ones; True when any drill changed."""
        changed = False
        present = set(drill_files(self.folder))
        for gone in set(self._tried) - present:
            log.info("drill file %s was removed", gone)
            self._loaded.pop(gone, None)
            self._tried.pop(gone)
            self.errors.pop(str(gone), None)
            changed = True
        for path in sorted(present):
            last = self._tried.get(path)
            if last is not None and fingerprint([Path(p) for p, _, _ in last]) == last:
                continue
            try:
                entry = load_entry(path)
            except (InvalidInputError, DrillError) as e:
                self._tried[path] = fingerprint(referenced_files(path))
                self._failed(path, e)
                continue
            self.errors.pop(str(path), None)
            self._loaded[path] = entry
            self._tried[path] = entry.fingerprint
            changed = True
            log.info("loaded drill %s from %s", entry.name, path)
        if changed:
            self._index()
        return changed

    def _failed(self, path: Path, e: DrillError) -> None:
        text = "; ".join(str(i) for i in e.issues) if isinstance(e, InvalidInputError) else str(e)
        keeping = " (keeping its last good version)" if path in self._loaded else ""
        log.error("drill file %s does not load%s: %s", path, keeping, text)
        self.errors[str(path)] = text

    def _index(self) -> None:
        # Built aside and swapped in whole: firing threads read `entries` meanwhile.
        entries: dict[str, DrillEntry] = {}
        for path, entry in sorted(self._loaded.items()):
            if entry.name in entries:
                other = entries[entry.name].path
                self.errors[str(path)] = f"drill name {entry.name!r} is also used by {other}"
                continue
            entries[entry.name] = entry
        self.entries = entries

    def scheduled(self) -> Mapping[str, DrillEntry]:
        """The drills that have a `spec.schedule`."""
        return {n: e for n, e in self.entries.items() if e.schedule is not None}
