"""A misbehaving "API server" over real HTTP: it answers every request the same wrong way.

Modes (`BadKubeServer.mode`, switchable while it runs):
- `html`: 200 with an HTML login page (a proxy or SSO portal in front of the API);
- `html-error`: 502 with an HTML error page;
- `status-200`: 200 with a Status object (what a broken proxy replays) instead of the object;
- `status-malformed`: 422 with a Status whose fields have the wrong types;
- `json-list`: 200 with a JSON list;
- `wrong-object`: 200 with a well-formed object of another kind and name;
- `hang`: accepts the request and never answers.
Every request is counted in `requests` (method, path).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp.web

from tests.infra.loop_thread import LoopThread

HTML = (
    "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action=/login>"
    "<input name=user><input type=password name=pass></form></body></html>"
)
MALFORMED_STATUS = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": ["Failure"],
    "code": "four-twenty-two",
    "reason": {"nested": True},
    "message": ["not", "a", "string"],
    "details": "causes should be a mapping",
}
MODES = (
    "html",
    "html-error",
    "status-200",
    "status-malformed",
    "json-list",
    "wrong-object",
    "hang",
)


class BadKubeServer(LoopThread):
    def __init__(self, mode: str) -> None:
        super().__init__("bad-kube")
        assert mode in MODES, mode
        self.mode = mode
        self.requests: list[tuple[str, str]] = []

    async def _handle(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        self.requests.append((request.method, request.path))
        mode = self.mode
        if mode == "hang":
            await self._stop.wait()
            return aiohttp.web.Response(status=503)
        if mode == "html":
            return aiohttp.web.Response(text=HTML, content_type="text/html")
        if mode == "html-error":
            return aiohttp.web.Response(status=502, text=HTML, content_type="text/html")
        body: Any
        status = 200
        if mode == "status-200":
            body = {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
        elif mode == "status-malformed":
            body, status = MALFORMED_STATUS, 422
        elif mode == "json-list":
            body = [{"kind": "PodChaos"}, "accepted"]
        else:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}
        return aiohttp.web.json_response(body, status=status)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = aiohttp.web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = aiohttp.web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()
