"""The scheduler's Prometheus metrics, in a registry of their own (never the global one).

Per scenario: last run time, last status, RTO and RPO with their objectives, runs by
status. Per drill: last run time and status, runs by status (including `skipped`), skips
by reason, running now, next fire time. Per process: leader or not, drills loaded, drill
files that do not load. The dashboard in deploy/grafana/ reads exactly these names.
"""

from __future__ import annotations

import math
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from runner.scheduler import events as ev

STATUSES = ("passed", "failed", "aborted", "error", "inconclusive", "crashed")
DRILL_STATUSES = (*STATUSES, "skipped")


class SchedulerMetrics:
    """Subscribes to scheduler events; `render()` is the /metrics body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        sl = ["drill", "scenario"]
        self.scenario_last_time = Gauge(
            "drill_runner_scenario_last_run_timestamp_seconds",
            "When the scenario's last scheduled run finished (unix time).",
            sl,
            registry=r,
        )
        self.scenario_last_status = Gauge(
            "drill_runner_scenario_last_status",
            "1 for the status of the scenario's last run, 0 for the others.",
            [*sl, "status"],
            registry=r,
        )
        self.scenario_runs = Counter(
            "drill_runner_scenario_runs",
            "Scenario runs by final status.",
            [*sl, "status"],
            registry=r,
        )
        self.rto = Gauge(
            "drill_runner_rto_seconds",
            "Measured RTO of the last run (NaN: unknown).",
            sl,
            registry=r,
        )
        self.rto_objective = Gauge(
            "drill_runner_rto_objective_seconds", "The scenario's RTO objective.", sl, registry=r
        )
        self.rpo = Gauge(
            "drill_runner_rpo_seconds",
            "Measured RPO of the last run (NaN: unknown).",
            sl,
            registry=r,
        )
        self.rpo_objective = Gauge(
            "drill_runner_rpo_objective_seconds", "The scenario's RPO objective.", sl, registry=r
        )
        self.drill_last_time = Gauge(
            "drill_runner_drill_last_run_timestamp_seconds",
            "When the drill's last run finished or was skipped (unix time).",
            ["drill"],
            registry=r,
        )
        self.drill_last_status = Gauge(
            "drill_runner_drill_last_status",
            "1 for the status of the drill's last run (or 'skipped'), 0 for the others.",
            ["drill", "status"],
            registry=r,
        )
        self.drill_runs = Counter(
            "drill_runner_drill_runs",
            "Drill runs by final status, skipped fires included.",
            ["drill", "status"],
            registry=r,
        )
        self.skips = Counter(
            "drill_runner_drill_skips", "Skipped fires by reason.", ["drill", "reason"], registry=r
        )
        self.running = Gauge(
            "drill_runner_drill_running", "1 while the drill runs.", ["drill"], registry=r
        )
        self.next_run = Gauge(
            "drill_runner_drill_next_run_timestamp_seconds",
            "The drill's next fire time (unix time; absent when paused).",
            ["drill"],
            registry=r,
        )
        self.leader = Gauge(
            "drill_runner_scheduler_leader",
            "1 when this replica is the active scheduler.",
            registry=r,
        )
        self.drills_loaded = Gauge(
            "drill_runner_scheduler_drills", "Scheduled drills loaded.", registry=r
        )
        self.file_errors = Gauge(
            "drill_runner_scheduler_drill_file_errors", "Drill files that do not load.", registry=r
        )

    def __call__(self, event: ev.SchedulerEvent) -> None:
        if isinstance(event, ev.DrillRunStarted):
            self.running.labels(event.drill).set(1)
        elif isinstance(event, ev.ScenarioRunFinished):
            self._scenario(event)
        elif isinstance(event, ev.DrillRunFinished):
            self.running.labels(event.drill).set(0)
            self._drill(event.drill, event.status, event.at)
        elif isinstance(event, ev.DrillRunSkipped):
            self.skips.labels(event.drill, event.reason).inc()
            self._drill(event.drill, "skipped", event.at)

    def _scenario(self, e: ev.ScenarioRunFinished) -> None:
        labels = (e.drill, e.scenario)
        self.scenario_last_time.labels(*labels).set(e.at.timestamp())
        for status in STATUSES:
            self.scenario_last_status.labels(*labels, status).set(int(status == e.status))
        self.scenario_runs.labels(*labels, e.status).inc()
        for gauge, value in (
            (self.rto, e.rto_seconds),
            (self.rpo, e.rpo_seconds),
            (self.rto_objective, e.rto_objective_seconds),
            (self.rpo_objective, e.rpo_objective_seconds),
        ):
            gauge.labels(*labels).set(math.nan if value is None else value)

    def _drill(self, drill: str, status: str, at: datetime) -> None:
        self.drill_last_time.labels(drill).set(at.timestamp())
        for s in DRILL_STATUSES:
            self.drill_last_status.labels(drill, s).set(int(s == status))
        self.drill_runs.labels(drill, status).inc()

    def set_next_runs(self, next_runs: dict[str, datetime | None]) -> None:
        """Replace the next-fire-time series (drills removed or paused disappear)."""
        self.next_run.clear()
        for drill, at in next_runs.items():
            if at is not None:
                self.next_run.labels(drill).set(at.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)
