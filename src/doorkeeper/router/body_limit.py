"""A cap on request bodies for Doorkeeper's routes (SECURITY 43): 413 before parsing.

No Doorkeeper route needs more than a few hundred bytes of JSON or form data; without a
cap, FastAPI reads (and parses) a body of any size into memory. The limit applies to the
declared `Content-Length` (refused before a byte is read) and to the bytes actually
received (a chunked body is cut off as soon as it passes the limit), for JSON and forms
alike.

The limit is `DEFAULT_MAX_BODY_BYTES` (64 KiB). An app changes it for every Doorkeeper
route it serves with `app.state.doorkeeper_max_body_bytes = n` (the `Doorkeeper` object
sets it from `DOORKEEPER_MAX_BODY_BYTES`), or process-wide with
`DoorkeeperRoute.max_body_bytes = n`.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

__all__ = [
    "APP_STATE_ATTRIBUTE",
    "DEFAULT_MAX_BODY_BYTES",
    "REQUEST_BODY_TOO_LARGE",
    "BodyTooLarge",
    "body_limit_for",
    "declared_length",
    "limit_receive",
    "too_large_response",
]

DEFAULT_MAX_BODY_BYTES = 64 * 1024
APP_STATE_ATTRIBUTE = "doorkeeper_max_body_bytes"
REQUEST_BODY_TOO_LARGE = "REQUEST_BODY_TOO_LARGE"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


class BodyTooLarge(Exception):
    """The body passed the limit while it was being received."""


def body_limit_for(scope: Scope, default: int) -> int:
    """The limit in force for this request: the app's, else `default`."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    value = getattr(state, APP_STATE_ATTRIBUTE, None)
    return value if isinstance(value, int) and value > 0 else default


def declared_length(scope: Scope) -> int | None:
    """The `Content-Length` header's value; `None` when absent or not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def limit_receive(receive: Receive, limit: int) -> Receive:
    """`receive`, raising `BodyTooLarge` once more than `limit` body bytes arrived."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message.get("type") == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return limited


def too_large_response() -> JSONResponse:
    """413 `{"detail": "REQUEST_BODY_TOO_LARGE"}`."""
    return JSONResponse(
        {"detail": REQUEST_BODY_TOO_LARGE},
        status_code=413,  # Content Too Large (the constant was renamed in Starlette)
        headers={"Connection": "close"},
    )
