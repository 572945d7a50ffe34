"""A fake kube-apiserver for `exec`: pods to list and get, and the exec websocket.

The kmock emulator cannot speak websockets, so this is a small aiohttp server of its own
(127.0.0.1, free port, its own event loop in a daemon thread) serving:

- `GET /api/v1/namespaces/{ns}/pods[?labelSelector=...]` and `GET .../pods/{name}`,
  from the pods a test adds with `add_pod`;
- `GET .../pods/{name}/exec?command=...&container=...` upgraded to a websocket that
  speaks `v4.channel.k8s.io`, as the official client's `WSClient` expects: the client
  turns http:// into ws://, repeats `command` once per argv item, and offers
  `Sec-WebSocket-Protocol: v5.channel.k8s.io,v4.channel.k8s.io`; this server picks v4.
  The command really runs, as a local subprocess: stdout goes out on channel 1 and
  stderr on channel 2 as binary frames (first byte = channel), then the exit Status
  as JSON on channel 3 (`Success`, or `Failure`/`NonZeroExitCode` with an `ExitCode`
  cause), then a close frame. If the client goes away first, the process group is killed.

Errors are Status bodies as the API server writes them: 404 NotFound for an unknown pod,
403 Forbidden for exec on a pod named `forbidden`, 400 BadRequest for an unknown
container. It is a test double for the API server's side of the protocol, not a
kubelet: no container runtime, no namespaces or users inside "the pod".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.web

from tests.infra.kube_emulator import match_labels
from tests.infra.loop_thread import LoopThread

STDOUT, STDERR, ERROR = 1, 2, 3
PROTOCOL = "v4.channel.k8s.io"
FORBIDDEN_POD = "forbidden"


def _status(code: int, reason: str, message: str, **details: Any) -> aiohttp.web.Response:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    body["status"] = "Failure"
    body.update(code=code, reason=reason, message=message, details=details)
    return aiohttp.web.json_response(body, status=code)


def exit_status(code: int) -> dict[str, Any]:
    """The Status the API server sends on the error channel when the command ended."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


@dataclass
class ExecCall:
    """One exec as the server saw it."""

    namespace: str
    pod: str
    command: list[str]
    container: str | None
    protocol: str | None
    authorization: str | None = None
    exit_code: int | None = None
    killed: bool = False
    """The client left before the command ended, so the server killed it."""
    done: threading.Event = field(default_factory=threading.Event)


class ExecServerThread(LoopThread):
    """The server in a daemon thread; `url` is the API server address for `client_from_url`."""

    def __init__(self, *, command_timeout: float = 60.0) -> None:
        super().__init__("exec-server")
        self.command_timeout = command_timeout
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[ExecCall] = []
        self.handshakes: list[str | None] = []
        """The Authorization header of every exec request, answered or refused."""
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ set-up

    def add_pod(
        self,
        name: str,
        *,
        namespace: str = "default",
        labels: dict[str, str] | None = None,
        phase: str = "Running",
        containers: tuple[str, ...] = ("main",),
    ) -> None:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
            "status": {"phase": phase},
        }
        with self._lock:
            self.pods[(namespace, name)] = pod

    # ------------------------------------------------------------------ lifecycle

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = aiohttp.web.Application()
        base = "/api/v1/namespaces/{ns}/pods"
        app.router.add_get(base, self._list)
        app.router.add_get(base + "/{name}", self._get)
        app.router.add_get(base + "/{name}/exec", self._exec)
        runner = aiohttp.web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # ------------------------------------------------------------------ handlers

    def _pod(self, ns: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            pod = self.pods.get((ns, name))
            return json.loads(json.dumps(pod)) if pod is not None else None

    @staticmethod
    def _not_found(name: str) -> aiohttp.web.Response:
        return _status(404, "NotFound", f'pods "{name}" not found', name=name, kind="pods")

    async def _list(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        ns = request.match_info["ns"]
        sel = request.query.get("labelSelector")
        with self._lock:
            items = [
                p
                for (pns, _), p in sorted(self.pods.items())
                if pns == ns and match_labels(sel, p["metadata"]["labels"])
            ]
        body = {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
        return aiohttp.web.json_response(body)

    async def _get(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        pod = self._pod(request.match_info["ns"], request.match_info["name"])
        if pod is None:
            return self._not_found(request.match_info["name"])
        return aiohttp.web.json_response(pod)

    async def _exec(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["name"]
        with self._lock:
            self.handshakes.append(request.headers.get("Authorization"))
        command = request.query.getall("command", [])
        container = request.query.get("container")
        if name == FORBIDDEN_POD:
            return _status(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: User "system:serviceaccount:drills:runner" cannot '
                f'create resource "pods/exec" in API group "" in the namespace "{ns}"',
                name=name,
                kind="pods",
            )
        pod = self._pod(ns, name)
        if pod is None:
            return self._not_found(name)
        names = [c["name"] for c in pod["spec"]["containers"]]
        if container is not None and container not in names:
            return _status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if not command:
            return _status(400, "BadRequest", "you must specify at least 1 command")
        ws = aiohttp.web.WebSocketResponse(protocols=(PROTOCOL,))
        if not ws.can_prepare(request).ok:
            return _status(400, "BadRequest", "Upgrade request required")
        await ws.prepare(request)
        auth = request.headers.get("Authorization")
        call = ExecCall(ns, name, list(command), container, ws.ws_protocol, auth)
        with self._lock:
            self.calls.append(call)
        try:
            await self._run_command(ws, call)
        finally:
            call.done.set()
        return ws

    async def _run_command(self, ws: aiohttp.web.WebSocketResponse, call: ExecCall) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *call.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # one process group: kill takes the whole tree
            )
        except OSError as e:  # what a runtime reports for a missing executable
            failure = {
                "metadata": {},
                "status": "Failure",
                "reason": "InternalError",
                "message": f"exec: {call.command[0]!r}: {e.strerror}",
            }
            await ws.send_bytes(bytes([ERROR]) + json.dumps(failure).encode())
            await ws.close()
            return

        async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
            assert stream is not None
            while chunk := await stream.read(4096):
                await ws.send_bytes(bytes([channel]) + chunk)

        async def client_gone() -> None:
            async for _msg in ws:  # stdin is off: only a close (or nothing) comes
                pass

        output: asyncio.Future[Any] = asyncio.gather(
            pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR), proc.wait()
        )
        watcher: asyncio.Future[Any] = asyncio.ensure_future(client_gone())
        try:
            done, _ = await asyncio.wait(
                {output, watcher},
                timeout=self.command_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if output in done and output.exception() is None:
                watcher.cancel()  # close() below reads the client's close frame itself
                await asyncio.gather(watcher, return_exceptions=True)
                call.exit_code = proc.returncode
                status = exit_status(proc.returncode or 0)
                await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
                await ws.close()
            else:
                call.killed = True
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            for task in (output, watcher):
                task.cancel()
            await asyncio.gather(output, watcher, return_exceptions=True)
