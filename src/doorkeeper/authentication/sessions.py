"""Login sessions and refresh tokens: starting, checking, rotating and ending them.

`SessionService` holds the policy (idle and absolute timeouts) over a `SessionStore`
(`doorkeeper.sessions.sqlalchemy.SQLAlchemySessionStore` or
`doorkeeper.sessions.redis.RedisSessionStore`). Give it to an `AuthenticationBackend`
(`sessions=`) to make every login a session, and to a `JWTStrategy` (`sessions=`) so
that a JWT dies with its session.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Generic

from fastapi import Request

from doorkeeper import exceptions
from doorkeeper.authentication.strategy.digest import generate_token, hash_token
from doorkeeper.client_ip import client_ip
from doorkeeper.invalidation import user_changed
from doorkeeper.jwt import MAX_TOKEN_LENGTH
from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP
from doorkeeper.sessions.records import (
    RefreshTokenRecord,
    RefreshUseStatus,
    SessionRecord,
    SessionStore,
    session_end_reason,
)
from doorkeeper.sessions.sqlalchemy import IP_MAX_LENGTH, USER_AGENT_MAX_LENGTH

__all__ = ["RefreshError", "RefreshFailure", "SessionService", "new_session_id"]

logger = logging.getLogger("doorkeeper.sessions")

DEFAULT_IDLE_TIMEOUT_SECONDS = 7 * 86400
DEFAULT_ABSOLUTE_LIFETIME_SECONDS = 30 * 86400


def new_session_id() -> str:
    """256 random bits, base64url: a session id nobody can guess."""
    return secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RefreshFailure(str, Enum):
    INVALID = "REFRESH_TOKEN_INVALID"
    EXPIRED = "REFRESH_TOKEN_EXPIRED"
    REUSED = "REFRESH_TOKEN_REUSED"
    REVOKED = "REFRESH_TOKEN_REVOKED"


class RefreshError(Exception):
    """A refresh token that cannot be used; `failure` is the stable reason."""

    def __init__(self, failure: RefreshFailure, session: SessionRecord | None = None) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.session = session


@dataclass(frozen=True)
class Refreshed(Generic[UP]):
    """What a used refresh token gives: its user and session (to be rotated)."""

    user: UP
    session: SessionRecord


class SessionService:
    """:param store: Where the sessions and refresh tokens live.
    :param idle_timeout_seconds: A session with no login or refresh for this long is
        over (`None`: no idle timeout).
    :param absolute_lifetime_seconds: A session, and every refresh token it issues, ends
        this long after its login, whatever happens.
    :param trusted_proxies: Proxies whose `X-Forwarded-For` gives the recorded IP.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        idle_timeout_seconds: int | None = DEFAULT_IDLE_TIMEOUT_SECONDS,
        absolute_lifetime_seconds: int = DEFAULT_ABSOLUTE_LIFETIME_SECONDS,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        if absolute_lifetime_seconds <= 0:
            raise ValueError("absolute_lifetime_seconds must be positive")
        if idle_timeout_seconds is not None and idle_timeout_seconds <= 0:
            raise ValueError("idle_timeout_seconds must be positive or None")
        self.store = store
        self.idle_timeout = (
            None if idle_timeout_seconds is None else timedelta(seconds=idle_timeout_seconds)
        )
        self.absolute_lifetime = timedelta(seconds=absolute_lifetime_seconds)
        self.trusted_proxies = trusted_proxies

    # --- starting and checking -----------------------------------------------------

    async def start(
        self,
        user: Any,
        *,
        session_id: str,
        backend: str,
        access_token_id: str | None,
        request: Request | None = None,
        with_refresh_token: bool = False,
    ) -> str | None:
        """Record a new session; return its first refresh token when asked for one."""
        now = _now()
        ip, user_agent = self._client(request)
        record = SessionRecord(
            id=session_id,
            user_id=str(user.id),
            backend=backend,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute_lifetime,
            ip_address=ip,
            user_agent=user_agent,
            access_token_id=access_token_id,
        )
        token, refresh = (
            self._new_refresh_token(record, now) if with_refresh_token else (None, None)
        )
        await self.store.create(record, refresh)
        return token

    def _client(self, request: Request | None) -> tuple[str | None, str | None]:
        if request is None:
            return None, None
        ip = client_ip(request, self.trusted_proxies)
        user_agent = request.headers.get("user-agent")
        return (
            None if ip is None else ip[:IP_MAX_LENGTH],
            None if user_agent is None else user_agent[:USER_AGENT_MAX_LENGTH],
        )

    def _new_refresh_token(
        self, session: SessionRecord, now: datetime
    ) -> tuple[str, RefreshTokenRecord]:
        token = generate_token()
        record = RefreshTokenRecord(
            digest=hash_token(token),
            session_id=session.id,
            created_at=now,
            expires_at=session.expires_at,
        )
        return token, record

    def end_reason(self, session: SessionRecord, user: Any) -> str | None:
        """Why the session is over, or `None` while it is alive."""
        return session_end_reason(session, user, _now(), self.idle_timeout)

    async def check(
        self,
        session_id: str,
        user_id: str,
        access_token_id: str,
        user_manager: BaseUserManager[UP, ID],
    ) -> UP | None:
        """The user of a live session whose current access token is `access_token_id`:
        the session and the user are read together where the store can join them."""
        found = await self.store.get_with_user(session_id)
        if found is None:
            return None
        session, user = found
        if session.user_id != user_id or session.access_token_id != access_token_id:
            return None
        if user is None:
            user = await self._load_user(session, user_manager)
            if user is None:
                return None
        if self.end_reason(session, user) is not None:
            return None
        return user

    async def _load_user(
        self, session: SessionRecord, user_manager: BaseUserManager[UP, ID]
    ) -> UP | None:
        try:
            return await user_manager.get(user_manager.parse_id(session.user_id))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            return None

    # --- refreshing --------------------------------------------------------------------

    async def use_refresh_token(
        self, refresh_token: str | None, user_manager: BaseUserManager[UP, ID]
    ) -> Refreshed[UP]:
        """Spend a refresh token; raise `RefreshError` unless it was good.

        A replayed token ends its whole session (every token descended from that login).
        """
        if not refresh_token or len(refresh_token) > MAX_TOKEN_LENGTH:
            raise RefreshError(RefreshFailure.INVALID)
        now = _now()
        use = await self.store.use_refresh_token(hash_token(refresh_token), now)
        if use.status is RefreshUseStatus.INVALID or use.session_id is None:
            raise RefreshError(RefreshFailure.INVALID)
        if use.status is RefreshUseStatus.REUSED:
            session = await self.store.revoke(use.session_id, now)
            if session is not None:
                await user_changed(session.user_id)
            logger.warning("A used refresh token was replayed: its session is ended")
            raise RefreshError(RefreshFailure.REUSED, session)
        session = await self.store.get(use.session_id)
        if session is None:  # the token was real; its session is gone (Redis expiry)
            raise RefreshError(RefreshFailure.EXPIRED)
        if use.status is RefreshUseStatus.EXPIRED:
            raise RefreshError(RefreshFailure.EXPIRED, session)
        user = await self._load_user(session, user_manager)
        if user is None or not user.is_active:
            raise RefreshError(RefreshFailure.REVOKED, session)
        reason = self.end_reason(session, user)
        if reason is not None:
            failure = RefreshFailure.REVOKED if reason == "revoked" else RefreshFailure.EXPIRED
            raise RefreshError(failure, session)
        return Refreshed(user=user, session=session)

    async def rotate(
        self,
        session: SessionRecord,
        access_token_id: str | None,
        *,
        with_refresh_token: bool = True,
    ) -> str | None:
        """Record the session's new access token and issue its next refresh token."""
        now = _now()
        token, refresh = (
            self._new_refresh_token(session, now) if with_refresh_token else (None, None)
        )
        if not await self.store.rotate(session.id, now, access_token_id, refresh):
            raise RefreshError(RefreshFailure.REVOKED, session)
        await user_changed(session.user_id)  # its previous access token ends now
        return token

    # --- listing and ending ------------------------------------------------------------

    async def list_alive(self, user: Any) -> list[SessionRecord]:
        """The user's sessions that are still alive, newest first."""
        sessions = await self.store.list_for_user(str(user.id))
        return [session for session in sessions if self.end_reason(session, user) is None]

    async def find_by_access_token(self, access_token_id: str | None) -> SessionRecord | None:
        if access_token_id is None:
            return None
        return await self.store.find_by_access_token(access_token_id)

    async def end(self, session_id: str) -> SessionRecord | None:
        """End one session; return it as it was (`None` if unknown)."""
        session = await self.store.revoke(session_id, _now())
        if session is not None:
            await user_changed(session.user_id)
        return session

    async def end_all(self, user: Any, except_session_id: str | None = None) -> list[SessionRecord]:
        """End every session of the user but one; return those that were alive."""
        ended = await self.store.revoke_all(str(user.id), _now(), except_session_id)
        await user_changed(user.id)
        return ended
