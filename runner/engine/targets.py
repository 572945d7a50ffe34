"""Binding a drill's logical clusters to target backends (lab sites or Kubernetes clusters)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import assert_never

from runner.backends import TargetBackend
from runner.scenario import model


def open_target(
    name: str, target: model.Target, *, drill_dir: Path, peers: Mapping[str, model.Target]
) -> TargetBackend:
    """Open one backend (one case per target kind, checked exhaustively); the vendor client
    modules are imported only when needed."""
    match target.kind:
        case "lab":
            from runner.lab.backend import open_lab_target

            return open_lab_target(name, target, drill_dir=drill_dir)
        case "kubernetes":
            from runner.chaosmesh.backend import open_kubernetes_target

            return open_kubernetes_target(name, target, drill_dir=drill_dir, peers=peers)
        case _:
            assert_never(target.kind)


@contextmanager
def open_targets(
    drill: model.Drill, *, drill_dir: Path, only: set[str] | None = None
) -> Iterator[dict[str, TargetBackend]]:
    """Open every target of a drill (or those named in `only`) and close them all after."""
    opened: dict[str, TargetBackend] = {}
    try:
        for name, target in drill.spec.targets.items():
            if only is None or name in only:
                opened[name] = open_target(
                    name, target, drill_dir=drill_dir, peers=drill.spec.targets
                )
        yield opened
    finally:
        for backend in opened.values():
            backend.close()
