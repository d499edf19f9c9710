"""The login sessions of a user: list them and end them (one, or all but the current).

    GET    /me/sessions            the caller's live sessions (`current` marks this one)
    DELETE /me/sessions/{id}       end one of them
    DELETE /me/sessions            end all of them but the current one
    GET    /{id}/sessions          (superusers) a user's live sessions
    DELETE /{id}/sessions/{sid}    (superusers) end one
    DELETE /{id}/sessions          (superusers) end all

Include it with the users router's prefix (`/users`). Ending a session ends its refresh
tokens and its access token at once, for every strategy.
"""

from collections.abc import Sequence
from datetime import datetime
from inspect import Parameter, Signature
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel

from doorkeeper import exceptions, models
from doorkeeper.audit import record_event
from doorkeeper.authentication import AuthenticationBackend, Authenticator
from doorkeeper.authentication.authenticator import name_to_strategy_variable_name
from doorkeeper.authentication.sessions import SessionService
from doorkeeper.authentication.strategy import destroy_token_id
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.router.common import DoorkeeperRoute, ErrorCode, ErrorModel, OpenAPIResponseType
from doorkeeper.sessions.records import SessionRecord

__all__ = ["BackendSessions", "SessionRead", "get_sessions_router"]


class SessionRead(BaseModel):
    """A login session as its user (or a superuser) sees it."""

    id: str
    backend: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool = False


def _read(session: SessionRecord, current_token_id: str | None) -> SessionRead:
    return SessionRead(
        id=session.id,
        backend=session.backend,
        created_at=session.created_at,
        last_seen_at=session.last_seen_at,
        expires_at=session.expires_at,
        ip_address=session.ip_address,
        user_agent=session.user_agent,
        current=current_token_id is not None and session.access_token_id == current_token_id,
    )


NOT_FOUND: OpenAPIResponseType = {
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorModel,
        "description": "No such session of this user.",
        "content": {"application/json": {"example": {"detail": "SESSION_NOT_FOUND"}}},
    }
}
UNAUTHORIZED: OpenAPIResponseType = {
    status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."}
}
SUPERUSER: OpenAPIResponseType = {
    **UNAUTHORIZED,
    status.HTTP_403_FORBIDDEN: {"description": "Not a superuser."},
    status.HTTP_404_NOT_FOUND: {"model": ErrorModel, "description": "No such user."},
}


class BackendSessions:
    """The session services of an app's backends, and their strategies per request:
    listing and ending a user's sessions whichever backend started them (the sessions
    routes and the admin API share it)."""

    def __init__(self, backends: Sequence[AuthenticationBackend[Any, Any]]) -> None:
        self.backends = [backend for backend in backends if backend.sessions is not None]
        if not self.backends:
            raise ValueError("No authentication backend has sessions")
        self.services: list[SessionService] = []
        for backend in self.backends:
            assert backend.sessions is not None
            if all(backend.sessions is not known for known in self.services):
                self.services.append(backend.sessions)

    def strategies_dependency(self) -> Any:
        """A dependency giving `{backend name: strategy}` for the backends with sessions."""

        async def strategies(**kwargs: Any) -> dict[str, Any]:
            return {
                backend.name: kwargs[name_to_strategy_variable_name(backend.name)]
                for backend in self.backends
            }

        strategies.__signature__ = Signature(  # type: ignore[attr-defined]
            [
                Parameter(
                    name_to_strategy_variable_name(backend.name),
                    Parameter.KEYWORD_ONLY,
                    default=Depends(backend.get_strategy),
                )
                for backend in self.backends
            ]
        )
        return strategies

    async def list_alive(self, user: Any) -> list[SessionRecord]:
        found: list[SessionRecord] = []
        for service in self.services:
            found.extend(await service.list_alive(user))
        return sorted(found, key=lambda session: session.created_at, reverse=True)

    async def end(
        self, user: Any, session_id: str, strategies: dict[str, Any]
    ) -> SessionRecord | None:
        """End the user's session `session_id`; `None` if the user has no such session."""
        for service in self.services:
            session = await service.store.get(session_id)
            if session is None or session.user_id != str(user.id):
                continue
            if service.end_reason(session, user) is not None:
                return None
            await service.end(session_id)
            await destroy_token_id(strategies.get(session.backend), session.access_token_id)
            return session
        return None

    async def end_all(
        self, user: Any, strategies: dict[str, Any], except_token_id: str | None = None
    ) -> list[SessionRecord]:
        ended: list[SessionRecord] = []
        for service in self.services:
            current = await service.find_by_access_token(except_token_id)
            for session in await service.end_all(user, current.id if current else None):
                await destroy_token_id(strategies.get(session.backend), session.access_token_id)
                ended.append(session)
        return ended


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=ErrorCode.SESSION_NOT_FOUND.value)


