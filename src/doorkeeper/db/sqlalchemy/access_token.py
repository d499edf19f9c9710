"""SQLAlchemy storage for the database authentication strategy.

The `token` column holds the SHA-256 digest of the token (base64url, 43 characters:
the width FastAPI Users gave the raw token), never the token itself.
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from doorkeeper.db.sqlalchemy.generics import GUID, UTCDateTime, now_utc
from doorkeeper.models import ID, UP

__all__ = [
    "SQLAlchemyAccessTokenDatabase",
    "SQLAlchemyBaseAccessTokenTable",
    "SQLAlchemyBaseAccessTokenTableUUID",
]


class SQLAlchemyBaseAccessTokenTable(Generic[ID]):
    """Base SQLAlchemy access token table definition."""

    __tablename__ = "accesstoken"

    if TYPE_CHECKING:
        token: str
        created_at: datetime
        user_id: ID
    else:
        token: Mapped[str] = mapped_column(String(length=43), primary_key=True)
        created_at: Mapped[datetime] = mapped_column(
            UTCDateTime, index=True, nullable=False, default=now_utc
        )


class SQLAlchemyBaseAccessTokenTableUUID(SQLAlchemyBaseAccessTokenTable[uuid.UUID]):
    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[uuid.UUID]:
            return mapped_column(
                GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True
            )


class SQLAlchemyAccessTokenDatabase(Generic[UP]):
    """Access token database adapter for SQLAlchemy.

    :param session: SQLAlchemy session instance.
    :param access_token_table: SQLAlchemy access token model.

    The values passed as `token` are whatever the strategy stores (Doorkeeper's
    `DatabaseStrategy` passes digests).
    """

    def __init__(self, session: AsyncSession, access_token_table: type[Any]) -> None:
        self.session = session
        self.access_token_table = access_token_table

    async def get_by_token(self, token: str, max_age: datetime | None = None) -> Any | None:
        table = self.access_token_table
        statement = select(table).where(table.token == token)
        if max_age is not None:
            statement = statement.where(table.created_at >= max_age)
        results = await self.session.execute(statement)
        return results.scalar_one_or_none()

    async def get_by_token_with_user(
        self, token: str, max_age: datetime | None = None
    ) -> tuple[Any, Any] | None:
        """The token and its user in one query (a join on the `user_id` foreign key)."""
        table = self.access_token_table
        user_class = self._user_class()
        if user_class is None:
            access_token = await self.get_by_token(token, max_age)
            return None if access_token is None else (access_token, None)
        statement = (
            select(table, user_class)
            .join(user_class, user_class.id == table.user_id)
            .where(table.token == token)
        )
        if max_age is not None:
            statement = statement.where(table.created_at >= max_age)
        row = (await self.session.execute(statement)).unique().first()
        return None if row is None else (row[0], row[1])

    def _user_class(self) -> Any | None:
        """The mapped class behind the table `user_id` points to, if it is mapped."""
        column = self.access_token_table.__table__.c.user_id
        for foreign_key in column.foreign_keys:
            target = foreign_key.column.table
            for mapper in self.access_token_table.registry.mappers:
                if mapper.local_table is target:
                    return mapper.class_
        return None

    async def create(self, create_dict: dict[str, Any]) -> Any:
        access_token = self.access_token_table(**create_dict)
        self.session.add(access_token)
        await self.session.commit()
        if self.session.sync_session.expire_on_commit:
            await self.session.refresh(access_token)
        return access_token

    async def update(self, access_token: Any, update_dict: dict[str, Any]) -> Any:
        for key, value in update_dict.items():
            setattr(access_token, key, value)
        self.session.add(access_token)
        await self.session.commit()
        if self.session.sync_session.expire_on_commit:
            await self.session.refresh(access_token)
        return access_token

    async def delete(self, access_token: Any) -> None:
        await self.session.delete(access_token)
        await self.session.commit()

    async def delete_by_token(self, token: str) -> None:
        """End one token by its stored value, whether or not it still exists."""
        table = self.access_token_table
        await self.session.execute(delete(table).where(table.token == token))
        await self.session.commit()

    async def delete_by_user(self, user_id: Any) -> None:
        """End every token of one user."""
        table = self.access_token_table
        await self.session.execute(delete(table).where(table.user_id == user_id))
        await self.session.commit()
