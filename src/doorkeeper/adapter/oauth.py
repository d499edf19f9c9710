"""`adapter.oauth`: accounts at OAuth providers linked to users, one session per call."""

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.adapter._helpers import rowcount
from doorkeeper.adapter.models import OAuthAccount

__all__ = ["OAuthAccountStore"]

# The mixin declares plain attribute types for type checkers; queries need the columns.
_table: Any = OAuthAccount


class OAuthAccountStore:
    """The `oauth_account` rows: accounts at OAuth providers linked to users."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    async def get(self, oauth_name: str, account_id: str) -> OAuthAccount | None:
        statement = (
            select(OAuthAccount)
            .where(_table.oauth_name == oauth_name)
            .where(_table.account_id == account_id)
        )
        async with self.session_maker() as session:
            return await session.scalar(statement)

    async def list_for_user(self, user_id: uuid.UUID) -> list[OAuthAccount]:
        """The user's linked accounts, by provider name."""
        statement = (
            select(OAuthAccount)
            .where(_table.user_id == user_id)
            .order_by(_table.oauth_name, _table.account_id)
        )
        async with self.session_maker() as session:
            return list((await session.scalars(statement)).all())

    async def delete(self, id: uuid.UUID) -> bool:
        """Unlink one account; whether it existed."""
        async with self.session_maker() as session:
            result = await session.execute(delete(OAuthAccount).where(_table.id == id))
            await session.commit()
            return rowcount(result) == 1
