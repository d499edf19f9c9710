"""`adapter.user`: the user database, opening a session of its own for every call.

For code that runs outside a request (CLI commands, scripts, background jobs). In a
request, use `adapter.get_user_db`, which shares the request's session.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.adapter._helpers import attach
from doorkeeper.adapter.models import OAuthAccount, User
from doorkeeper.db.base import BaseUserDatabase
from doorkeeper.db.sqlalchemy import SQLAlchemyUserDatabase

__all__ = ["UserStore"]


class UserStore(BaseUserDatabase[User, uuid.UUID]):
    """`BaseUserDatabase` over `User` and `OAuthAccount`, one session per call.

    The users it returns are detached from any session, with every column and their
    OAuth accounts loaded; pass them back to its methods freely.
    """

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    @asynccontextmanager
    async def _database(self) -> AsyncIterator[SQLAlchemyUserDatabase[User, uuid.UUID]]:
        async with self.session_maker() as session:
            yield SQLAlchemyUserDatabase(session, User, OAuthAccount)

    async def get(self, id: uuid.UUID) -> User | None:
        async with self._database() as database:
            return await database.get(id)

    async def get_by_email(self, email: str) -> User | None:
        async with self._database() as database:
            return await database.get_by_email(email)

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> User | None:
        async with self._database() as database:
            return await database.get_by_oauth_account(oauth, account_id)

    async def create(self, create_dict: dict[str, Any]) -> User:
        async with self._database() as database:
            return await database.create(create_dict)

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        async with self._database() as database:
            user = await attach(database.session, user)
            return await database.update(user, update_dict)

    async def update_if(
        self, user: User, update_dict: dict[str, Any], expected: dict[str, Any]
    ) -> User | None:
        async with self._database() as database:
            return await database.update_if(user, update_dict, expected)

    async def delete(self, user: User) -> None:
        async with self._database() as database:
            await database.delete(await attach(database.session, user))

    async def add_oauth_account(self, user: User, create_dict: dict[str, Any]) -> User:
        async with self._database() as database:
            user = await attach(database.session, user)
            return await database.add_oauth_account(user, create_dict)

    async def update_oauth_account(
        self, user: User, oauth_account: Any, update_dict: dict[str, Any]
    ) -> User:
        async with self._database() as database:
            user = await attach(database.session, user)
            oauth_account = await attach(database.session, oauth_account)
            return await database.update_oauth_account(user, oauth_account, update_dict)

    async def list(self, offset: int = 0, limit: int = 100) -> list[User]:
        """Users ordered by normalized e-mail, `limit` of them from `offset`."""
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        statement = select(User).order_by(User.email_normalized).offset(offset).limit(limit)
        async with self.session_maker() as session:
            result = await session.execute(statement)
            return list(result.unique().scalars().all())

    async def count(self) -> int:
        """How many users there are."""
        async with self.session_maker() as session:
            result = await session.execute(select(func.count()).select_from(User))
            return int(result.scalar_one())
