"""A small ASGI app served by uvicorn on 127.0.0.1 in a background thread, for the local
stand-ins of OAuth providers (tests/oidc_provider.py, tests/github_standin.py).

Timeouts never depend on how loaded the machine is (`pytest -n 8` on two cores answers
slowly): every client of a local server, whether the test's "browser" or the provider
client under test, waits up to `CLIENT_TIMEOUT`; a test of a timeout makes the endpoint
hang (`Failures.set(endpoint, "hang")`: it never answers), so that the client's own
timeout is the only way out, however short it is and however slow the machine."""

import asyncio
import atexit
import contextlib
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

CLIENT_TIMEOUT = 60.0
"""Seconds any client of a local server waits: far beyond an answer on a loaded machine."""

HANG_LIMIT = 120.0
"""A hanging endpoint gives up after this long, should its client never disconnect."""

DROP = object()
"""In an overrides dict: remove this key instead of setting it."""


def apply_overrides(values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**values, **overrides}
    return {key: value for key, value in merged.items() if value is not DROP}


def browser(**options: Any) -> httpx.AsyncClient:
    """An HTTP client for the local servers (the user's browser, say)."""
    options.setdefault("timeout", CLIENT_TIMEOUT)
    return httpx.AsyncClient(**options)


async def hang(request: Request) -> None:
    """Never answer: return once the client has given up and disconnected (or after
    `HANG_LIMIT`)."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(disconnected(), HANG_LIMIT)


class LocalServer:
    """uvicorn on a socket bound to a free port of 127.0.0.1, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local server did not start")
            time.sleep(0.01)
        atexit.register(self.stop)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
            self._server = None


class Failures:
    """Per-endpoint failure modes set by tests: an HTTP status ("500", "401"), "garbage"
    (a 200 that is not JSON; "garbage:400" with that status), "not_object" (a JSON list),
    "hang" (never answer: see `hang`)."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}

    def set(self, endpoint: str, mode: str) -> None:
        self.modes[endpoint] = mode

    async def response(self, endpoint: str, request: Request) -> Response | None:
        mode = self.modes.get(endpoint)
        if mode is None:
            return None
        if mode == "hang":
            await hang(request)
            return Response(status_code=504)  # to a client that is gone
        if mode.startswith("garbage"):  # "garbage" (a 200) or "garbage:400"
            status = int(mode.partition(":")[2] or 200)
            return PlainTextResponse("<html>Service Unavailable</html>", status_code=status)
        if mode == "not_object":
            return JSONResponse(["not", "an", "object"])
        return JSONResponse({"error": "server_error"}, status_code=int(mode))
