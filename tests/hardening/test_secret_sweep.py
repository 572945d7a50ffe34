"""Planted secrets never reach an output or a file: a real lab drill run twice (`drillctl run`
and the scheduler's `run-now --here` at debug log level), with secrets in the Prometheus URL
(user info and query), a Prometheus bearer token, an http step's URL query and header, and
a webhook URL (path and query). Afterwards every byte of stdout and stderr of every command,
every file under both results folders, the scheduler's store and every notification sent is
searched for each secret, in its plain, URL-encoded and JSON-escaped forms. The secrets must
have been used (the echo server saw the step's, the receiver got the notifications), so the
sweep proves masking rather than absence.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hardening.conftest import drillctl
from tests.infra.lab import REPO, Lab
from tests.scheduler.receiver import receiving

pytestmark = [pytest.mark.lab]

SECRETS = {
    "PROM_PASSWORD": "promPassw0rd-5b2a77",
    "PROM_TOKEN": "promQueryTok3n-7c1e9",
    "PROM_BEARER": "promBearer-9d4f11aa",
    "STEP_TOKEN": "stepQueryTok3n-2a8c4",
    "STEP_HEADER": "stepHeaderSecr3t-61f0",
    "HOOK_PATH": "hookPathSecr3t-0e7d5",
    "HOOK_TOKEN": "hookQueryTok3n-44aa1",
}


def forms(secret: str) -> set[str]:
    return {secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]}


class Echo:
    """An HTTP endpoint that answers with everything it was sent: path, query, headers."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace")
                said = f"{self.command} {self.path} headers={dict(self.headers)} body={body}"
                echo.seen.append(said)
                self.send_response(401 if self.path.startswith("/fail") else 200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"you sent: {said}".encode())

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def echoing() -> Iterator[Echo]:
    echo = Echo()
    thread = threading.Thread(target=echo.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield echo
    finally:
        echo.server.shutdown()
        echo.server.server_close()


def _files(tmp_path: Path, lab: Lab, echo: Echo, hook_url: str) -> tuple[Path, Path]:
    """(scenario, drill) in the repository's layout, with the planted secrets."""
    scenario = yaml.safe_load((REPO / "scenarios" / "lab" / "region-failover.yaml").read_text())
    header = {"Authorization": {"env": "STEP_HEADER"}}
    query = f"access_token={SECRETS['STEP_TOKEN']}&region=east"
    scenario["metadata"]["name"] = "secret-sweep"
    scenario["spec"]["failover"]["steps"].append(
        {"name": "tell-the-status-page", "action": "http", "method": "GET", "timeout": "5s",
         "url": f"{echo.url}/ok?{query}", "headerSecrets": header}
    )  # fmt: skip
    scenario["spec"]["failback"]["steps"].append(
        {"name": "tell-the-status-page-again", "action": "http", "method": "POST",
         "timeout": "5s", "retries": 1, "retryDelay": "1s", "json": {"ok": True},
         "url": f"{echo.url}/fail?{query}", "headerSecrets": header}
    )  # fmt: skip
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "drills").mkdir()
    scenario_path = tmp_path / "scenarios" / "secret-sweep.yaml"
    scenario_path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    prom = json.loads((lab.state_dir / "lab.json").read_text())["prometheus_url"]
    host = prom.split("://", 1)[1]
    drill = {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "secret-sweep"},
        "spec": {
            "scenarios": [{"path": "../scenarios/secret-sweep.yaml"}],
            "targets": {
                "primary": {"lab": {"site": "east", "stateDir": str(lab.state_dir)}},
                "secondary": {"lab": {"site": "west", "stateDir": str(lab.state_dir)}},
            },
            "prometheus": {
                "url": f"http://drill:{SECRETS['PROM_PASSWORD']}@{host}/"
                f"?token={SECRETS['PROM_TOKEN']}",
                "bearerToken": {"env": "PROM_BEARER"},
            },
            "schedule": {"cron": "0 3 1 1 *"},
            "notifications": [
                {
                    "name": "ops",
                    "type": "slack",
                    "url": {"env": "HOOK_URL"},
                    "on": ["start", "finish", "failure"],
                }
            ],
        },
    }
    drill_path = tmp_path / "drills" / "secret-sweep.yaml"
    drill_path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return scenario_path, drill_path


