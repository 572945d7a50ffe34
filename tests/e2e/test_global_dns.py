"""Global DNS in the lab, end to end with real BIND 9 and PostgreSQL, through `drillctl`.

The failover and active-active drills run against labs in the dns-failover and
dns-active-active topologies; what the runner measured (the RTO and its phase breakdown)
is compared with what the lab observed independently: every authoritative server polled
every 20 ms, and every client's lookups and probes. The bad-input cases (a key the server
refuses, a server that does not answer, a record outside the zone) run against the same
failover lab and must inject nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from runner.breakdown import RtoPhases
from runner.lab.state import free_port
from tests.infra.lab import REPO, Lab, start_lab, wait_for

pytestmark = pytest.mark.lab

POLL = 0.2
"""dns.wait's poll in the shipped scenarios."""


@pytest.fixture(scope="module")
def failover_lab() -> Iterator[Lab]:
    yield from start_lab("dns-failover", "lab-dns.yaml")


@pytest.fixture(scope="module")
def active_active_lab() -> Iterator[Lab]:
    yield from start_lab("dns-active-active", "lab-dns.yaml")


def secret(lab: Lab) -> str:
    return (lab.state_dir / "dns" / "tsig.secret").read_text().strip()


def assert_secret_nowhere(lab: Lab, *texts: str) -> None:
    value = secret(lab)
    assert len(value) > 20
    for text in texts:
        assert value not in text
    for path in lab.results.rglob("*"):
        if path.is_file():
            assert value not in path.read_text(errors="replace"), path


def lab_answers(lab: Lab) -> dict[str, list[str] | None]:
    answers: dict[str, list[str] | None] = lab.status()["dns"]["answers"]
    return answers


def addresses(lab: Lab) -> dict[str, str]:
    return dict(json.loads((lab.state_dir / "lab.json").read_text())["addresses"])


def probes(lab: Lab, start: float, end: float) -> list[dict[str, Any]]:
    lines = (lab.state_dir / "probes.jsonl").read_text().splitlines()
    return [p for line in lines if start <= (p := json.loads(line))["ts"] <= end]


def first_failure(lab: Lab, fault_start: float) -> float:
    """Oracle, from the lab's own files: when the first probe that failed after the lab
    applied the drill's fault (the last one applied by the confirmed fault start) ended."""
    lines = (lab.state_dir / "faults.jsonl").read_text().splitlines()
    applied = max(t for line in lines if (t := json.loads(line)["ts"]) <= fault_start)
    assert fault_start - 5 < applied  # this drill's fault, not an earlier one
    ends = [p["ts"] + p["latency"] for p in probes(lab, 0, float("inf")) if not p["ok"]]
    return min(e for e in ends if e >= applied)


def check_phases_against_truth(lab: Lab, run: dict[str, Any]) -> RtoPhases:
    """The measured phases hold the lab's truth: the failure detected between the SLI's
    last healthy and first failing samples, DNS convergence within one poll, the TTL bound
    after every client switched, the RTO within its uncertainty."""
    rto, observed = run["measurements"]["rto"], run["observed"]
    assert rto["status"] == "met"
    assert rto["lowerSeconds"] - 0.05 <= observed["rtoSeconds"] <= rto["upperSeconds"] + 0.05
    phases = RtoPhases.from_json(run["rtoPhases"])
    start = phases.fault_start
    assert start == pytest.approx(datetime.fromisoformat(run["timeline"]["faultStart"]).timestamp())
    converged = phases.phase("dns-converged")
    truth = observed["dns"]
    assert converged is not None and converged.measured is not None
    m = converged.measured
    # the truth is an interval too (the lab's 20 ms polls): the two must overlap, and the
    # measured one is at most one poll wide
    assert truth["convergedAfter"] <= m.upper + 0.005 and m.lower <= truth["convergedAt"] + 0.005
    assert m.upper - m.lower <= POLL + 0.1
    assert m.upper - truth["convergedAfter"] <= POLL + 0.1
    # the TTL bound: by then every client had the new answer
    ttl = phases.phase("ttl-bound")
    assert ttl is not None and ttl.measured is not None
    assert phases.ttl_seconds == 5
    assert ttl.measured.lower == pytest.approx(m.lower + 5)
    assert truth["clientsSwitchedAt"] is not None
    assert truth["clientsSwitchedAt"] <= ttl.measured.upper + 0.15  # a client probes every 0.1 s
    assert set(truth["clients"]) == {"client-1", "client-2", "client-3"}
    # the RTO holds the TTL: users could not be back before DNS had changed everywhere
    assert start + observed["rtoSeconds"] >= truth["convergedAfter"]
    healthy = phases.phase("healthy")
    assert healthy is not None and healthy.measured is not None
    assert healthy.measured.upper >= m.lower
    detected = phases.phase("detected")
    assert detected is not None and detected.measured is not None
    seen = first_failure(lab, start)
    assert detected.observed == pytest.approx(seen, abs=0.001)
    assert start - 1.5 <= seen <= start + 1.5
    # a sample holds the probes that ended in the second before its scrape: the first failed
    # one ended after the last healthy sample and by the first failing one (0.05 s: scrape)
    d = detected.measured
    assert d.lower - 0.05 <= seen <= d.upper + 0.05, (d, seen)
    orchestrated = phases.phase("orchestrated")
    assert orchestrated is not None and orchestrated.measured is not None
    assert orchestrated.measured.upper == pytest.approx(
        datetime.fromisoformat(run["timeline"]["failoverDone"]).timestamp()
    )
    return phases


