"""GET /csrf, which hands out a CSRF token, and the CSRF check of the login route, for a
cookie backend with CSRF protection (SECURITY 30; see docs/csrf.md)."""

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request, Response, params, status
from pydantic import BaseModel

from doorkeeper import models
from doorkeeper.authentication import AuthenticationBackend, CookieTransport, CSRFProtection
from doorkeeper.router.common import DoorkeeperRoute, ErrorCode, ErrorModel, OpenAPIResponseType


class CSRFTokenResponse(BaseModel):
    csrf_token: str


def csrf_of(backend: AuthenticationBackend[models.UP, models.ID]) -> CSRFProtection | None:
    """The CSRF protection of `backend`, if it is a cookie backend that has one."""
    transport = backend.transport
    return transport.csrf if isinstance(transport, CookieTransport) else None


def _required_csrf(backend: AuthenticationBackend[models.UP, models.ID]) -> CSRFProtection:
    csrf = csrf_of(backend)
    if csrf is None:
        raise ValueError(f"The backend {backend.name!r} has no CSRF protection")
    return csrf


def csrf_responses(backend: AuthenticationBackend[models.UP, models.ID]) -> OpenAPIResponseType:
    """The OpenAPI entry of the 403 a CSRF check answers (none without protection)."""
    if csrf_of(backend) is None:
        return {}
    examples = {
        code.value: {"summary": summary, "value": {"detail": code.value}}
        for code, summary in (
            (ErrorCode.CSRF_ORIGIN_MISMATCH, "Sent by another site."),
            (ErrorCode.CSRF_TOKEN_MISSING, "No CSRF cookie or no CSRF header."),
            (ErrorCode.CSRF_TOKEN_INVALID, "The CSRF header and cookie differ, or are forged."),
        )
    }
    return {
        status.HTTP_403_FORBIDDEN: {
            "model": ErrorModel,
            "content": {"application/json": {"examples": examples}},
        }
    }


def csrf_protect(backend: AuthenticationBackend[models.UP, models.ID]) -> Callable[[Request], None]:
    """A dependency running the CSRF checks of `backend`, which must have CSRF
    protection, on the request (nothing to check for GET and the like)."""
    csrf = _required_csrf(backend)

    def check_csrf(request: Request) -> None:
        csrf.protect(request)

    return check_csrf


def csrf_dependencies(
    backend: AuthenticationBackend[models.UP, models.ID],
) -> list[params.Depends]:
    """The `dependencies` of a route that `backend`'s CSRF protection guards: none
    without protection."""
    return [] if csrf_of(backend) is None else [Depends(csrf_protect(backend))]


def get_csrf_router(backend: AuthenticationBackend[models.UP, models.ID]) -> APIRouter:
    """A router with GET /csrf for `backend`, which must have CSRF protection."""
    csrf = _required_csrf(backend)
    router = APIRouter(route_class=DoorkeeperRoute)

    @router.get(
        "/csrf",
        name=f"auth:{backend.name}.csrf",
        response_model=CSRFTokenResponse,
    )
    async def csrf_token(request: Request, response: Response) -> CSRFTokenResponse:
        """The CSRF token to send in the CSRF header; also set in a readable cookie.

        A valid token the browser already holds is handed back unchanged, so that
        several tabs share one token.
        """
        token = csrf.set_cookie(response, csrf.current_token(request))
        response.headers["Cache-Control"] = "no-store"
        return CSRFTokenResponse(csrf_token=token)

    return router