def test_planted_secrets_reach_no_output_and_no_file(lab: Lab, tmp_path: Path) -> None:
    outputs: dict[str, str] = {}
    with echoing() as echo, receiving() as receiver:
        hook_url = f"{receiver.url}/hooks/{SECRETS['HOOK_PATH']}?token={SECRETS['HOOK_TOKEN']}"
        env = {
            "STEP_HEADER": f"Bearer {SECRETS['STEP_HEADER']}",
            "PROM_BEARER": SECRETS["PROM_BEARER"],
            "HOOK_URL": hook_url,
        }
        scenario, drill = _files(tmp_path, lab, echo, hook_url)
        r1, r2 = tmp_path / "results-run", tmp_path / "results-scheduled"

        def run(name: str, *args: str) -> Any:
            res = drillctl(*args, cwd=tmp_path, env=env, timeout=300)
            outputs[f"{name} stdout"], outputs[f"{name} stderr"] = res.stdout, res.stderr
            assert "Traceback" not in res.stderr, res.stderr
            return res

        key = tmp_path / "keys" / "evidence.pem"
        run("keygen", "evidence", "keygen", "-o", str(key))
        run("run", "run", str(scenario), "--drill", str(drill), "--results", str(r1))
        store = f"sqlite:///{tmp_path / 'store.sqlite'}"
        run("run-now", "schedule", "run-now", "secret-sweep", "--here", "--drills",
            str(tmp_path / "drills"), "--results", str(r2), "--store", store,
            "--log-level", "debug")  # fmt: skip
        for results in (r1, r2):
            (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
            for fmt in ("text", "json", "md", "html"):
                run(f"report {fmt}", "report", run_dir.name, "--results", str(results),
                    "--format", fmt, "--out", "-" if fmt in ("text", "json") else
                    str(tmp_path / f"extra-{results.name}.{fmt}"))  # fmt: skip
            for fmt in ("text", "json", "html"):
                run(f"history {fmt}", "history", "--results", str(results), "--format", fmt)
            run("status", "status", "--results", str(results), "-o", "json")
            pack = tmp_path / f"pack-{results.name}.tar"  # the evidence pack, uncompressed
            run(f"evidence export {results.name}", "evidence", "export", run_dir.name,
                "--results", str(results), "--key-file", str(key), "-o", str(pack))  # fmt: skip
            assert run(f"evidence verify {results.name}", "evidence", "verify", str(pack),
                       "--key", f"{key}.pub").returncode == 0  # fmt: skip
        sent = json.dumps([body for _, body in receiver.received])  # the path is the URL itself
    # the secrets were really used...
    assert any(SECRETS["STEP_TOKEN"] in s and SECRETS["STEP_HEADER"] in s for s in echo.seen)
    assert any(s.startswith("POST /fail") for s in echo.seen)
    assert receiver.received and all(
        p == f"/hooks/{SECRETS['HOOK_PATH']}?token={SECRETS['HOOK_TOKEN']}"
        for p, _ in receiver.received
    )
    assert "DEBUG" in outputs["run-now stderr"]  # debug logging was on
    records = [json.loads(p.read_text()) for p in tmp_path.glob("results-*/*/run.json")]
    assert len(records) == 2 and all(r["status"] != "running" for r in records)
    assert all(any(s["name"] == "tell-the-status-page" and s["output"] for s in r["steps"])
               for r in records)  # fmt: skip
    # ...and are nowhere
    haystacks = dict(outputs)
    haystacks["notifications sent"] = sent
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and "scenarios" not in path.parts and "drills" not in path.parts:
            haystacks[str(path)] = path.read_bytes().decode("utf-8", "replace")
    # per results folder: run.json, events, ledger, junit, report.html/.md, history.html,
    # the inputs as run; and both evidence packs
    assert len([k for k in haystacks if "/results-" in k]) >= 22
    assert len([k for k in haystacks if "/pack-results-" in k]) == 2
    leaks = [
        f"{name} in {where}"
        for where, text in haystacks.items()
        for name, secret in SECRETS.items()
        for form in forms(secret)
        if form in text
    ]
    assert leaks == []
