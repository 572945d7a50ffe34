"""`drillctl measure`: RTO and RPO over any window, with a scenario's definitions and
objectives and the engine's own measurement code ("what was our real RTO last night?").

Times are RFC 3339 (`2026-11-29T20:00:00Z`, `2026-11-29T21:00:00+01:00`), unix seconds, `now`,
or relative to now (`-2h`, `-90s`, `-1h30m`). The exit code is the verdict's, as for `run`:
0 met, 1 missed, 3 inconclusive; 2 for bad input.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from runner.cli.options import drill_option
from runner.cli.output import emit, output_option
from runner.journal.entries import Measurements

_RELATIVE = re.compile(r"^-((?:\d+(?:ms|y|w|d|h|m|s))+)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def parse_time(text: str, *, now: datetime) -> datetime:
    """An aware UTC datetime from the forms the module doc lists; ValueError otherwise."""
    from runner.prom import parse_prometheus_duration

    value = text.strip()
    if value == "now":
        return now
    if m := _RELATIVE.match(value):
        return now - timedelta(seconds=parse_prometheus_duration(m.group(1)))
    if _NUMBER.match(value):
        return datetime.fromtimestamp(float(value), tz=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use RFC 3339 (2026-11-29T20:00:00Z), unix seconds,"
            " 'now' or a time relative to now (-2h, -90s, -1h30m)"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z or an offset such as +01:00")
    return parsed.astimezone(UTC)


def _times(
    start: str, failover_done: str | None, until: str, now: datetime
) -> tuple[datetime, datetime | None, datetime]:
    def one(option: str, text: str) -> datetime:
        try:
            return parse_time(text, now=now)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint=option) from None

    f = one("--from", start)
    w = one("--until", until)
    d = None if failover_done is None else one("--failover-done", failover_done)
    if w > now:
        raise click.BadParameter(f"{until!r} is in the future", param_hint="--until")
    if f >= w:
        raise click.BadParameter("the window must start before it ends", param_hint="--from")
    if d is not None and not f <= d <= w:
        raise click.BadParameter(
            "must lie between --from and --until", param_hint="--failover-done"
        )
    return f, d, w


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@drill_option()
@click.option("--from", "start", required=True, help="Fault start (when the clock starts).")
@click.option("--failover-done", default=None, help="When failover finished (optional).")
@click.option("--until", default="now", show_default=True, help="The end of the window.")
@output_option
def command(
    scenario: Path,
    drill_path: Path,
    start: str,
    failover_done: str | None,
    until: str,
    output: str,
) -> int:
    """Measure RTO and RPO of SCENARIO over a window, as a drill would have."""
    from runner.engine.launch import DrillRequest, connect_metrics, load
    from runner.engine.prometheus_metrics import PrometheusMetrics
    from runner.engine.verdict import decide
    from runner.errors import ConfigurationError
    from runner.measure import timebase

    f, d, w = _times(start, failover_done, until, datetime.now(UTC))
    spec_, drill = load(DrillRequest(scenario_path=scenario, drill_path=drill_path))
    spec = spec_.spec
    if spec.measure.rto is None and spec.measure.rpo is None:
        raise ConfigurationError(f"{scenario}: the scenario measures neither RTO nor RPO")
    metrics = connect_metrics(drill)
    if not isinstance(metrics, PrometheusMetrics):
        raise ConfigurationError(f"{drill_path}: the drill names no Prometheus (prometheus:)")
    try:
        verifier = metrics.verification(spec, fault_start=f, fault_requested=None)
        result = verifier.finish(timebase.canonical(w), failover_done=d)
    finally:
        metrics.prom.close()
    measurements = Measurements(rto=result.rto, rpo=result.rpo)
    status, reason = decide(hint=None, measurements=measurements, post_ok=None)
    data: dict[str, Any] = {
        "scenario": spec_.name,
        "prometheus": metrics.prom.display_url,
        "window": {
            "from": timebase.iso(timebase.ms(f)),
            "failoverDone": None if d is None else timebase.iso(timebase.ms(d)),
            "until": timebase.iso(timebase.ms(w)),
        },
        "status": status.value,
        "reason": reason,
        "measurements": measurements.to_json(),
        "measurementInputs": result.stored,
    }
    emit(data, output, lambda d: _text(d, measurements))
    return status.exit_code


def _text(data: dict[str, Any], measurements: Measurements) -> str:
    from runner.reports.summary import objectives_rows

    window = data["window"]
    lines = [
        f"{data['status'].upper()}: {data['scenario']} over {window['from']} .. {window['until']}",
        f"  {data['reason']}",
        f"  Prometheus: {data['prometheus']}",
        "",
    ]
    rows = objectives_rows(measurements)
    header = ("objective", "measured", "target", "met", "uncertainty")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for r in [header, *rows]:
        lines.append("  " + "  ".join(c.ljust(n) for c, n in zip(r, widths, strict=True)))
    for key, m in measurements.items():
        lines.append(f"  {key.upper()}: {m.explanation}")
    return "\n".join(lines)
