"""SQLAlchemy 2 (async) storage: table mixins and the user database adapter.

Tables and columns keep FastAPI Users' names (`user`, `oauth_account`) so existing
databases keep working; Doorkeeper adds two columns to `user`:

* `email_normalized`: the normalized address (see `doorkeeper.normalization`) under a
  unique index. Case-insensitive uniqueness is enforced by the database on SQLite,
  PostgreSQL and MySQL/MariaDB alike, and `get_by_email` is an index lookup.
* `tokens_valid_after` and `tokens_valid_except`: tokens issued before this instant
  are refused, but for the one token named (the session that made the change). A
  password change or reset, an e-mail change, a deactivation or a logout moves it
  forward, which ends sessions without any extra query on requests that succeed
  (see `doorkeeper.revocation`).
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, validates
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Select

from doorkeeper.db.base import BaseUserDatabase
from doorkeeper.db.sqlalchemy.errors import UserAlreadyExistsIntegrityError
from doorkeeper.db.sqlalchemy.generics import GUID, TIMESTAMPAware, UTCDateTime, now_utc
from doorkeeper.db.sqlalchemy.schema import (
    DatabaseSchemaOutdatedError,
    metadata_option,
    schema_outdated,
)
from doorkeeper.invalidation import user_changed
from doorkeeper.models import ID, OAP, UP
from doorkeeper.normalization import normalize_email

__all__ = [
    "GUID",
    "UUID_ID",
    "SQLAlchemyBaseOAuthAccountTable",
    "SQLAlchemyBaseOAuthAccountTableUUID",
    "SQLAlchemyBaseUserTable",
    "SQLAlchemyBaseUserTableUUID",
    "SQLAlchemyUserDatabase",
    "TIMESTAMPAware",
    "UTCDateTime",
    "UserAlreadyExistsIntegrityError",
    "now_utc",
]

UUID_ID = uuid.UUID


class SQLAlchemyBaseUserTable(Generic[ID]):
    """Base SQLAlchemy users table definition."""

    __tablename__ = "user"

    if TYPE_CHECKING:
        id: ID
        email: str
        email_normalized: str
        hashed_password: str
        is_active: bool
        is_superuser: bool
        is_verified: bool
        tokens_valid_after: datetime | None
        tokens_valid_except: str | None
    else:
        email: Mapped[str] = mapped_column(
            String(length=320), unique=True, index=True, nullable=False
        )
        email_normalized: Mapped[str] = mapped_column(
            String(length=320), unique=True, index=True, nullable=False
        )
        hashed_password: Mapped[str] = mapped_column(String(length=1024), nullable=False)
        is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
        is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
        is_verified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
        tokens_valid_after: Mapped[datetime | None] = mapped_column(
            UTCDateTime, nullable=True, default=None
        )
        tokens_valid_except: Mapped[str | None] = mapped_column(
            String(length=64), nullable=True, default=None
        )

    @validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        self.email_normalized = normalize_email(value)
        return value


class SQLAlchemyBaseUserTableUUID(SQLAlchemyBaseUserTable[UUID_ID]):
    if TYPE_CHECKING:
        id: UUID_ID
    else:
        id: Mapped[UUID_ID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)


class SQLAlchemyBaseOAuthAccountTable(Generic[ID]):
    """Base SQLAlchemy OAuth account table definition.

    One provider account links to one user: (oauth_name, account_id) is unique.
    """

    __tablename__ = "oauth_account"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            UniqueConstraint("oauth_name", "account_id", name="uq_oauth_account_name_account_id"),
        )

    if TYPE_CHECKING:
        id: ID
        oauth_name: str
        access_token: str
        expires_at: int | None
        refresh_token: str | None
        account_id: str
        account_email: str
    else:
        oauth_name: Mapped[str] = mapped_column(String(length=100), index=True, nullable=False)
        access_token: Mapped[str] = mapped_column(String(length=1024), nullable=False)
        expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
        refresh_token: Mapped[str | None] = mapped_column(String(length=1024), nullable=True)
        account_id: Mapped[str] = mapped_column(String(length=320), index=True, nullable=False)
        account_email: Mapped[str] = mapped_column(String(length=320), nullable=False)


class SQLAlchemyBaseOAuthAccountTableUUID(SQLAlchemyBaseOAuthAccountTable[UUID_ID]):
    if TYPE_CHECKING:
        id: UUID_ID
        user_id: UUID_ID
    else:
        id: Mapped[UUID_ID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)

        @declared_attr
        def user_id(cls) -> Mapped[UUID_ID]:
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False)


class SQLAlchemyUserDatabase(Generic[UP, ID], BaseUserDatabase[UP, ID]):
    """Database adapter for SQLAlchemy.

    :param session: SQLAlchemy session instance.
    :param user_table: SQLAlchemy user model.
    :param oauth_account_table: Optional SQLAlchemy OAuth accounts model.

    Every write commits; a failed write rolls back, so nothing half-written stays.
    """

    session: AsyncSession
    user_table: type[UP]
    oauth_account_table: type[SQLAlchemyBaseOAuthAccountTable[Any]] | None

    def __init__(
        self,
        session: AsyncSession,
        user_table: type[UP],
        oauth_account_table: type[SQLAlchemyBaseOAuthAccountTable[Any]] | None = None,
    ) -> None:
        self.session = session
        self.user_table = user_table
        self.oauth_account_table = oauth_account_table

    @property
    def _table(self) -> Any:
        return self.user_table

    async def get(self, id: ID) -> UP | None:
        statement = select(self.user_table).where(self._table.id == id)
        return await self._get_user(statement)

    async def get_by_email(self, email: str) -> UP | None:
        return await self._get_user(self._select_by_email(email))

    def _select_by_email(self, email: str) -> Select[Any]:
        """An equality on the unique index of normalized addresses."""
        return select(self.user_table).where(self._table.email_normalized == normalize_email(email))

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> UP | None:
        if self.oauth_account_table is None:
            raise NotImplementedError()
        oauth_table: Any = self.oauth_account_table
        statement = (
            select(self.user_table)
            .join(oauth_table, oauth_table.user_id == self._table.id)
            .where(oauth_table.oauth_name == oauth)
            .where(oauth_table.account_id == account_id)
        )
        return await self._get_user(statement)

    async def create(self, create_dict: dict[str, Any]) -> UP:
        user = self.user_table(**create_dict)
        self.session.add(user)
        await self._commit_or_raise_duplicate(create_dict.get("email"))
        await self._refresh_if_expired(user)
        return user

    async def update(self, user: UP, update_dict: dict[str, Any]) -> UP:
        for key, value in update_dict.items():
            setattr(user, key, value)
        self.session.add(user)
        await self._commit_or_raise_duplicate(update_dict.get("email"))
        await self._refresh_if_expired(user)
        await user_changed(user.id)
        return user

    async def update_if(
        self, user: UP, update_dict: dict[str, Any], expected: dict[str, Any]
    ) -> UP | None:
        """Compare-and-set in one UPDATE statement: at most one concurrent caller wins."""
        values = dict(update_dict)
        if "email" in values:
            values["email_normalized"] = normalize_email(values["email"])
        statement = update(self.user_table).where(self._table.id == user.id)
        for key, value in expected.items():
            statement = statement.where(getattr(self._table, key) == value)
        statement = statement.values(**values).execution_options(synchronize_session=False)
        try:
            result: Any = await self.session.execute(statement)
        except IntegrityError as error:
            await self.session.rollback()
            raise UserAlreadyExistsIntegrityError.from_integrity_error(error) from None
        await self.session.commit()
        if result.rowcount != 1:
            return None
        for key, value in values.items():
            # The row is written already: record the values without marking them dirty.
            set_committed_value(user, key, value)
        await self._refresh_if_expired(user)
        await user_changed(user.id)
        return user

    async def delete(self, user: UP) -> None:
        user_id = user.id
        await self.session.delete(user)
        await self.session.commit()
        await user_changed(user_id)

    async def add_oauth_account(self, user: UP, create_dict: dict[str, Any]) -> UP:
        if self.oauth_account_table is None:
            raise NotImplementedError()
        await self.session.refresh(user)
        oauth_account = self.oauth_account_table(**create_dict)
        self.session.add(oauth_account)
        user.oauth_accounts.append(oauth_account)  # type: ignore[attr-defined]
        self.session.add(user)
        await self._commit_or_raise_duplicate(None)
        return user

    async def update_oauth_account(
        self, user: UP, oauth_account: OAP, update_dict: dict[str, Any]
    ) -> UP:
        if self.oauth_account_table is None:
            raise NotImplementedError()
        for key, value in update_dict.items():
            setattr(oauth_account, key, value)
        self.session.add(oauth_account)
        await self.session.commit()
        return user

    async def delete_oauth_account(self, user: UP, oauth_account: OAP) -> UP:
        if self.oauth_account_table is None:
            raise NotImplementedError()
        accounts = user.oauth_accounts  # type: ignore[attr-defined]
        if oauth_account in accounts:
            accounts.remove(oauth_account)
        await self.session.delete(oauth_account)
        await self.session.commit()
        return user

    async def _commit_or_raise_duplicate(self, email: str | None) -> None:
        """Commit; turn a uniqueness violation into `UserAlreadyExistsIntegrityError`,
        which both `except UserAlreadyExists` (Doorkeeper's flows) and `except
        IntegrityError` (apps written for FastAPI Users' adapter) catch.

        Any other integrity error (a constraint of the app's own columns) propagates
        as itself, after the rollback.
        """
        try:
            await self.session.commit()
        except IntegrityError as error:
            await self.session.rollback()
            if email is None or await self.get_by_email(email) is not None:
                raise UserAlreadyExistsIntegrityError.from_integrity_error(error) from None
            raise

    async def _refresh_if_expired(self, instance: Any) -> None:
        # A session made with expire_on_commit=True (SQLAlchemy's default) expires
        # every attribute on commit; reload now rather than fail on lazy access later.
        if self.session.sync_session.expire_on_commit:
            await self.session.refresh(instance)

    async def _get_user(self, statement: Select[Any]) -> UP | None:
        try:
            results = await self.session.execute(statement)
        except DBAPIError as error:
            # Every flow reads the user first: a database still in FastAPI Users' schema
            # fails here, with a message that names the command to run.
            missing = schema_outdated(error)
            if missing is None:
                raise
            await self.session.rollback()
            raise DatabaseSchemaOutdatedError(
                self._table.__table__.name, missing.columns, metadata_option(self.user_table)
            ) from error
        user: UP | None = results.unique().scalar_one_or_none()
        return user
