"""`adapter.token`: single-use tokens (verification, password reset, e-mail change).

The table holds the SHA-256 digest of each token, never the token. Consuming a token is
one `UPDATE ... WHERE used_at IS NULL AND expires_at > now`: of two requests racing with
the same token, exactly one gets the row.
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.adapter._helpers import rowcount
from doorkeeper.adapter.models import OneTimeToken
from doorkeeper.authentication.strategy.digest import generate_token, hash_token
from doorkeeper.db.sqlalchemy.generics import now_utc
from doorkeeper.jwt import MAX_TOKEN_LENGTH

__all__ = ["OneTimeTokenStore"]

PURPOSE_MAX_LENGTH = 32


class OneTimeTokenStore:
    """Create, consume and revoke one-time tokens; one session per call."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    async def create(
        self,
        purpose: str,
        user_id: uuid.UUID,
        lifetime_seconds: int,
        payload: dict[str, Any] | None = None,
    ) -> str:
        """Store a new token for `user_id`; return the token (256 random bits, base64url).

        Only its digest is stored: the returned value is the one chance to send it.
        """
        if not purpose or len(purpose) > PURPOSE_MAX_LENGTH:
            raise ValueError(f"purpose must have 1 to {PURPOSE_MAX_LENGTH} characters")
        if lifetime_seconds <= 0:
            raise ValueError("lifetime_seconds must be positive")
        token = generate_token()
        now = now_utc()
        row = OneTimeToken(
            digest=hash_token(token),
            purpose=purpose,
            user_id=user_id,
            payload=payload,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_seconds),
        )
        async with self.session_maker() as session:
            session.add(row)
            await session.commit()
        return token

    async def consume(self, purpose: str, token: str) -> OneTimeToken | None:
        """Mark the token used and return its row; `None` if it is unknown, of another
        purpose, expired or used already. At most one caller ever gets the row."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = hash_token(token)
        now = now_utc()
        statement = (
            update(OneTimeToken)
            .where(OneTimeToken.digest == digest)
            .where(OneTimeToken.purpose == purpose)
            .where(OneTimeToken.used_at.is_(None))
            .where(OneTimeToken.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        async with self.session_maker() as session:
            if rowcount(await session.execute(statement)) != 1:
                await session.rollback()
                return None
            row = await session.scalar(select(OneTimeToken).where(OneTimeToken.digest == digest))
            await session.commit()
            return row

    async def revoke_for_user(self, user_id: uuid.UUID, purpose: str | None = None) -> int:
        """Delete the user's tokens (of one purpose, or all); return how many."""
        statement = delete(OneTimeToken).where(OneTimeToken.user_id == user_id)
        if purpose is not None:
            statement = statement.where(OneTimeToken.purpose == purpose)
        return await self._delete(statement)

    async def purge_expired(self) -> int:
        """Delete the tokens that can no longer be consumed (expired or used)."""
        statement = delete(OneTimeToken).where(
            or_(OneTimeToken.expires_at <= now_utc(), OneTimeToken.used_at.is_not(None))
        )
        return await self._delete(statement)

    async def _delete(self, statement: Any) -> int:
        async with self.session_maker() as session:
            count = rowcount(await session.execute(statement))
            await session.commit()
            return count
