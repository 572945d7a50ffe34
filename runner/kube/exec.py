"""Run a command in a pod's container, as `kubectl exec` does: the API server's exec websocket.

The official client's `kubernetes.stream.stream(CoreV1Api.connect_get_namespaced_pod_exec)`
opens `GET .../pods/{name}/exec?command=...` as a websocket speaking the
`v4.channel.k8s.io` (or v5) channel protocol: every binary frame starts with its channel,
1 = stdout, 2 = stderr, 3 = the exit Status as JSON. Success is exit code 0; a Failure
with reason `NonZeroExitCode` carries the code as the message of its `ExitCode` cause.

- Output is bounded: only the last `limit` bytes of stdout and of stderr are kept.
- The timeout covers connecting and running. On timeout (or cancel) the websocket is
  closed; the API server then tears the stream down, but whether the process in the
  container is killed is up to the container runtime, so it may keep running.
- `stream()` swaps `call_api` on the ApiClient it is given while it connects, so every
  exec uses its own short-lived ApiClient over the target's configuration: concurrent
  REST calls of the same target (a lease renewal) are never routed to the websocket.
- Handshake failures come back from the client as `ApiException(status=0)` with the
  websocket error as its context; its HTTP status and Status body are mapped by
  `runner.kube.errors.from_status`, transport failures by `errors.unreachable`. Messages
  never include request headers, so the bearer token cannot leak.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.clock import Clock
from runner.errors import KubeError
from runner.kube import errors
from runner.kube.resources import Resource

POD_EXEC = Resource("", "v1", "pods/exec", "Pod")
"""The exec subresource, for RBAC checks: the websocket needs `get` (and, on newer API
servers, also `create`) on `pods/exec`."""
OUTPUT_LIMIT = 64 * 1024
"""Bytes kept per stream (stdout, stderr): the end of the output, where failures show."""
_POLL = 0.25
"""Seconds between checks of the deadline and the cancel event while waiting."""
_STDOUT, _STDERR, _ERROR = 1, 2, 3


class KubeExecTimeoutError(KubeError):
    """The command did not finish within the timeout (or the drill was cancelled)."""

    def __init__(self, message: str, *, cluster: str, stdout: str, stderr: str) -> None:
        super().__init__(message, cluster=cluster)
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class ExecResult:
    """How the command ended, and the end of what it printed."""

    exit_code: int
    stdout: str
    stderr: str
    truncated: bool = False
    """True when earlier output was dropped (more than the limit was printed)."""

    def tail(self, lines: int = 20) -> str:
        """The last `lines` lines of stdout followed by stderr, for error messages."""
        text = "\n".join(s.rstrip("\n") for s in (self.stdout, self.stderr) if s.strip())
        return "\n".join(text.splitlines()[-lines:])


class _Tail:
    """The last `limit` bytes of a stream."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.truncated = False

    def add(self, data: bytes | str) -> None:
        if not data:
            return
        self.buf += data.encode() if isinstance(data, str) else data
        if len(self.buf) > self.limit:
            del self.buf[: len(self.buf) - self.limit]
            self.truncated = True

    def text(self) -> str:
        return self.buf.decode("utf-8", "replace")


def exec_in_pod(
    configuration: Any,
    *,
    cluster: str,
    namespace: str,
    pod: str,
    command: Sequence[str],
    container: str | None = None,
    timeout: float,
    clock: Clock,
    cancel: threading.Event | None = None,
    limit: int = OUTPUT_LIMIT,
) -> ExecResult:
    """Run `command` (argv, no shell) in `namespace/pod` and wait for its exit code.

    Raises KubeNotFoundError (no such pod), KubeForbiddenError (RBAC), KubeInvalidError
    (e.g. no such container, pod not running), KubeUnreachableError, KubeExecTimeoutError,
    or KubeError (the runtime could not start the command, or no exit status came back).
    """
    from kubernetes import client as k8s

    what = f"pods/exec {pod!r} in namespace {namespace!r}"
    if container:
        what += f" (container {container!r})"
    deadline = clock.monotonic() + timeout
    api = k8s.ApiClient(configuration)
    try:
        ws = _connect(
            k8s.CoreV1Api(api),
            cluster=cluster,
            what=what,
            kwargs=_exec_request(pod, namespace, command, container),
            deadline=deadline,
            timeout=timeout,
            clock=clock,
            cancel=cancel,
        )
        try:
            return _run(
                ws,
                cluster=cluster,
                what=what,
                deadline=deadline,
                timeout=timeout,
                clock=clock,
                cancel=cancel,
                limit=limit,
            )
        finally:
            ws.close()  # a close frame, unless the server already ended the stream
            if ws.sock is not None:
                ws.sock.shutdown()  # close() skips the socket once the peer has closed
    finally:
        api.close()  # type: ignore[no-untyped-call]


def _exec_request(
    pod: str, namespace: str, command: Sequence[str], container: str | None
) -> dict[str, Any]:
    """The exec call's arguments: argv, no stdin, no TTY, stdout and stderr apart."""
    return {
        "name": pod,
        "namespace": namespace,
        "command": list(command),
        "container": container,
        "stdin": False,
        "stdout": True,
        "stderr": True,
        "tty": False,
    }


