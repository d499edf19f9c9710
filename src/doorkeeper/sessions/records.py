"""Login sessions and refresh tokens as records, and the protocol of their storage.

A session is one login: it has an id (public: users see it in their list of sessions),
its user, the time it started, was last used (login or refresh) and ends at the latest,
the client's IP and user agent, the authentication backend that issued it, and the id
of its current access token (the `jti` of a JWT, the digest of an opaque token). A
session is the family of the refresh tokens it issued: ending it ends all of them.

A refresh token is stored as its SHA-256 digest only. Using one marks it used; using a
used one again is a replay, which ends the session (SECURITY 21).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from doorkeeper.revocation import as_utc, is_token_revoked

__all__ = [
    "RefreshTokenRecord",
    "RefreshUse",
    "RefreshUseStatus",
    "SessionRecord",
    "SessionStore",
    "session_end_reason",
]


@dataclass(frozen=True)
class SessionRecord:
    """One login session."""

    id: str
    user_id: str
    backend: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip_address: str | None = None
    user_agent: str | None = None
    access_token_id: str | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class RefreshTokenRecord:
    """A refresh token: the digest of the token and the session it belongs to."""

    digest: str
    session_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class RefreshUseStatus(str, Enum):
    OK = "ok"
    """The token was unused and is now used: the caller may issue the next one."""
    REUSED = "reused"
    """The token had been used before: a replay."""
    EXPIRED = "expired"
    INVALID = "invalid"
    """No such token."""


@dataclass(frozen=True)
class RefreshUse:
    status: RefreshUseStatus
    session_id: str | None = None


def session_end_reason(
    session: SessionRecord,
    user: Any,
    now: datetime,
    idle_timeout: timedelta | None,
) -> str | None:
    """Why `session` of `user` is over, or `None` while it is alive.

    Over when: revoked; past its absolute end; idle (no login or refresh) for longer
    than `idle_timeout`; or ended by a revocation of all the user's tokens (password
    change, reset, e-mail change, deactivation) that did not spare its access token.
    """
    if session.revoked_at is not None:
        return "revoked"
    if as_utc(now) >= as_utc(session.expires_at):
        return "expired"
    if idle_timeout is not None and as_utc(now) >= as_utc(session.last_seen_at) + idle_timeout:
        return "idle"
    if is_token_revoked(user, session.last_seen_at, session.access_token_id):
        return "revoked"
    return None


class SessionStore(Protocol):
    """Where sessions and refresh tokens live (SQL database or Redis).

    User ids are passed and returned as strings.
    """

    async def create(self, session: SessionRecord, refresh: RefreshTokenRecord | None) -> None:
        """Store a new session, and its first refresh token if any."""

    async def get(self, session_id: str) -> SessionRecord | None: ...

    async def get_with_user(self, session_id: str) -> tuple[SessionRecord, Any | None] | None:
        """The session and, where the storage can join it in the same round trip, its
        user (else `None` in place of the user)."""

    async def find_by_access_token(self, access_token_id: str) -> SessionRecord | None: ...

    async def list_for_user(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions, newest first, ended ones included."""

    async def revoke(self, session_id: str, now: datetime) -> SessionRecord | None:
        """Mark one session revoked; return it as it was (`None` if unknown)."""

    async def revoke_all(
        self, user_id: str, now: datetime, except_session_id: str | None = None
    ) -> list[SessionRecord]:
        """Mark every unrevoked session of the user revoked but one; return them."""

    async def use_refresh_token(self, digest: str, now: datetime) -> RefreshUse:
        """Mark a refresh token used, atomically: of two concurrent uses, one gets OK."""

    async def rotate(
        self,
        session_id: str,
        now: datetime,
        access_token_id: str | None,
        refresh: RefreshTokenRecord | None,
    ) -> bool:
        """Record a refresh: last seen, the new access token id and the next refresh
        token; `False` if the session was revoked meanwhile (nothing is written)."""
