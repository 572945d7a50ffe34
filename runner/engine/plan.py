"""The ordered list of what a run of a scenario will do, phase by phase, as the engine does it.

`drillctl plan` and `drillctl run --dry-run` print it; the engine (`drill.py`) is the source
of truth for the order, and `tests/engine` checks the two agree.
"""

from __future__ import annotations

from runner.scenario import model
from runner.scenario.values import format_duration as fmt


def _step(s: model.Step) -> str:
    where = f" on {s.cluster}" if s.cluster else ""
    retries = f", {s.retries} retries" if s.retries else ""
    return f"{s.name} ({s.action}{where}; timeout {fmt(s.timeout)}{retries})"


def ordered_steps(scenario: model.Scenario) -> list[tuple[str, str]]:
    """(phase, what happens) in execution order."""
    spec = scenario.spec
    out: list[tuple[str, str]] = [
        ("preflight", "check every target (permissions, CRDs, lab running)"),
        ("preflight", "lock every target (one drill per target at a time)"),
    ]
    out += [
        ("steady-state", f"gate: {c.name}: {c.query} {c.expect} over {fmt(c.window)}")
        for c in spec.steady_state
    ]
    for f in sorted(spec.faults, key=lambda f: f.start_after):
        after = f" at +{fmt(f.start_after)}" if f.start_after.total_seconds() else ""
        lasts = f" for {fmt(f.duration)}" if f.duration is not None else ""
        out.append(
            ("inject", f"{f.type} {f.name!r} in {f.cluster}{lasts}{after}; wait until confirmed")
        )
    guard = ", watching guardrails" if spec.guardrails else ""
    out.append(("observe", f"wait {fmt(spec.timeouts.observe)}{guard}"))
    out += [("failover", _step(s)) for s in spec.failover.steps]
    out.append(
        ("verify", f"measure RTO and RPO (SLI must recover within {fmt(spec.timeouts.recovery)})")
    )
    out.append(("recover-faults", "remove every injected fault and wait until gone"))
    policy = spec.failback.policy.value
    out += [(f"failback ({policy})", _step(s)) for s in spec.failback.steps]
    out += [("post-steady-state", f"{c.name}: {c.query} {c.expect}") for c in spec.steady_state]
    out.append(("cleanup", "remove any fault left; release every lock"))
    out.append(("report", "verdict, run.json, junit.xml"))
    return out
