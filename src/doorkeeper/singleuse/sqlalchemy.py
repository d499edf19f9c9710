"""Single-use keys in an SQL table (SQLite, PostgreSQL, MySQL/MariaDB).

`SQLAlchemyBaseSingleUseTable` gives the table (`doorkeeper_single_use`); the store
takes a session maker and opens one database session per call. Claiming a key is one
`INSERT`: the primary key lets one caller in, whatever the race. Taking a value is one
`UPDATE ... WHERE used_at IS NULL`: of two concurrent callers exactly one changes the
row. Rows that can no longer be used are deleted now and then (`purge_expired`).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, delete, insert, or_, select, update
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from doorkeeper.db.sqlalchemy.generics import UTCDateTime, now_utc
from doorkeeper.singleuse.store import KEY_MAX_LENGTH, VALUE_MAX_LENGTH, SingleUseStore

__all__ = [
    "PURGE_EVERY",
    "SQLAlchemyBaseSingleUseTable",
    "SQLAlchemySingleUseStore",
    "exact_string",
]

PURGE_EVERY = 100
"""Expired and spent rows are deleted once every this many writes (per process)."""


def exact_string(length: int) -> TypeEngine[Any]:
    """Compared byte for byte (digests are case-sensitive): ASCII with a binary collation
    on MySQL/MariaDB, whose default collation ignores case."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


class SQLAlchemyBaseSingleUseTable:
    """The `doorkeeper_single_use` table: a key (a digest), an optional value, when it
    stops counting, and when it was used."""

    __tablename__ = "doorkeeper_single_use"

    if TYPE_CHECKING:
        key: str
        value: str | None
        expires_at: datetime
        used_at: datetime | None
    else:
        key: Mapped[str] = mapped_column(exact_string(KEY_MAX_LENGTH), primary_key=True)
        value: Mapped[str | None] = mapped_column(String(length=VALUE_MAX_LENGTH), nullable=True)
        expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
        used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class SQLAlchemySingleUseStore(SingleUseStore):
    """:param session_maker: makes the database sessions (one per call).
    :param table: the app's model built on `SQLAlchemyBaseSingleUseTable`."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession], table: type[Any]) -> None:
        self.session_maker = session_maker
        self.table = table
        self._writes = 0

    async def claim(self, key: str, expires_at: datetime) -> bool:
        now = now_utc()
        statement = insert(self.table).values(
            key=key, value=None, expires_at=expires_at, used_at=now
        )
        async with self.session_maker() as session:
            try:
                await session.execute(statement)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
        await self._count_write()
        return True

    async def put(self, key: str, value: str, expires_at: datetime) -> None:
        if len(value) > VALUE_MAX_LENGTH:
            raise ValueError(f"a single-use value has at most {VALUE_MAX_LENGTH} characters")
        statement = insert(self.table).values(
            key=key, value=value, expires_at=expires_at, used_at=None
        )
        async with self.session_maker() as session:
            await session.execute(statement)
            await session.commit()
        await self._count_write()

    async def take(self, key: str) -> str | None:
        table = self.table
        now = now_utc()
        statement = (
            update(table)
            .where(table.key == key)
            .where(table.used_at.is_(None))
            .where(table.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        async with self.session_maker() as session:
            if _rowcount(await session.execute(statement)) != 1:
                await session.rollback()
                return None
            value: str | None = await session.scalar(select(table.value).where(table.key == key))
            await session.commit()
        return value

    async def purge_expired(self) -> int:
        """Delete the rows past their end, and the taken values; return how many."""
        table = self.table
        statement = delete(table).where(
            or_(
                table.expires_at <= now_utc(), table.value.is_not(None) & table.used_at.is_not(None)
            )
        )
        async with self.session_maker() as session:
            count = _rowcount(await session.execute(statement))
            await session.commit()
        return count

    async def _count_write(self) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            await self.purge_expired()
