"""The generic step executor. One call is one attempt; the engine retries.

Idempotency: `http` is as idempotent as the endpoint it calls (use PUT/DELETE or an
idempotency key for retried calls); `command` likewise; `sleep` and `wait-for-query` are
read-only; `manual` asks again on retry.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from runner import redact
from runner.backends import RunContext, StepResult
from runner.errors import StepError
from runner.scenario import model
from runner.scenario.secrets import resolve_secret
from runner.steps.dns import DnsSteps

OUTPUT_LIMIT = 2000

InstantQuery = Callable[[str], float | None]
"""Evaluate a PromQL expression now; None when it returns no data."""
Prompt = Callable[[str, float], bool]
"""Ask the operator to confirm (text, timeout seconds); True when confirmed."""


@dataclass(kw_only=True)
class GenericStepExecutor:
    """Runs generic steps for one run."""

    query: InstantQuery | None = None
    prompt: Prompt | None = None
    dns: DnsSteps | None = None
    """`dns.update` and `dns.wait`, when the drill names global DNS."""

    def supports(self, action: str) -> bool:
        return action in model.GENERIC_ACTIONS or (
            self.dns is not None and action in model.DNS_ACTIONS
        )

    def preflight(self, scenario: model.Scenario) -> list[str]:
        """What would stop the scenario's generic steps, found before anything is injected."""
        steps = [
            *scenario.steps_of("baseline"),
            *scenario.steps_of("failover"),
            *scenario.steps_of("failback"),
        ]
        if self.dns is None:
            return [
                f"step {s.name!r}: {s.action} steps need 'dns' in the drill"
                for s in steps
                if s.action in model.DNS_ACTIONS
            ]
        return self.dns.preflight(scenario)

    def execute(self, step: model.Step, run: RunContext) -> StepResult:
        """One case per generic step kind (checked exhaustively by mypy), DNS steps to the
        drill's global DNS; any other kind is refused before anything runs."""
        if self.dns is not None and model.is_dns_step(step):
            return self.dns.execute(step, run)
        if not model.is_generic_step(step):
            raise StepError(f"action {step.action!r} is not a generic step")
        match step:
            case model.SleepStep():
                return self._sleep(step, run)
            case model.HttpStep():
                return self._http(step)
            case model.CommandStep():
                return self._command(step)
            case model.ManualStep():
                return self._manual(step, run)
            case model.WaitForQueryStep():
                return self._wait_for_query(step, run)
            case _:
                assert_never(step)

    def _sleep(self, step: model.SleepStep, run: RunContext) -> StepResult:
        if run.clock.sleep(step.duration.total_seconds(), run.cancel):
            raise StepError("interrupted")
        return StepResult(output=f"slept {step.duration.total_seconds():g}s")

    def _http(self, step: model.HttpStep) -> StepResult:
        redact.register_url(step.url)  # a server may echo its token back
        shown = redact.url(step.url)
        headers = dict(step.headers)
        for name, ref in step.header_secrets.items():
            headers[name] = resolve_secret(ref, what=f"step {step.name!r} header {name}")
        data = None
        if step.json_body is not None:
            data = json.dumps(step.json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(step.url, data=data, method=step.method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=step.timeout.total_seconds()) as resp:
                status, body = resp.status, resp.read(OUTPUT_LIMIT)
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read(OUTPUT_LIMIT)
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise StepError(f"{step.method} {shown} failed: {redact.text(str(reason))}") from None
        text = body.decode(errors="replace")
        if status not in step.expect_status:
            raise StepError(
                f"{step.method} {shown} returned {status}, expected one of {step.expect_status}"
            )
        return StepResult(output=text, details={"status": status})

    def _command(self, step: model.CommandStep) -> StepResult:
        env = {**os.environ, **step.env}
        try:
            proc = subprocess.run(
                step.command,
                capture_output=True,
                text=True,
                env=env,
                timeout=step.timeout.total_seconds(),
                check=False,
            )
        except FileNotFoundError:
            raise StepError(f"command not found: {step.command[0]}") from None
        except subprocess.TimeoutExpired:
            raise StepError(f"command timed out after {step.timeout.total_seconds():g}s") from None
        output = (proc.stdout + proc.stderr)[-OUTPUT_LIMIT:]
        if proc.returncode != step.expect_exit_code:
            raise StepError(
                f"command exited {proc.returncode}, expected {step.expect_exit_code}: "
                f"{output.strip()[-300:]}"
            )
        return StepResult(output=output, details={"exitCode": proc.returncode})

    def _approved(self, step: model.ManualStep, run: RunContext, how: str) -> None:
        details = {"what": "manual-step", "subject": step.name, "by": run.operator, "how": how}
        run.log("approval", details)

    def _manual(self, step: model.ManualStep, run: RunContext) -> StepResult:
        if run.approve_manual:
            self._approved(step, run, "pre-approved for this run (--approve-manual)")
            return StepResult(output="pre-approved (--approve-manual)")
        if not run.interactive or self.prompt is None:
            raise StepError(
                "manual step refused: this run is not interactive; "
                "pre-approve manual steps with --approve-manual"
            )
        if self.prompt(step.instructions, step.timeout.total_seconds()):
            self._approved(step, run, "confirmed at the prompt")
            return StepResult(output="confirmed by the operator")
        raise StepError("the operator did not confirm the manual step in time")

    def _wait_for_query(self, step: model.WaitForQueryStep, run: RunContext) -> StepResult:
        if self.query is None:
            raise StepError("wait-for-query needs a Prometheus source in the drill")
        deadline = run.clock.monotonic() + step.timeout.total_seconds()
        held_since: float | None = None
        last: float | None = None
        while True:
            now = run.clock.monotonic()
            last = self.query(step.query)
            if last is not None and step.expect.holds(last):
                held_since = now if held_since is None else held_since
                if now - held_since >= step.hold.total_seconds():
                    return StepResult(output=f"{step.query} = {last:g} ({step.expect})")
            else:
                held_since = None
            if now >= deadline:
                raise StepError(
                    f"{step.query} did not meet {step.expect} within "
                    f"{step.timeout.total_seconds():g}s (last value: {last})"
                )
            if run.clock.sleep(1.0, run.cancel):
                raise StepError("interrupted")
