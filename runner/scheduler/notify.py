"""Notifications: a drill's `spec.notifications` webhooks on start, finish, failure and skip.

`type: slack` posts Slack's incoming-webhook body `{"text": ...}`; `type: webhook` posts
the event as plain JSON. The URL is a `SecretRef` (environment variable or file), read at
send time and never logged, recorded or put in an error message: failures name the
notification and the HTTP status or error type only. Messages are queued and sent by
`outbox` off the firing path, so a webhook can neither fail nor delay a drill.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from runner import redact, text
from runner.clock import Clock
from runner.scenario import model
from runner.scenario.secrets import resolve_secret
from runner.scheduler import events as ev
from runner.scheduler.catalog import DrillEntry
from runner.scheduler.outbox import Message, NotifySettings, Outboxes, Post

log = logging.getLogger(__name__)

__all__ = ["Notifier", "NotifySettings", "Post", "http_post"]


def http_post(url: str, body: bytes, timeout: float) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)


def kinds(event: ev.SchedulerEvent) -> set[str]:
    """Which `on:` values an event matches."""
    if isinstance(event, ev.DrillRunStarted):
        return {"start"}
    if isinstance(event, ev.DrillRunFinished):
        return {"finish", "failure"} if event.failed else {"finish"}
    if isinstance(event, ev.DrillRunSkipped):
        return {"skip"}
    return set()


class Notifier:
    """An event subscriber that queues messages for the drill's webhooks (never blocks)."""

    def __init__(
        self,
        drills: Callable[[], Mapping[str, DrillEntry]],
        *,
        clock: Clock,
        settings: NotifySettings | None = None,
        post: Post = http_post,
    ) -> None:
        self.drills = drills
        self.clock = clock
        self.settings = settings or NotifySettings()
        self.outboxes = Outboxes(post=post, clock=clock, settings=self.settings)

    def __call__(self, event: ev.SchedulerEvent) -> None:
        matched = kinds(event)
        entry = self.drills().get(event.drill)
        if not matched or entry is None:
            return
        for notification in entry.drill.spec.notifications:
            if matched & set(notification.on):
                self._queue(entry, notification, event)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message went out or was given up (bounded)."""
        return self.outboxes.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Deliver what is queued within the drain time (or `timeout`), then give up."""
        return self.outboxes.close(timeout)

    def _queue(
        self, entry: DrillEntry, notification: model.Notification, event: ev.SchedulerEvent
    ) -> None:
        what = f"drill {entry.name}, notification {notification.name!r}"
        payload = slack_body(event) if notification.type == "slack" else webhook_body(event)
        message = Message(
            what=what,
            url=partial(_webhook_url, notification.url),
            body=json.dumps(payload).encode(),
            kind=type(event).__name__,
            queued_at=self.clock.monotonic(),
        )
        self.outboxes.put((entry.name, notification.name), message)


def _webhook_url(ref: model.SecretRef) -> str:
    url = resolve_secret(ref, what="its URL")
    redact.register_url(url)  # its credential query values are masked wherever they appear
    return url


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f}s"


def summary(event: ev.SchedulerEvent) -> str:
    """One human line (plus one per scenario) for chat."""
    if isinstance(event, ev.DrillRunStarted):
        return f"Drill *{event.drill}* started ({event.trigger}): {', '.join(event.scenarios)}"
    if isinstance(event, ev.DrillRunSkipped):
        return (
            f"Drill *{event.drill}* skipped its {event.scheduled_for:%Y-%m-%d %H:%M} UTC run: "
            f"{event.reason} ({event.detail})"
        )
    if isinstance(event, ev.DrillRunFinished):
        lines = [f"Drill *{event.drill}* {event.status.upper()} ({event.trigger})"]
        for r in event.results:
            line = f"• {r.scenario}: {r.status} ({r.reason})"
            if r.rto_seconds is not None or r.rto_objective_seconds is not None:
                line += f" RTO {_seconds(r.rto_seconds)} / {_seconds(r.rto_objective_seconds)}"
            if r.rpo_seconds is not None or r.rpo_objective_seconds is not None:
                line += f" RPO {_seconds(r.rpo_seconds)} / {_seconds(r.rpo_objective_seconds)}"
            if r.run_id:
                line += f" [run {r.run_id}]"
            if r.report:
                line += f" report: {r.report}"
            lines.append(line)
        return "\n".join(lines)
    return f"Drill *{event.drill}*: {type(event).__name__}"


def slack_body(event: ev.SchedulerEvent) -> dict[str, Any]:
    """Slack's `{"text": ...}`; a reason or name cannot mention anyone or make a link."""
    return {"text": text.slack(summary(event))}


def webhook_body(event: ev.SchedulerEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": _names.get(type(event), type(event).__name__),
        "drill": event.drill,
        "at": event.at.isoformat(),
        "text": summary(event),
    }
    if isinstance(event, ev.DrillRunStarted | ev.DrillRunSkipped | ev.DrillRunFinished):
        body["scheduledFor"] = event.scheduled_for.isoformat()
        body["trigger"] = str(event.trigger)
    if isinstance(event, ev.DrillRunStarted):
        body["scenarios"] = list(event.scenarios)
    if isinstance(event, ev.DrillRunSkipped):
        body.update(reason=event.reason, detail=event.detail)
    if isinstance(event, ev.DrillRunFinished):
        body["status"] = event.status
        body["scenarios"] = [
            {
                "name": r.scenario,
                "status": r.status,
                "reason": r.reason,
                "runId": r.run_id,
                "rtoSeconds": r.rto_seconds,
                "rtoObjectiveSeconds": r.rto_objective_seconds,
                "rpoSeconds": r.rpo_seconds,
                "rpoObjectiveSeconds": r.rpo_objective_seconds,
                "report": r.report,
            }
            for r in event.results
        ]
    return body


_names: dict[type, str] = {
    ev.DrillRunStarted: "drill.started",
    ev.DrillRunFinished: "drill.finished",
    ev.DrillRunSkipped: "drill.skipped",
}
