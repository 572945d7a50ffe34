"""Fixtures: drill files in a temporary folder, a fake run function, an event recorder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.clock import FakeClock
from runner.engine.drill import AbortSignal, RunResult
from runner.engine.launch import DrillRequest
from runner.engine.verdict import Status
from runner.journal.entries import Measurements
from runner.journal.run import Ref, Run
from runner.measure.results import Bounds, RpoResult, RtoOutcome, RtoResult
from runner.measure.results import Status as Judged
from runner.scheduler import events as ev

SCENARIO = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata:
  name: {name}
spec:
  clusters:
    - name: primary
  faults:
    - name: lose-primary
      type: cluster-loss
      cluster: primary
      duration: 1m
  objectives:
    rto: 5m
    rpo: 30s
"""

DRILL = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata:
  name: {name}
spec:
  scenarios:
{scenarios}
  targets:
    primary:
      lab:
        site: east
        stateDir: {state}
      protected: {protected}
{schedule}
{notifications}
"""


def write_drill(
    folder: Path,
    name: str = "nightly",
    *,
    scenarios: tuple[str, ...] = ("site-loss",),
    cron: str | None = "0 3 * * *",
    timezone: str = "UTC",
    jitter: str = "0s",
    misfire_grace: str = "10m",
    blackouts: tuple[tuple[str, str, str], ...] = (),
    notifications: str = "",
    protected: bool = False,
) -> Path:
    """A drill file (and its scenario files) under `folder`; returns the drill's path.

    Its target is a lab whose state folder (`folder/no-lab`) holds no lab, whatever lab
    the machine or the test session runs: opening it fails the same way everywhere.
    """
    (folder / "scenarios").mkdir(parents=True, exist_ok=True)
    (folder / "drills").mkdir(exist_ok=True)
    for s in scenarios:
        (folder / "scenarios" / f"{s}.yaml").write_text(SCENARIO.format(name=s))
    refs = "\n".join(f"    - path: ../scenarios/{s}.yaml" for s in scenarios)
    schedule = ""
    if cron is not None:
        schedule = (
            f"  schedule:\n    cron: {cron!r}\n    timezone: {timezone}\n"
            f"    jitter: {jitter}\n    misfireGrace: {misfire_grace}\n"
        )
        if blackouts:
            schedule += "    blackouts:\n" + "".join(
                f"      - {{name: {n!r}, start: {a!r}, end: {b!r}}}\n" for n, a, b in blackouts
            )
    path = folder / "drills" / f"{name}.yaml"
    path.write_text(
        DRILL.format(
            name=name,
            scenarios=refs,
            schedule=schedule,
            notifications=notifications,
            protected=str(protected).lower(),
            state=folder / "no-lab",
        )
    )
    return path


@dataclass
class FakeRuns:
    """A run function: records each request; optionally blocks until released or aborted."""

    clock: FakeClock
    status: Status = Status.PASSED
    block: bool = False
    rto: float | None = 42.0
    calls: list[DrillRequest] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    aborts: list[str] = field(default_factory=list)
    raises: Exception | None = None
    cleanup_seconds: float = 0.0
    """Real seconds an aborted run takes to remove its faults and fail back."""

    def __call__(self, request: DrillRequest, abort: AbortSignal) -> RunResult:
        self.calls.append(request)
        self.started.set()
        if self.raises is not None:
            raise self.raises
        status = self.status
        if self.block:
            while not self.release.is_set():
                if abort.event.wait(0.01):
                    self.aborts.append(abort.reason)
                    status = Status.ABORTED
                    threading.Event().wait(self.cleanup_seconds)
                    break
        run_id = f"{request.scenario_path.stem}-{len(self.calls)}"
        rto = RtoResult(
            outcome=RtoOutcome.RECOVERED,
            status=Judged.MET,
            explanation="fake",
            bounds=None if self.rto is None else Bounds(lower=self.rto, upper=self.rto),
            hold_seconds=0.0,
            fault_start=0,
            verdict_start=0,
            objective_seconds=300.0,
        )
        rpo = RpoResult(status=Judged.INCONCLUSIVE, explanation="fake", bounds=None)
        return RunResult(
            run_id=run_id,
            status=status,
            reason=f"fake {status}",
            record_dir=request.results_dir / "fake",
            record=Run(
                run_id=run_id,
                scenario=Ref(name=request.scenario_path.stem),
                drill=Ref(name="fake"),
                status=status,
                measurements=Measurements(rto=rto, rpo=replace(rpo, objective_seconds=30.0)),
            ),
        )

    def scenarios(self) -> list[str]:
        return [c.scenario_path.stem for c in self.calls]


class Events(list[ev.SchedulerEvent]):
    def __call__(self, event: ev.SchedulerEvent) -> None:
        self.append(event)

    def of(self, kind: type[ev.SchedulerEvent]) -> list[Any]:
        return [e for e in self if isinstance(e, kind)]


T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def runs(clock: FakeClock) -> Iterator[FakeRuns]:
    fake = FakeRuns(clock)
    yield fake
    fake.release.set()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 15 server for the module; its base URL (no database)."""
    import os
    import shutil
    import tempfile

    from runner.lab.postgres import BIN, PgNode
    from tests.infra.prometheus import free_port

    if not (BIN / "postgres").exists():
        pytest.skip("needs the PostgreSQL 15 server binaries (scripts/setup.sh installs them)")
    base = Path(tempfile.mkdtemp(prefix="drill-store-", dir="/tmp"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    node = PgNode("store", base / "data", base / "postgres.log", free_port())
    try:
        node.initdb()
        node.start()
        yield f"postgresql://postgres@127.0.0.1:{node.port}"
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)


_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The job store: a SQLite file, or a fresh database on a real PostgreSQL 15 server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'scheduler.sqlite'}"
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"store_{next(_databases)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{server}/{name}"
