"""Sessions and refresh tokens in SQL tables (SQLite, PostgreSQL, MySQL/MariaDB).

Two mixins give the tables (`doorkeeper_session`, `doorkeeper_refresh_token`); the
store takes a session maker, so it can be built once per app, and opens one database
session per call. When given the user model, `get_with_user` loads a session and its
user in one query: a JWT of a session is checked in one round trip.

A refresh token is used with one `UPDATE ... WHERE used_at IS NULL`: of two requests
racing with the same token, exactly one changes the row.
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from doorkeeper.db.sqlalchemy.generics import GUID, UTCDateTime
from doorkeeper.models import ID
from doorkeeper.revocation import as_utc
from doorkeeper.sessions.records import (
    RefreshTokenRecord,
    RefreshUse,
    RefreshUseStatus,
    SessionRecord,
)

__all__ = [
    "SESSION_ID_LENGTH",
    "SQLAlchemyBaseRefreshTokenTable",
    "SQLAlchemyBaseSessionTable",
    "SQLAlchemyBaseSessionTableUUID",
    "SQLAlchemySessionStore",
]

SESSION_ID_LENGTH = 43
USER_AGENT_MAX_LENGTH = 255
IP_MAX_LENGTH = 45


class SQLAlchemyBaseSessionTable(Generic[ID]):
    """The `doorkeeper_session` table; a subclass declares `user_id` (a foreign key to
    its user table, `ondelete="cascade"`), or uses `SQLAlchemyBaseSessionTableUUID`."""

    __tablename__ = "doorkeeper_session"

    if TYPE_CHECKING:
        id: str
        user_id: ID
        backend: str
        created_at: datetime
        last_seen_at: datetime
        expires_at: datetime
        ip_address: str | None
        user_agent: str | None
        access_token_id: str | None
        revoked_at: datetime | None
    else:
        id: Mapped[str] = mapped_column(String(length=SESSION_ID_LENGTH), primary_key=True)
        backend: Mapped[str] = mapped_column(String(length=64), nullable=False)
        created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
        last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
        expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
        ip_address: Mapped[str | None] = mapped_column(String(length=IP_MAX_LENGTH))
        user_agent: Mapped[str | None] = mapped_column(String(length=USER_AGENT_MAX_LENGTH))
        access_token_id: Mapped[str | None] = mapped_column(String(length=64), index=True)
        revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SQLAlchemyBaseSessionTableUUID(SQLAlchemyBaseSessionTable[uuid.UUID]):
    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[uuid.UUID]:
            return mapped_column(
                GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True
            )


class SQLAlchemyBaseRefreshTokenTable:
    """The `doorkeeper_refresh_token` table: digests of refresh tokens, per session."""

    __tablename__ = "doorkeeper_refresh_token"

    if TYPE_CHECKING:
        digest: str
        session_id: str
        created_at: datetime
        expires_at: datetime
        used_at: datetime | None
    else:
        digest: Mapped[str] = mapped_column(String(length=43), primary_key=True)
        created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
        expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
        used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

        @declared_attr
        def session_id(cls) -> Mapped[str]:
            return mapped_column(
                String(length=SESSION_ID_LENGTH),
                ForeignKey("doorkeeper_session.id", ondelete="cascade"),
                nullable=False,
                index=True,
            )


_SESSION_FIELDS = (
    "id",
    "backend",
    "created_at",
    "last_seen_at",
    "expires_at",
    "ip_address",
    "user_agent",
    "access_token_id",
    "revoked_at",
)


class SQLAlchemySessionStore:
    """:param session_maker: Makes the database sessions (one per call).
    :param session_table: The session model (`SQLAlchemyBaseSessionTable` subclass).
    :param refresh_token_table: The refresh token model.
    :param user_table: The user model, to load a session and its user in one query.
    """

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        session_table: type[Any],
        refresh_token_table: type[Any],
        user_table: type[Any] | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.session_table = session_table
        self.refresh_token_table = refresh_token_table
        self.user_table = user_table

    def _user_id(self, value: str) -> Any:
        """A user id string as the type of the `user_id` column."""
        column_type = self.session_table.__table__.c.user_id.type
        python_type = column_type.python_type
        return value if python_type is str else python_type(value)

    def _record(self, row: Any) -> SessionRecord:
        values = {name: getattr(row, name) for name in _SESSION_FIELDS}
        for name in ("created_at", "last_seen_at", "expires_at", "revoked_at"):
            if values[name] is not None:
                values[name] = as_utc(values[name])
        return SessionRecord(user_id=str(row.user_id), **values)

    async def create(self, session: SessionRecord, refresh: RefreshTokenRecord | None) -> None:
        values = {name: getattr(session, name) for name in _SESSION_FIELDS}
        async with self.session_maker() as db:
            db.add(self.session_table(user_id=self._user_id(session.user_id), **values))
            if refresh is not None:
                await db.flush()  # the session row first: the token row refers to it
                db.add(self._refresh_row(refresh))
            await db.commit()

    def _refresh_row(self, refresh: RefreshTokenRecord) -> Any:
        return self.refresh_token_table(
            digest=refresh.digest,
            session_id=refresh.session_id,
            created_at=refresh.created_at,
            expires_at=refresh.expires_at,
            used_at=refresh.used_at,
        )

    async def get(self, session_id: str) -> SessionRecord | None:
        table = self.session_table
        async with self.session_maker() as db:
            row = await db.scalar(select(table).where(table.id == session_id))
        return None if row is None else self._record(row)

    async def get_with_user(self, session_id: str) -> tuple[SessionRecord, Any | None] | None:
        if self.user_table is None:
            record = await self.get(session_id)
            return None if record is None else (record, None)
        table, users = self.session_table, self.user_table
        statement = (
            select(table, users)
            .join(users, users.id == table.user_id)
            .where(table.id == session_id)
        )
        async with self.session_maker() as db:
            found = (await db.execute(statement)).unique().first()
        if found is None:
            return None
        row, user = found
        return self._record(row), user

    async def find_by_access_token(self, access_token_id: str) -> SessionRecord | None:
        table = self.session_table
        statement = select(table).where(table.access_token_id == access_token_id).limit(1)
        async with self.session_maker() as db:
            row = await db.scalar(statement)
        return None if row is None else self._record(row)

    async def list_for_user(self, user_id: str) -> list[SessionRecord]:
        table = self.session_table
        statement = (
            select(table)
            .where(table.user_id == self._user_id(user_id))
            .order_by(table.created_at.desc(), table.id)
        )
        async with self.session_maker() as db:
            rows = (await db.scalars(statement)).all()
        return [self._record(row) for row in rows]

    async def revoke(self, session_id: str, now: datetime) -> SessionRecord | None:
        table = self.session_table
        async with self.session_maker() as db:
            row = await db.scalar(select(table).where(table.id == session_id))
            if row is None:
                return None
            record = self._record(row)
            await db.execute(
                update(table)
                .where(table.id == session_id, table.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await db.commit()
        return record

    async def revoke_all(
        self, user_id: str, now: datetime, except_session_id: str | None = None
    ) -> list[SessionRecord]:
        table = self.session_table
        condition = [table.user_id == self._user_id(user_id), table.revoked_at.is_(None)]
        if except_session_id is not None:
            condition.append(table.id != except_session_id)
        async with self.session_maker() as db:
            rows = (await db.scalars(select(table).where(*condition))).all()
            records = [self._record(row) for row in rows]
            if records:
                ids = [record.id for record in records]
                await db.execute(
                    update(table)
                    .where(table.id.in_(ids), table.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                await db.commit()
        return records

    async def use_refresh_token(self, digest: str, now: datetime) -> RefreshUse:
        table = self.refresh_token_table
        async with self.session_maker() as db:
            result = await db.execute(
                update(table)
                .where(table.digest == digest, table.used_at.is_(None), table.expires_at > now)
                .values(used_at=now)
            )
            changed = _changed_rows(result)
            await db.commit()
            row = await db.scalar(select(table).where(table.digest == digest))
        if row is None:
            return RefreshUse(RefreshUseStatus.INVALID)
        if changed:
            return RefreshUse(RefreshUseStatus.OK, row.session_id)
        if row.used_at is not None:
            return RefreshUse(RefreshUseStatus.REUSED, row.session_id)
        return RefreshUse(RefreshUseStatus.EXPIRED, row.session_id)

    async def rotate(
        self,
        session_id: str,
        now: datetime,
        access_token_id: str | None,
        refresh: RefreshTokenRecord | None,
    ) -> bool:
        table = self.session_table
        async with self.session_maker() as db:
            result = await db.execute(
                update(table)
                .where(table.id == session_id, table.revoked_at.is_(None))
                .values(last_seen_at=now, access_token_id=access_token_id)
            )
            if not _changed_rows(result):
                await db.rollback()
                return False
            if refresh is not None:
                db.add(self._refresh_row(refresh))
            await db.commit()
        return True


def _changed_rows(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