def test_dns_failover_puts_the_ttl_in_the_rto(failover_lab: Lab) -> None:
    lab = failover_lab
    east, west = addresses(lab)["east"], addresses(lab)["west"]
    assert set(map(tuple, lab_answers(lab).values())) == {(east,)}  # type: ignore[arg-type]
    code, run, log = lab.run_drill("dns-failover.yaml")
    assert run["status"] == "passed", run["reason"] + "\n" + log
    assert code == 0
    check_phases_against_truth(lab, run)
    assert run["observed"]["dns"]["answer"] == [west]
    # clients kept reaching the dead site from their caches after DNS had changed
    truth = run["observed"]["dns"]
    stale = [
        p
        for p in probes(lab, truth["convergedAt"], truth["clientsSwitchedAt"])
        if p.get("site") == "east"
    ]
    assert stale and all(p["cached"] and not p["ok"] for p in stale)
    # the report draws the phases on its timeline
    html = (lab.results / run["runId"] / "report.html").read_text()
    for label in ("DNS converged on every server", "TTL bound (converged + TTL)", "marker-band"):
        assert label in html
    # the failback put east back: every server answers it again
    wait_for(lambda: set(map(tuple, lab_answers(lab).values())) == {(east,)}, 20, "DNS on east")
    assert_secret_nowhere(lab, log, json.dumps(run))


def test_active_active_round_robin_region_loss(active_active_lab: Lab) -> None:
    lab = active_active_lab
    east, west = addresses(lab)["east"], addresses(lab)["west"]
    assert set(map(tuple, lab_answers(lab).values())) == {(east, west)}
    code, run, log = lab.run_drill("dns-active-active.yaml")
    assert run["status"] == "passed", run["reason"] + "\n" + log
    assert code == 0
    phases = check_phases_against_truth(lab, run)
    start = phases.fault_start
    before = probes(lab, start - 8, start)
    assert {p.get("site") for p in before if p["ok"]} == {"east", "west"}  # both active
    # from the clients' switch until failback puts east back in the answer (a quick run
    # fails back within 20 s of the fault: east serving again then is failback, not failover)
    failback = datetime.fromisoformat(run["timeline"]["failbackStarted"]).timestamp()
    after = probes(
        lab, run["observed"]["dns"]["clientsSwitchedAt"] + 0.2, min(start + 20, failback)
    )
    assert after and {p.get("site") for p in after} == {"west"}
    wait_for(lambda: set(map(tuple, lab_answers(lab).values())) == {(east, west)}, 20, "both again")
    assert_secret_nowhere(lab, log, json.dumps(run))


# --------------------------------------------------------------------------- bad input


def drill_with_dns(lab: Lab, dns: str, name: str) -> Path:
    text = lab.drill.read_text()
    text = re.sub(r"  dns:\n    lab: true\n", dns, text)
    path = lab.drill.parent / name  # beside the lab's drill: its scenarios stay in its tree
    path.write_text(text)
    return path