def _connect(
    core: Any,
    *,
    cluster: str,
    what: str,
    kwargs: dict[str, Any],
    deadline: float,
    timeout: float,
    clock: Clock,
    cancel: threading.Event | None,
) -> Any:
    """Open the exec websocket in a helper thread, so a server that never answers the
    handshake cannot hold the step past its timeout (the client sets no connect timeout)."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    lock = threading.Lock()
    done = threading.Event()
    outcome: list[Any] = []
    abandoned = False

    def attempt() -> None:
        try:
            result: Any = stream(
                core.connect_get_namespaced_pod_exec,
                _preload_content=False,
                binary=True,
                **kwargs,
            )
        except BaseException as e:  # handed to the waiting thread
            result = e
        with lock:
            if abandoned:
                if not isinstance(result, BaseException):
                    result.close()
                    result.sock.shutdown()
                return
            outcome.append(result)
            done.set()

    threading.Thread(target=attempt, name="kube-exec-connect", daemon=True).start()
    while not done.wait(max(0.0, min(_POLL, deadline - clock.monotonic()))):
        stopped = cancel is not None and cancel.is_set()
        if stopped or clock.monotonic() >= deadline:
            with lock:
                if not done.is_set():
                    abandoned = True
                    why = "cancelled" if stopped else f"no answer within {timeout:g}s"
                    raise KubeExecTimeoutError(
                        f"cluster {cluster!r}: create {what}: the exec stream did not open ({why})",
                        cluster=cluster,
                        stdout="",
                        stderr="",
                    )
    result = outcome[0]
    if isinstance(result, ApiException):
        raise _handshake_error(result, cluster=cluster, what=what) from None
    if isinstance(result, BaseException):
        raise errors.unreachable(cluster, "create", what, result) from None
    return result


def _handshake_error(exc: Any, *, cluster: str, what: str) -> KubeError:
    from websocket import WebSocketBadStatusException

    cause = exc.__context__
    if isinstance(cause, WebSocketBadStatusException):
        return errors.from_status(
            cause.status_code, cause.resp_body, cluster=cluster, verb="create", what=what
        )
    if exc.status:
        return errors.from_status(exc.status, exc.body, cluster=cluster, verb="create", what=what)
    return errors.unreachable(cluster, "create", what, cause or exc)


def _run(
    ws: Any,
    *,
    cluster: str,
    what: str,
    deadline: float,
    timeout: float,
    clock: Clock,
    cancel: threading.Event | None,
    limit: int,
) -> ExecResult:
    from websocket import WebSocketConnectionClosedException, WebSocketException

    out, err = _Tail(limit), _Tail(limit)
    status = bytearray()

    def drain() -> None:
        out.add(ws.read_channel(_STDOUT))
        err.add(ws.read_channel(_STDERR))
        raw = ws.read_channel(_ERROR)
        status.extend(raw.encode() if isinstance(raw, str) else raw)

    try:
        ws.sock.settimeout(timeout + 5.0)  # a frame stalled half-way cannot block forever
        while ws.is_open():
            remaining = deadline - clock.monotonic()
            stopped = cancel is not None and cancel.is_set()
            if remaining <= 0 or stopped:
                why = "was cancelled" if stopped else f"did not finish within {timeout:g}s"
                raise KubeExecTimeoutError(
                    f"cluster {cluster!r}: {what}: the command {why}",
                    cluster=cluster,
                    stdout=out.text(),
                    stderr=err.text(),
                )
            try:
                ws.update(timeout=min(_POLL, remaining))
                drain()
            except WebSocketConnectionClosedException:
                ws.close()  # closed without a close frame: what arrived still counts
                break
        drain()
    except (WebSocketException, OSError) as e:
        raise errors.unreachable(cluster, "create", what, e) from None
    code = _exit_code(bytes(status), cluster=cluster, what=what)
    return ExecResult(code, out.text(), err.text(), truncated=out.truncated or err.truncated)


def _exit_code(raw: bytes, *, cluster: str, what: str) -> int:
    """The exit code from the error channel's Status."""
    where = f"cluster {cluster!r}: {what}"
    if not raw.strip():
        raise KubeError(
            f"{where}: the exec stream closed without an exit status (the pod or the "
            "connection went away?)",
            cluster=cluster,
        )
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise KubeError(f"{where}: unreadable exit status from the server", cluster=cluster)
    if data.get("status") == "Success":
        return 0
    causes = (data.get("details") or {}).get("causes") or []
    if data.get("reason") == "NonZeroExitCode":
        for c in causes:
            if isinstance(c, dict) and c.get("reason") == "ExitCode":
                try:
                    return int(c.get("message", ""))
                except ValueError:
                    break
    message = str(data.get("message") or data.get("reason") or "unknown failure")[:300]
    raise KubeError(f"{where}: the command could not run: {message}", cluster=cluster)
