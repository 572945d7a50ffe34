"""`LabClient`: how the CLI and the backend talk to a running lab's supervisor."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from runner.errors import LabError
from runner.lab.state import LabState, Layout, read_state
from runner.processes import alive as pid_alive

NOT_RUNNING = "the lab is not running in {dir}; run `drillctl lab up`"


class LabClient:
    """A thin JSON-over-HTTP client for the control API."""

    def __init__(self, state: LabState) -> None:
        self.state = state

    @classmethod
    def connect(cls, state_dir: str | Path) -> LabClient:
        """The client of the lab running in `state_dir`, or LabError saying to start it."""
        layout = Layout.of(state_dir)
        state = read_state(layout)
        if state is None or not pid_alive(state.supervisor_pid):
            raise LabError(NOT_RUNNING.format(dir=layout.root))
        return cls(state)

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = 30
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.state.control_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("error", str(e))
            except ValueError:
                message = str(e)
            raise LabError(f"lab {method} {path}: {message}") from e
        except (OSError, ValueError) as e:
            raise LabError(f"lab {method} {path}: {e}") from e

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/status", timeout=10)
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "/faults", timeout=10)
        return result

    def apply_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/faults", spec, timeout=60)
        return result

    def remove_fault(self, fault_id: str) -> bool:
        return bool(self.call("POST", "/faults/remove", {"id": fault_id}, timeout=120)["removed"])

    def step(self, action: str, site: str, timeout: float) -> str:
        body = {"action": action, "site": site, "timeout": timeout}
        return str(self.call("POST", "/steps", body, timeout=timeout + 15)["output"])

    def shutdown(self) -> None:
        self.call("POST", "/shutdown", {}, timeout=10)