def run_with(lab: Lab, drill: Path, scenario: Path, env: dict[str, str] | None = None) -> Any:
    import subprocess
    import sys

    args = ["run", str(scenario), "--drill", str(drill), "--results", str(lab.results)]
    return subprocess.run(
        [sys.executable, "-m", "runner", *args, "--output", "json"],
        cwd=lab.work,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def explicit_dns(lab: Lab, *, key: str = "drill-runner-lab", extra_server: str = "") -> str:
    servers = [s["address"] for s in lab.status()["dns"]["servers"].values()]
    servers += [extra_server] if extra_server else []
    return (
        "  dns:\n    zone: lab.test\n"
        f"    servers: [{', '.join(repr(s) for s in servers)}]\n"
        f"    tsigKey: {{name: {key}, secret: {{env: LAB_TSIG}}}}\n"
        "    timeout: 1s\n"
    )


def assert_nothing_injected(lab: Lab, proc: Any, expected: str) -> dict[str, Any]:
    assert proc.returncode == 3, proc.stdout + proc.stderr
    run: dict[str, Any] = json.loads(proc.stdout)
    assert run["status"] == "error"
    assert expected in run["reason"], run["reason"]
    assert run["faults"] == [] and run["steps"] == []
    assert lab.status()["faults"] == []
    return run


def test_a_key_the_server_refuses_is_found_before_anything_is_injected(
    failover_lab: Lab,
) -> None:
    lab = failover_lab
    scenario = REPO / "scenarios" / "lab" / "dns-failover.yaml"
    wrong = "c2VjcmV0LXRoYXQtdGhlLXNlcnZlci1kb2VzLW5vdC1rbm93"
    drill = drill_with_dns(lab, explicit_dns(lab), "bad-secret.yaml")
    proc = run_with(lab, drill, scenario, {"LAB_TSIG": wrong})
    assert_nothing_injected(lab, proc, "refused the TSIG key 'drill-runner-lab': BADSIG")
    assert wrong not in proc.stdout + proc.stderr
    drill = drill_with_dns(lab, explicit_dns(lab, key="nobody"), "bad-key.yaml")
    proc = run_with(lab, drill, scenario, {"LAB_TSIG": secret(lab)})
    assert_nothing_injected(lab, proc, "refused the TSIG key 'nobody': BADKEY")
    assert_secret_nowhere(lab, proc.stdout, proc.stderr)


def test_a_dns_server_that_does_not_answer_is_found_before_anything_is_injected(
    failover_lab: Lab,
) -> None:
    lab = failover_lab
    silent = f"127.0.0.1:{free_port()}"
    drill = drill_with_dns(lab, explicit_dns(lab, extra_server=silent), "silent.yaml")
    proc = run_with(
        lab, drill, REPO / "scenarios" / "lab" / "dns-failover.yaml", {"LAB_TSIG": secret(lab)}
    )
    run = assert_nothing_injected(
        lab, proc, f"DNS server server-3 ({silent}) did not answer within 1s"
    )
    # the only problem: the right key, and the lab sites' addresses, given the explicit way
    assert run["reason"].count("\n") == 1, run["reason"]


def test_a_record_outside_the_zone_is_located_in_the_scenario(failover_lab: Lab) -> None:
    lab = failover_lab
    text = (REPO / "scenarios" / "lab" / "dns-failover.yaml").read_text()
    text = text.replace(
        "record: orders\n        pointTo: [secondary]",
        "record: orders.example.com.\n        pointTo: [secondary]",
    )
    scenario = lab.work / "outside.yaml"
    scenario.write_text(text)
    before = set(lab.results.glob("*")) if lab.results.exists() else set()
    proc = run_with(lab, lab.drill, scenario)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "orders.example.com." in ln)
    column = text.splitlines()[line - 1].index("orders.example.com.") + 1
    assert (
        f"{scenario}:{line}:{column}: spec.failover.steps[1].record: 'orders.example.com.' is "
        "outside the drill's DNS zone 'lab.test'"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr
    after = set(lab.results.glob("*")) if lab.results.exists() else set()
    assert after == before  # no run was started
    assert lab.status()["faults"] == []
