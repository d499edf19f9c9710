"""How a refresh token travels, beside the access token of each transport.

Bearer: in the JSON body of the login and refresh responses (`refresh_token`), and back
in the JSON body of the refresh request. Cookie: in a second HttpOnly cookie whose path
is the refresh route, so the browser sends it nowhere else.
"""

import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from doorkeeper.authentication.transport.cookie import HOST_PREFIX, SECURE_PREFIX, CookieTransport

__all__ = [
    "clear_refresh_cookie",
    "read_refresh_cookie",
    "refresh_cookie_name",
    "with_refresh_token",
]


def refresh_cookie_name(transport: CookieTransport) -> str:
    """The refresh cookie's name: the access cookie's name plus `_refresh`.

    A `__Host-` cookie must have the path `/`; the refresh cookie has a narrower path,
    so it takes the `__Secure-` prefix instead.
    """
    name = transport.cookie_name
    if name.startswith(HOST_PREFIX):
        name = SECURE_PREFIX + name[len(HOST_PREFIX) :]
    return f"{name}_refresh"


def _set_cookie(
    transport: CookieTransport, response: Response, value: str, path: str, max_age: int | None
) -> None:
    response.set_cookie(
        refresh_cookie_name(transport),
        value,
        max_age=max_age,
        path=path,
        domain=transport.cookie_domain,
        secure=transport.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def with_refresh_token(
    transport: Any, response: Response, refresh_token: str, *, path: str, max_age: int
) -> Response:
    """`response` (a login or refresh response) carrying `refresh_token` too."""
    if isinstance(transport, CookieTransport):
        _set_cookie(transport, response, refresh_token, path, max_age)
        return response
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return response  # a custom transport's response: nothing we can add to
    body["refresh_token"] = refresh_token
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def clear_refresh_cookie(transport: Any, response: Response, *, path: str) -> Response:
    """Expire the refresh cookie (logout, failed refresh) of a cookie transport."""
    if isinstance(transport, CookieTransport):
        response.set_cookie(
            refresh_cookie_name(transport),
            "",
            max_age=0,
            expires=0,
            path=path,
            domain=transport.cookie_domain,
            secure=transport.cookie_secure,
            httponly=True,
            samesite="strict",
        )
    return response


def read_refresh_cookie(transport: Any, request: Request) -> str | None:
    """The refresh token a browser sent in its cookie, if the transport uses cookies."""
    if isinstance(transport, CookieTransport):
        return request.cookies.get(refresh_cookie_name(transport))
    return None
