"""The drills the scheduler knows: every drill file in a folder, loaded and cross-checked.

A drill file is reloaded when it or one of its scenario files changes (modification time
and size, polled). A file that stops loading keeps its last good version: the models
loaded then stay scheduled and are what its firings run (the files are not read again),
and its problem is reported with file:line:column, so a typo pushed to the ConfigMap
never silently cancels a game day. A file that is deleted is dropped.
"""

from __future__ import annotations

import logging
import os
import re
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


@dataclass(frozen=True, kw_only=True)
class FileProblem:
    """Why a drill file does not load, and whether its last good version is still in use."""

    path: Path
    drill: str | None
    """The drill the file defines (read leniently), None when even that cannot be told."""
    issues: tuple[str, ...]
    """Each as `file:line:column: field: message`."""
    keeping: bool
    """Its last good version (loaded earlier by this process) stays scheduled."""

    @property
    def text(self) -> str:
        return "; ".join(self.issues)


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


_NAME_LINE = re.compile(r"^metadata:\s*\n(?:[ \t]+.*\n|\s*\n)*?[ \t]+name:\s*['\"]?([\w.-]+)", re.M)


def guess_name(path: Path) -> str | None:
    """The `metadata.name` of a drill file that does not load, read as leniently as possible."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        doc = yaml.safe_load(text)
        name = doc["metadata"]["name"]
        if isinstance(name, str) and name:
            return name
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        pass
    found = _NAME_LINE.search(text)  # a file that is not even YAML any more
    return found.group(1) if found else None


@dataclass
class Catalog:
    """The drills of a folder (or one file), refreshed by `refresh()`."""

    folder: Path
    entries: dict[str, DrillEntry] = field(default_factory=dict)
    """By drill name."""
    problems: dict[Path, FileProblem] = field(default_factory=dict)
    """By file: why it does not load (its last good version, if any, stays)."""
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
            self.problems.pop(gone, None)
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
            self.problems.pop(path, None)
            self._loaded[path] = entry
            self._tried[path] = entry.fingerprint
            changed = True
            log.info("loaded drill %s from %s", entry.name, path)
        if changed:
            self._index()
        return changed

    def _failed(self, path: Path, e: DrillError) -> None:
        issues = [str(i) for i in e.issues] if isinstance(e, InvalidInputError) else [str(e)]
        last = self._loaded.get(path)
        problem = FileProblem(
            path=path,
            drill=last.name if last is not None else guess_name(path),
            issues=tuple(issues),
            keeping=last is not None,
        )
        keeping = " (keeping its last good version)" if problem.keeping else ""
        log.error("drill file %s does not load%s: %s", path, keeping, problem.text)
        self.problems[path] = problem

    def _index(self) -> None:
        # Built aside and swapped in whole: firing threads read `entries` meanwhile.
        entries: dict[str, DrillEntry] = {}
        for path, entry in sorted(self._loaded.items()):
            if entry.name in entries:
                other = entries[entry.name].path
                self.problems[path] = FileProblem(
                    path=path,
                    drill=entry.name,
                    issues=(f"{path}: drill name {entry.name!r} is also used by {other}",),
                    keeping=False,
                )
                continue
            entries[entry.name] = entry
        self.entries = entries

    @property
    def errors(self) -> dict[str, str]:
        """By file path: its problems in one line."""
        return {str(p): problem.text for p, problem in self.problems.items()}

    def scheduled(self) -> Mapping[str, DrillEntry]:
        """The drills that have a `spec.schedule`."""
        return {n: e for n, e in self.entries.items() if e.schedule is not None}

    def problem_of(self, drill: str) -> FileProblem | None:
        """The problem of the file that defines (or seems to define) this drill."""
        for problem in self.problems.values():
            if problem.drill == drill:
                return problem
        return None

    def may_define(self, drill: str) -> bool:
        """A file that does not load may define this drill: its job must not be dropped."""
        return any(p.drill in (drill, None) for p in self.problems.values())
