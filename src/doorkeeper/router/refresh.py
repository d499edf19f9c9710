"""POST /refresh for one authentication backend with sessions: a refresh token buys a
new access token and the next refresh token (SECURITY 20-21)."""

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel

from doorkeeper import models
from doorkeeper.audit import BLOCKED, FAILURE, record_event
from doorkeeper.authentication import AuthenticationBackend, Strategy
from doorkeeper.authentication.backend import sibling_path
from doorkeeper.authentication.sessions import RefreshError, RefreshFailure, SessionService
from doorkeeper.authentication.strategy import (
    destroy_token_id,
    get_token_id,
    write_session_token,
)
from doorkeeper.authentication.transport.refresh import clear_refresh_cookie, read_refresh_cookie
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.router.common import ErrorModel, OpenAPIResponseType
from doorkeeper.router.csrf import csrf_responses

__all__ = ["RefreshRequest", "add_refresh_route"]


class RefreshRequest(BaseModel):
    refresh_token: str


def _responses(backend: AuthenticationBackend[Any, Any]) -> OpenAPIResponseType:
    examples = {
        failure.value: {"summary": summary, "value": {"detail": failure.value}}
        for failure, summary in (
            (RefreshFailure.INVALID, "Missing, malformed or unknown refresh token."),
            (RefreshFailure.EXPIRED, "The refresh token or its session has expired."),
            (RefreshFailure.REUSED, "A used refresh token: its whole session is ended."),
            (RefreshFailure.REVOKED, "The session was ended, or the user deactivated."),
        )
    }
    return {
        status.HTTP_401_UNAUTHORIZED: {
            "model": ErrorModel,
            "content": {"application/json": {"examples": examples}},
        },
        **backend.transport.get_openapi_login_responses_success(),
        **csrf_responses(backend),
    }


def add_refresh_route(
    router: APIRouter,
    backend: AuthenticationBackend[models.UP, models.ID],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    requires_verification: bool = False,
    dependencies: list[Any] | None = None,
) -> None:
    """Add `POST /refresh` (route name `auth:<backend>.refresh`) to `router`.

    The refresh token comes in the JSON body (`{"refresh_token": ...}`) or, for a
    cookie backend, in its refresh cookie.
    """
    sessions = backend.sessions
    if sessions is None:
        raise ValueError(f"Refresh tokens need sessions: backend {backend.name!r} has none")
    service: SessionService = sessions

    @router.post(
        "/refresh",
        name=f"auth:{backend.name}.refresh",
        responses=_responses(backend),
        dependencies=dependencies or [],
    )
    async def refresh(
        request: Request,
        body: RefreshRequest | None = Body(None),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
    ) -> Response:
        presented = body.refresh_token if body is not None else None
        if presented is None:
            presented = read_refresh_cookie(backend.transport, request)
        try:
            refreshed = await service.use_refresh_token(presented, user_manager)
            user, session = refreshed.user, refreshed.session
            if requires_verification and not user.is_verified:
                raise RefreshError(RefreshFailure.REVOKED, session)
            token = await write_session_token(strategy, user, session.id)
            refresh_token = await service.rotate(session, get_token_id(strategy, token))
        except RefreshError as failure:
            if failure.failure is RefreshFailure.REUSED and failure.session is not None:
                # The family ends: the access token the session has now, too.
                await destroy_token_id(strategy, failure.session.access_token_id)
            await _record_failure(user_manager, request, failure, backend.name)
            raise _unauthorized(backend, request, failure) from None
        # The access token the session had until now ends with this refresh.
        await destroy_token_id(strategy, session.access_token_id)
        await record_event(
            user_manager,
            "refresh",
            user=user,
            request=request,
            backend=backend.name,
            session_id=session.id,
        )
        response = await backend.transport.get_login_response(token)
        assert refresh_token is not None
        return backend.with_refresh_token(response, refresh_token, request)


async def _record_failure(
    user_manager: Any, request: Request, failure: RefreshError, backend: str
) -> None:
    session = failure.session
    await record_event(
        user_manager,
        "refresh_reuse" if failure.failure is RefreshFailure.REUSED else "refresh",
        outcome=BLOCKED if failure.failure is RefreshFailure.REUSED else FAILURE,
        user_id=None if session is None else session.user_id,
        request=request,
        backend=backend,
        reason=failure.failure.value,
        session_id=None if session is None else session.id,
    )


def _unauthorized(
    backend: AuthenticationBackend[Any, Any], request: Request, failure: RefreshError
) -> HTTPException:
    """The 401 of a refused refresh; a cookie backend also drops the refresh cookie."""
    headers: dict[str, str] = {"WWW-Authenticate": "Bearer"}
    cleared = clear_refresh_cookie(
        backend.transport, Response(), path=sibling_path(request, "refresh", "/")
    )
    cookie = cleared.headers.get("set-cookie")
    if cookie is not None:
        headers["Set-Cookie"] = cookie
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED, detail=failure.failure.value, headers=headers
    )
