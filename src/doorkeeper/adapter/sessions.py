"""`adapter.session`: login sessions, one database session per call, for code outside
requests (listing or ending a user's sessions from the CLI, scripts).

`LoginSessionStore` follows the `AccessTokenDatabase` protocol of the database strategy:
`token` values are what the strategy stores (digests). In a request, the strategy should
use `adapter.get_access_token_db`, which shares the request's session with the user
database, so that a token and its user load in one query.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.adapter._helpers import attach, rowcount
from doorkeeper.adapter.models import AccessToken

__all__ = ["LoginSessionStore"]

# The mixin declares plain attribute types for type checkers; queries need the columns.
_table: Any = AccessToken


class LoginSessionStore:
    """The `accesstoken` rows of the database strategy."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    async def get_by_token(self, token: str, max_age: datetime | None = None) -> AccessToken | None:
        statement = select(AccessToken).where(_table.token == token)
        if max_age is not None:
            statement = statement.where(_table.created_at >= max_age)
        async with self.session_maker() as session:
            return await session.scalar(statement)

    async def create(self, create_dict: dict[str, Any]) -> AccessToken:
        access_token = AccessToken(**create_dict)
        async with self.session_maker() as session:
            session.add(access_token)
            await session.commit()
        return access_token

    async def update(self, access_token: AccessToken, update_dict: dict[str, Any]) -> AccessToken:
        async with self.session_maker() as session:
            access_token = await attach(session, access_token)
            for key, value in update_dict.items():
                setattr(access_token, key, value)
            await session.commit()
        return access_token

    async def delete(self, access_token: AccessToken) -> None:
        await self._delete(delete(AccessToken).where(_table.token == access_token.token))

    async def delete_by_user(self, user_id: uuid.UUID) -> int:
        """End every login session of one user; return how many there were."""
        return await self._delete(delete(AccessToken).where(_table.user_id == user_id))

    async def list_for_user(self, user_id: uuid.UUID) -> list[AccessToken]:
        """The user's sessions, newest first."""
        statement = (
            select(AccessToken).where(_table.user_id == user_id).order_by(_table.created_at.desc())
        )
        async with self.session_maker() as session:
            return list((await session.scalars(statement)).all())

    async def _delete(self, statement: Any) -> int:
        async with self.session_maker() as session:
            count = rowcount(await session.execute(statement))
            await session.commit()
            return count
