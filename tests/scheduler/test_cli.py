"""`drillctl schedule` end to end: serve in a subprocess, run-now, list, pause, resume, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from tests.scheduler.conftest import write_drill
from tests.scheduler.receiver import Receiver
from tests.scheduler.replicas import drillctl

SECRET = "hooks-secret-9f8e7d"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(url: str, want: int, seconds: float = 30) -> str:
    pause = threading.Event()
    for _ in range(int(seconds / 0.1)):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == want:
                    return str(r.read().decode())
        except (urllib.error.URLError, ConnectionError):
            pass
        pause.wait(0.1)
    raise AssertionError(f"{url} never answered {want}")


def test_serve_run_now_list_pause_resume_and_graceful_sigterm(tmp_path: Path) -> None:
    write_drill(
        tmp_path,
        notifications="  notifications:\n    - name: chat\n      type: slack\n"
        "      url: {env: DRILL_CLI_TEST_HOOK}\n      on: [failure]\n",
    )
    store = f"sqlite:///{tmp_path / 'state' / 'scheduler.sqlite'}"
    env = {**os.environ, "DRILL_SCHEDULE_STORE": store}
    hook = Receiver()
    threading.Thread(target=hook.server.serve_forever, daemon=True).start()
    env["DRILL_CLI_TEST_HOOK"] = f"{hook.url}/{SECRET}"
    port = free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "schedule",
            "serve",
            "--drills",
            "drills",
            "--metrics-port",
            str(port),
            "--metrics-address",
            "127.0.0.1",
            "--poll-seconds",
            "0.2",
            "--lock-file",
            "state/scheduler.lock",
            "--results",
            "results",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert poll(f"http://127.0.0.1:{port}/readyz", 200) == "leader\n"
        requested = drillctl("schedule", "run-now", "nightly", cwd=tmp_path, env=env)
        assert requested.returncode == 0 and "run requested" in requested.stdout
        # The lab is not running, so the real `launch` cannot start the drill: an error run.
        metrics = ""
        for _ in range(100):
            metrics = poll(f"http://127.0.0.1:{port}/metrics", 200)
            if 'drill_runner_drill_last_status{drill="nightly",status="error"} 1.0' in metrics:
                break
            threading.Event().wait(0.1)
        assert 'drill_runner_drill_last_status{drill="nightly",status="error"} 1.0' in metrics
        assert "drill_runner_scheduler_leader 1.0" in metrics
        listed = drillctl("schedule", "list", "--drills", "drills", cwd=tmp_path, env=env)
        assert listed.returncode == 0, listed.stderr
        assert "schedule: '0 3 * * *' (UTC)" in listed.stdout or "0 3 * * *" in listed.stdout
        assert "last: error at " in listed.stdout and "next 20" in listed.stdout
        paused = drillctl("schedule", "pause", "nightly", cwd=tmp_path, env=env)
        assert paused.stdout == "nightly: paused\n"
        assert "PAUSED" in drillctl("schedule", "list", cwd=tmp_path, env=env).stdout
        resumed = drillctl("schedule", "resume", "nightly", cwd=tmp_path, env=env)
        assert resumed.stdout.startswith("nightly: resumed, next run 20")
        missing = drillctl("schedule", "pause", "nope", cwd=tmp_path, env=env)
        assert missing.returncode == 2 and "no scheduled drill 'nope'" in missing.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=30)
        hook.server.shutdown()
        hook.server.server_close()
    assert serve.returncode == 0, err
    assert "is the active scheduler" in err and "drill nightly finished: error" in err
    [message] = hook.bodies(f"/{SECRET}")
    assert message["text"].startswith("Drill *nightly* ERROR (run-now)")
    assert "notification 'chat' sent" in err
    assert SECRET not in err and SECRET not in out
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
