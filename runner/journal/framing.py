"""How a run was framed: its mode (a drill, or a test failover that injects nothing), what a
test failover did instead of the drill, and the exercise the run belongs to (its id, scope,
owners and the controls it evidences). Frozen values with their run.json form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = dict[str, Any]


class RunMode(StrEnum):
    DRILL = "drill"
    TEST_FAILOVER = "test-failover"
    """Nothing injected, production untouched (`drillctl run --test-failover`)."""


@dataclass(frozen=True, kw_only=True)
class TestFailoverNote:
    """What a test failover did differently from the drill: a fault not injected, a step
    skipped or redirected, a clean-up step added."""

    __test__ = False  # not a pytest test class

    phase: str
    step: str
    what: str
    """`not injected`, `skipped`, `redirected` or `added`."""
    reason: str

    def to_json(self) -> JSON:
        return {"phase": self.phase, "step": self.step, "what": self.what, "reason": self.reason}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TestFailoverNote:
        return cls(
            phase=str(d["phase"]), step=str(d["step"]), what=str(d["what"]), reason=str(d["reason"])
        )


@dataclass(frozen=True, kw_only=True)
class ExerciseScope:
    """What the exercise covers: the systems, and their business-impact tier."""

    systems: tuple[str, ...] = ()
    tier: str | None = None

    def to_json(self) -> JSON:
        out: JSON = {"systems": list(self.systems)}
        if self.tier is not None:
            out["tier"] = self.tier
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ExerciseScope:
        tier = d.get("tier")
        return cls(
            systems=tuple(str(s) for s in d.get("systems") or []),
            tier=None if tier is None else str(tier),
        )


@dataclass(frozen=True, kw_only=True)
class ExerciseMetadata:
    """The run's exercise: the scenario's and the drill's `spec.exercise` merged
    (`runner.evidence.exercise.metadata`), its id's placeholders filled in."""

    id: str | None = None
    scope: ExerciseScope | None = None
    owners: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        """Only what is set (an unset id, scope, owners or controls is left out)."""
        out: JSON = {}
        if self.id:
            out["id"] = self.id
        if self.scope is not None:
            out["scope"] = self.scope.to_json()
        if self.owners:
            out["owners"] = list(self.owners)
        if self.controls:
            out["controls"] = list(self.controls)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ExerciseMetadata:
        scope, ident = d.get("scope"), d.get("id")
        return cls(
            id=None if ident is None else str(ident),
            scope=None if scope is None else ExerciseScope.from_json(scope),
            owners=tuple(str(o) for o in d.get("owners") or []),
            controls=tuple(str(c) for c in d.get("controls") or []),
        )


@dataclass(frozen=True, kw_only=True)
class InputFile:
    """A file the run was started from (the scenario or the drill), as the record keeps it
    (`runner.evidence.inputs`): where it was, the copies beside the record, and whether the
    copy is exactly what ran; or why it could not be read."""

    path: str
    model: str | None = None
    """The model that ran, as JSON (masked), beside run.json."""
    error: str | None = None
    """Why the file could not be read (then nothing below is known)."""
    sha256: str | None = None
    """Of the bytes read."""
    redacted: bool | None = None
    """Masking changed the copy."""
    as_run: bool | None = None
    """The file, parsed again, is exactly the model that ran."""
    file: str | None = None
    """The file as read (masked), beside run.json."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JSON:
        """The keys that are set, in the order they are found out."""
        values = {
            "path": self.path,
            "model": self.model,
            "error": self.error,
            "sha256": self.sha256,
            "redacted": self.redacted,
            "asRun": self.as_run,
            "file": self.file,
        }
        return {**{k: v for k, v in values.items() if v is not None}, **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> InputFile:
        def text(key: str) -> str | None:
            value = d.get(key)
            return None if value is None else str(value)

        def flag(key: str) -> bool | None:
            value = d.get(key)
            return None if value is None else bool(value)

        known = {"path", "model", "error", "sha256", "redacted", "asRun", "file"}
        return cls(
            path=str(d["path"]),
            model=text("model"),
            error=text("error"),
            sha256=text("sha256"),
            redacted=flag("redacted"),
            as_run=flag("asRun"),
            file=text("file"),
            extra={k: v for k, v in d.items() if k not in known},
        )
