"""An authentication backend: a transport and a strategy under one name."""

from typing import Generic

from fastapi import Request, Response, status

from doorkeeper.authentication.sessions import SessionService, new_session_id
from doorkeeper.authentication.strategy import (
    Strategy,
    StrategyDestroyNotSupportedError,
    get_token_id,
    write_session_token,
)
from doorkeeper.authentication.transport import Transport, TransportLogoutNotSupportedError
from doorkeeper.authentication.transport.refresh import clear_refresh_cookie, with_refresh_token
from doorkeeper.invalidation import user_changed
from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP
from doorkeeper.types import DependencyCallable


def sibling_path(request: Request | None, name: str, default: str) -> str:
    """The path of the route `name` beside the current one (`/auth/jwt/login` →
    `/auth/jwt/refresh`); the refresh cookie is scoped to it."""
    if request is None:
        return default
    path: str = request.scope.get("root_path", "") + request.url.path
    return path.rsplit("/", 1)[0] + "/" + name


class AuthenticationBackend(Generic[UP, ID]):
    """:param name: The backend's name (unique among an app's backends; used in routes).
    :param transport: How the token travels.
    :param get_strategy: A dependency returning the strategy that issues and reads tokens.
    :param sessions: Makes every login a session that can be listed and ended, with
        refresh tokens when the auth router enables them (keyword only; see
        `doorkeeper.authentication.sessions`).
    """

    name: str
    transport: Transport

    def __init__(
        self,
        name: str,
        transport: Transport,
        get_strategy: DependencyCallable[Strategy[UP, ID]],
        *,
        sessions: SessionService | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.get_strategy = get_strategy
        self.sessions = sessions

    async def login(
        self,
        strategy: Strategy[UP, ID],
        user: UP,
        request: Request | None = None,
        *,
        issue_refresh_token: bool = False,
    ) -> Response:
        """Issue a new token for `user` and the response that hands it over.

        With sessions, the login starts a session (recording the client's IP and user
        agent from `request`), and `issue_refresh_token` adds its first refresh token.
        """
        if self.sessions is None:
            token = await strategy.write_token(user)
            return await self.transport.get_login_response(token)
        session_id = new_session_id()
        token = await write_session_token(strategy, user, session_id)
        refresh_token = await self.sessions.start(
            user,
            session_id=session_id,
            backend=self.name,
            access_token_id=get_token_id(strategy, token),
            request=request,
            with_refresh_token=issue_refresh_token,
        )
        response = await self.transport.get_login_response(token)
        if refresh_token is not None:
            response = self.with_refresh_token(response, refresh_token, request)
        return response

    def with_refresh_token(
        self, response: Response, refresh_token: str, request: Request | None
    ) -> Response:
        """`response` carrying `refresh_token` the way this backend's transport does."""
        assert self.sessions is not None
        return with_refresh_token(
            self.transport,
            response,
            refresh_token,
            path=sibling_path(request, "refresh", "/"),
            max_age=int(self.sessions.absolute_lifetime.total_seconds()),
        )

    async def logout(
        self,
        strategy: Strategy[UP, ID],
        user: UP,
        token: str,
        user_manager: BaseUserManager[UP, ID] | None = None,
        request: Request | None = None,
    ) -> Response:
        """End `token` server-side, and the response that drops it client-side.

        With sessions, the token's session ends, refresh tokens included. A strategy
        that cannot end one token (JWT) and has no session to end gets the user's tokens
        revoked through `user_manager.revoke_tokens`: every token issued until now ends.
        """
        ended_session = False
        if self.sessions is not None:
            session = await self.sessions.find_by_access_token(get_token_id(strategy, token))
            if session is not None and session.user_id == str(user.id):
                await self.sessions.end(session.id)
                ended_session = True
        try:
            await strategy.destroy_token(token, user)
        except StrategyDestroyNotSupportedError:
            if user_manager is not None and not ended_session:
                await user_manager.revoke_tokens(user)
        await user_changed(user.id)  # a cached answer for this token ends too
        try:
            response = await self.transport.get_logout_response()
        except TransportLogoutNotSupportedError:
            response = Response(status_code=status.HTTP_204_NO_CONTENT)
        if self.sessions is not None:
            clear_refresh_cookie(
                self.transport, response, path=sibling_path(request, "refresh", "/")
            )
        return response
