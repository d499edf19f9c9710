"""`SQLAlchemyAdapter`: Doorkeeper's tables on one async engine, with FastAPI dependencies
and sub-adapters (`.user`, `.token`, `.session`, `.role`, `.oauth`).

    adapter = SQLAlchemyAdapter("sqlite+aiosqlite:///./auth.db")
    adapter = SQLAlchemyAdapter(engine=existing_async_engine)
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeAlias

from fastapi import Depends
from sqlalchemy import MetaData, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from doorkeeper.adapter._helpers import close_quietly
from doorkeeper.adapter.engine import (
    DatabaseUnavailableError,
    check_sqlite_path,
    create_engine,
    describe_url,
    unavailable_error,
)
from doorkeeper.adapter.models import (
    AccessToken,
    Base,
    OAuthAccount,
    OneTimeToken,
    RefreshToken,
    Role,
    RolePermission,
    Session,
    SingleUse,
    User,
    UserRole,
)
from doorkeeper.adapter.oauth import OAuthAccountStore
from doorkeeper.adapter.roles import AdapterRoleStore
from doorkeeper.adapter.sessions import LoginSessionStore
from doorkeeper.adapter.tokens import OneTimeTokenStore
from doorkeeper.adapter.users import UserStore
from doorkeeper.db.sqlalchemy import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from doorkeeper.db.sqlalchemy.schema import DatabaseSchemaOutdatedError, missing_user_columns
from doorkeeper.sessions.sqlalchemy import SQLAlchemySessionStore
from doorkeeper.singleuse.sqlalchemy import SQLAlchemySingleUseStore

__all__ = [
    "CREATE_TABLES_ATTEMPTS",
    "AccessToken",
    "AdapterRoleStore",
    "Base",
    "DatabaseUnavailableError",
    "LoginSessionStore",
    "OAuthAccount",
    "OAuthAccountStore",
    "OneTimeToken",
    "OneTimeTokenStore",
    "RefreshToken",
    "Role",
    "RolePermission",
    "SQLAlchemyAdapter",
    "Session",
    "SingleUse",
    "User",
    "UserRole",
    "UserStore",
]

UserDatabase: TypeAlias = SQLAlchemyUserDatabase[User, uuid.UUID]
AccessTokenDatabase: TypeAlias = SQLAlchemyAccessTokenDatabase[User]

_UNREACHABLE = (OSError, TimeoutError, exc.DBAPIError)
CREATE_TABLES_ATTEMPTS = 6


class SQLAlchemyAdapter:
    """Doorkeeper's storage on SQLAlchemy (SQLite, PostgreSQL, MySQL/MariaDB).

    :param engine_url: The database URL; the adapter makes and owns the engine, with
        production defaults (see `doorkeeper.adapter.engine.create_engine`) that
        `engine_options` override.
    :param engine: An engine of yours instead; the adapter uses it as it is and leaves
        disposing of it to you.

    Exactly one of `engine_url` and `engine` is required.
    """

    def __init__(
        self,
        engine_url: str | None = None,
        *,
        engine: AsyncEngine | None = None,
        **engine_options: Any,
    ) -> None:
        if (engine_url is None) == (engine is None):
            raise ValueError("SQLAlchemyAdapter needs exactly one of engine_url and engine")
        if engine is not None:
            if engine_options:
                raise ValueError("engine options apply only to an engine made from engine_url")
            self.engine = engine
        else:
            assert engine_url is not None
            self.engine = create_engine(engine_url, **engine_options)
        self.owns_engine = engine is None
        self.session_maker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.user_table = User
        self.oauth_account_table = OAuthAccount
        self.access_token_table = AccessToken
        self.one_time_token_table = OneTimeToken
        self._user = UserStore(self.session_maker)
        self._token = OneTimeTokenStore(self.session_maker)
        self._session = LoginSessionStore(self.session_maker)
        self._oauth = OAuthAccountStore(self.session_maker)
        self._single_use = SQLAlchemySingleUseStore(self.session_maker, SingleUse)
        self._role = AdapterRoleStore(self.session_maker)
        self._login_sessions = SQLAlchemySessionStore(
            self.session_maker, Session, RefreshToken, User
        )
        self.get_session, self.get_user_db, self.get_access_token_db = self._dependencies()

    def _dependencies(
        self,
    ) -> tuple[
        Callable[[], AsyncIterator[AsyncSession]],
        Callable[..., AsyncIterator[UserDatabase]],
        Callable[..., AsyncIterator[AccessTokenDatabase]],
    ]:
        session_maker = self.session_maker

        async def get_session() -> AsyncIterator[AsyncSession]:
            """A session for one request (FastAPI dependency)."""
            session = session_maker()
            try:
                yield session
            finally:
                await close_quietly(session)

        async def get_user_db(
            session: AsyncSession = Depends(get_session),
        ) -> AsyncIterator[UserDatabase]:
            """The user database on the request's session (FastAPI dependency)."""
            yield SQLAlchemyUserDatabase(session, User, OAuthAccount)

        async def get_access_token_db(
            session: AsyncSession = Depends(get_session),
        ) -> AsyncIterator[AccessTokenDatabase]:
            """The access token database on the request's session (FastAPI dependency)."""
            yield SQLAlchemyAccessTokenDatabase(session, AccessToken)

        return get_session, get_user_db, get_access_token_db

    @property
    def metadata(self) -> MetaData:
        """`Base.metadata`: Doorkeeper's tables."""
        return Base.metadata

    @property
    def url(self) -> str:
        """The engine's URL, without its password."""
        return describe_url(self.engine.url)

    @property
    def user(self) -> UserStore:
        """Users (`BaseUserDatabase` methods, plus `list` and `count`), outside requests."""
        return self._user

    @property
    def token(self) -> OneTimeTokenStore:
        """One-time tokens: e-mail verification, password reset, e-mail change."""
        return self._token

    @property
    def session(self) -> LoginSessionStore:
        """Login sessions of the database strategy (the `accesstoken` table)."""
        return self._session

    @property
    def login_sessions(self) -> SQLAlchemySessionStore:
        """Login sessions and their refresh tokens (`doorkeeper_session`), the store of a
        `SessionService`; a session and its user load in one query."""
        return self._login_sessions

    @property
    def role(self) -> AdapterRoleStore:
        """Roles, their permissions and the users holding them (docs/rbac.md)."""
        return self._role

    @property
    def oauth(self) -> OAuthAccountStore:
        """Accounts at OAuth providers linked to users."""
        return self._oauth

    @property
    def single_use(self) -> SQLAlchemySingleUseStore:
        """Spent OAuth states and one-time codes, shared by every instance of the app
        (the `state_store` of the OAuth routers)."""
        return self._single_use

    async def create_tables(self) -> None:
        """Create the tables that do not exist yet; safe to call on every start-up.

        An unreachable database raises `DatabaseUnavailableError`; a `user` table
        without Doorkeeper's columns (FastAPI Users' schema) raises
        `DatabaseSchemaOutdatedError`, naming `doorkeeper db upgrade`, and creates
        nothing. Processes starting at
        once may race to create the same table: a loser tries again, finding more of
        the tables there each time.
        """
        await self.ping()
        attempt = 1
        while True:
            try:
                await self._create_all()
                return
            except exc.DBAPIError:
                if attempt >= CREATE_TABLES_ATTEMPTS:
                    raise
                await asyncio.sleep(0.05 * attempt)
                attempt += 1

    async def _create_all(self) -> None:
        async with self.engine.begin() as connection:
            missing = await connection.run_sync(missing_user_columns, User.__tablename__)
            if missing:
                # FastAPI Users' `user` table: creating the other tables beside it would
                # leave an app that fails on its first query.
                raise DatabaseSchemaOutdatedError(User.__tablename__, missing, "")
            await connection.run_sync(Base.metadata.create_all, checkfirst=True)

    async def ping(self) -> None:
        """Run `SELECT 1`; raise `DatabaseUnavailableError` (one readable line) if the
        database cannot be reached or opened."""
        check_sqlite_path(self.engine.url)
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except _UNREACHABLE as error:
            raise unavailable_error(self.engine.url, error) from error

    async def dispose(self) -> None:
        """Close the engine's pooled connections, if the adapter made the engine."""
        if self.owns_engine:
            await self.engine.dispose()