def get_sessions_router(
    backends: Sequence[AuthenticationBackend[models.UP, models.ID]],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    authenticator: Authenticator[models.UP, models.ID],
    requires_verification: bool = False,
) -> APIRouter:
    """The sessions routes, over every backend that has sessions."""
    sessions = BackendSessions(backends)
    get_strategies = sessions.strategies_dependency()
    get_current_user = authenticator.current_user(active=True, verified=requires_verification)
    get_superuser = authenticator.current_user(
        active=True, superuser=True, verified=requires_verification
    )
    router = APIRouter(route_class=DoorkeeperRoute)

    def current_token_id(request: Request) -> str | None:
        token_id = getattr(request.state, "doorkeeper_token_id", None)
        return token_id if isinstance(token_id, str) else None

    async def get_target_user(
        id: str,
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> models.UP:
        try:
            return await user_manager.get(user_manager.parse_id(id))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            raise HTTPException(status.HTTP_404_NOT_FOUND) from None

    @router.get(
        "/me/sessions",
        name="users:current_user_sessions",
        response_model=list[SessionRead],
        responses=UNAUTHORIZED,
    )
    async def list_my_sessions(
        request: Request, user: models.UP = Depends(get_current_user)
    ) -> list[SessionRead]:
        token_id = current_token_id(request)
        return [_read(session, token_id) for session in await sessions.list_alive(user)]

    @router.delete(
        "/me/sessions/{session_id}",
        name="users:end_current_user_session",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={**UNAUTHORIZED, **NOT_FOUND},
    )
    async def end_my_session(
        session_id: str,
        request: Request,
        user: models.UP = Depends(get_current_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategies: dict[str, Any] = Depends(get_strategies),
    ) -> Response:
        session = await sessions.end(user, session_id, strategies)
        if session is None:
            raise _not_found()
        await record_event(
            user_manager, "session_revoked", user=user, request=request, session_id=session_id
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        "/me/sessions",
        name="users:end_other_current_user_sessions",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=UNAUTHORIZED,
    )
    async def end_my_other_sessions(
        request: Request,
        user: models.UP = Depends(get_current_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategies: dict[str, Any] = Depends(get_strategies),
    ) -> Response:
        token_id = current_token_id(request)
        ended = await sessions.end_all(user, strategies, except_token_id=token_id)
        # Tokens outside any session (issued before sessions were on) end too.
        await user_manager.revoke_tokens(user, keep_token_id=token_id)
        await record_event(
            user_manager,
            "session_revoked",
            user=user,
            request=request,
            scope="others",
            count=len(ended),
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/{id}/sessions",
        name="users:user_sessions",
        response_model=list[SessionRead],
        dependencies=[Depends(get_superuser)],
        responses=SUPERUSER,
    )
    async def list_user_sessions(
        request: Request, target: models.UP = Depends(get_target_user)
    ) -> list[SessionRead]:
        token_id = current_token_id(request)
        return [_read(session, token_id) for session in await sessions.list_alive(target)]

    @router.delete(
        "/{id}/sessions/{session_id}",
        name="users:end_user_session",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=[Depends(get_superuser)],
        responses={**SUPERUSER, **NOT_FOUND},
    )
    async def end_user_session(
        session_id: str,
        request: Request,
        target: models.UP = Depends(get_target_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategies: dict[str, Any] = Depends(get_strategies),
    ) -> Response:
        if await sessions.end(target, session_id, strategies) is None:
            raise _not_found()
        await record_event(
            user_manager,
            "session_revoked",
            user=target,
            request=request,
            session_id=session_id,
            by="superuser",
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        "/{id}/sessions",
        name="users:end_user_sessions",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=[Depends(get_superuser)],
        responses=SUPERUSER,
    )
    async def end_user_sessions(
        request: Request,
        target: models.UP = Depends(get_target_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategies: dict[str, Any] = Depends(get_strategies),
    ) -> Response:
        ended = await sessions.end_all(target, strategies)
        await user_manager.revoke_tokens(target)
        await record_event(
            user_manager,
            "session_revoked",
            user=target,
            request=request,
            scope="all",
            count=len(ended),
            by="superuser",
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
