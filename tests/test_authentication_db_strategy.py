"""DatabaseStrategy over SQLite, PostgreSQL and MariaDB: round trip, hashed storage,
lifetime, revocation, and the one-query path."""

import base64
import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.authentication.strategy import DatabaseStrategy as ExportedDatabaseStrategy
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.authentication.strategy.digest import hash_token
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from tests.managers import UserManager
from tests.models import AccessToken, User

Strategy = DatabaseStrategy[User, uuid.UUID, AccessToken]


@pytest.fixture
def access_token_db(session: AsyncSession) -> SQLAlchemyAccessTokenDatabase[AccessToken]:
    return SQLAlchemyAccessTokenDatabase(session, AccessToken)


@pytest.fixture
def strategy(access_token_db: SQLAlchemyAccessTokenDatabase[AccessToken]) -> Strategy:
    return DatabaseStrategy(access_token_db, lifetime_seconds=3600)


def test_exported_from_strategy_package() -> None:
    assert ExportedDatabaseStrategy is DatabaseStrategy


def test_hash_token_is_sha256_base64url() -> None:
    expected = base64.urlsafe_b64encode(hashlib.sha256(b"abc").digest()).rstrip(b"=").decode()
    assert hash_token("abc") == expected
    assert len(hash_token("anything")) == 43
    assert "=" not in hash_token("anything")


async def test_round_trip_stores_only_the_digest(
    strategy: Strategy, user: User, user_manager: UserManager, session: AsyncSession
) -> None:
    token = await strategy.write_token(user)
    assert len(token) == 43  # 32 random bytes, base64url
    rows = (await session.execute(select(AccessToken))).scalars().all()
    assert [row.token for row in rows] == [hash_token(token)]
    assert rows[0].user_id == user.id
    assert token not in {row.token for row in rows}
    found = await strategy.read_token(token, user_manager)
    assert found is not None
    assert found.id == user.id
    assert strategy.token_id(token) == hash_token(token)


async def test_the_digest_itself_is_not_a_token(
    strategy: Strategy, user: User, user_manager: UserManager
) -> None:
    """A leaked table cannot be replayed: presenting a stored digest fails."""
    token = await strategy.write_token(user)
    assert await strategy.read_token(hash_token(token), user_manager) is None


async def test_tokens_are_unique(strategy: Strategy, user: User) -> None:
    tokens = {await strategy.write_token(user) for _ in range(5)}
    assert len(tokens) == 5


@pytest.mark.parametrize("token", [None, "", "unknown", "x" * 9000])
async def test_unknown_tokens(
    strategy: Strategy, user: User, user_manager: UserManager, token: str | None
) -> None:
    await strategy.write_token(user)
    assert await strategy.read_token(token, user_manager) is None


async def test_destroy(
    strategy: Strategy, user: User, user_manager: UserManager, session: AsyncSession
) -> None:
    token = await strategy.write_token(user)
    other = await strategy.write_token(user)
    await strategy.destroy_token(token, user)
    assert await strategy.read_token(token, user_manager) is None
    assert await strategy.read_token(other, user_manager) is not None
    remaining = (await session.execute(select(AccessToken.token))).scalars().all()
    assert remaining == [hash_token(other)]
    # Destroying an unknown or absurd token is a no-op.
    await strategy.destroy_token(token, user)
    await strategy.destroy_token("x" * 9000, user)
    assert await strategy.read_token(other, user_manager) is not None


async def test_lifetime(
    strategy: Strategy,
    user: User,
    user_manager: UserManager,
    session: AsyncSession,
    access_token_db: SQLAlchemyAccessTokenDatabase[AccessToken],
) -> None:
    token = await strategy.write_token(user)
    old = datetime.now(timezone.utc) - timedelta(seconds=3601)
    await session.execute(
        update(AccessToken).where(AccessToken.token == hash_token(token)).values(created_at=old)
    )
    await session.commit()
    session.expunge_all()
    assert await strategy.read_token(token, user_manager) is None
    unlimited: Strategy = DatabaseStrategy(access_token_db)
    assert await unlimited.read_token(token, user_manager) is not None


async def test_revocation(strategy: Strategy, user: User, user_manager: UserManager) -> None:
    old = await strategy.write_token(user)
    kept = await strategy.write_token(user)
    await user_manager.revoke_tokens(user, keep_token_id=strategy.token_id(kept))
    assert await strategy.read_token(old, user_manager) is None
    assert await strategy.read_token(kept, user_manager) is not None
    new = await strategy.write_token(user)
    assert await strategy.read_token(new, user_manager) is not None
    await user_manager.revoke_tokens(user)
    assert await strategy.read_token(kept, user_manager) is None
    assert await strategy.read_token(new, user_manager) is None


async def test_deleted_user(
    user: User,
    user_manager: UserManager,
    access_token_db: SQLAlchemyAccessTokenDatabase[AccessToken],
) -> None:
    """Once the user is deleted, its tokens are refused on the joined and the two-query
    paths (whether the row went with the user, or stayed: SQLite without foreign keys)."""
    joined: Strategy = DatabaseStrategy(access_token_db)
    two_queries: DatabaseStrategy[User, uuid.UUID, Any] = DatabaseStrategy(
        _TwoQueryDatabase(access_token_db)
    )
    token = await joined.write_token(user)
    assert await two_queries.read_token(token, user_manager) is not None
    await user_manager.user_db.delete(user)
    assert await joined.read_token(token, user_manager) is None
    assert await two_queries.read_token(token, user_manager) is None


class _TwoQueryDatabase:
    """An adapter without `get_by_token_with_user`, as FastAPI Users' adapters are."""

    def __init__(self, inner: SQLAlchemyAccessTokenDatabase[AccessToken]) -> None:
        self.inner = inner

    async def get_by_token(self, token: str, max_age: datetime | None = None) -> Any:
        return await self.inner.get_by_token(token, max_age)

    async def create(self, create_dict: dict[str, Any]) -> Any:
        return await self.inner.create(create_dict)

    async def update(self, access_token: Any, update_dict: dict[str, Any]) -> Any:
        return await self.inner.update(access_token, update_dict)

    async def delete(self, access_token: Any) -> None:
        await self.inner.delete(access_token)


class _UnjoinableDatabase(_TwoQueryDatabase):
    """An adapter whose join could not find the user class (it answers `(row, None)`)."""

    async def get_by_token_with_user(
        self, token: str, max_age: datetime | None = None
    ) -> tuple[Any, None] | None:
        row = await self.inner.get_by_token(token, max_age)
        return None if row is None else (row, None)


def _count_queries(session: AsyncSession) -> list[str]:
    statements: list[str] = []
    engine = session.bind.sync_engine  # type: ignore[union-attr]

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    return statements


async def test_one_query_when_the_storage_joins(
    strategy: Strategy, user: User, user_manager: UserManager, session: AsyncSession
) -> None:
    token = await strategy.write_token(user)
    session.expunge_all()  # nothing from the identity map
    statements = _count_queries(session)
    found = await strategy.read_token(token, user_manager)
    assert found is not None
    assert found.id == user.id
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1


@pytest.mark.parametrize("database_class", [_TwoQueryDatabase, _UnjoinableDatabase])
async def test_adapters_without_the_join(
    database_class: type[_TwoQueryDatabase],
    access_token_db: SQLAlchemyAccessTokenDatabase[AccessToken],
    user: User,
    user_manager: UserManager,
    session: AsyncSession,
) -> None:
    strategy: DatabaseStrategy[User, uuid.UUID, Any] = DatabaseStrategy(
        database_class(access_token_db), lifetime_seconds=60
    )
    token = await strategy.write_token(user)
    session.expunge_all()
    statements = _count_queries(session)
    found = await strategy.read_token(token, user_manager)
    assert found is not None
    assert found.id == user.id
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
    assert await strategy.read_token("unknown", user_manager) is None
    await strategy.destroy_token(token, user)
    assert await strategy.read_token(token, user_manager) is None


async def test_no_join_across_sessions(
    session_maker: async_sessionmaker[AsyncSession],
    user: User,
    user_manager: UserManager,
    session: AsyncSession,
) -> None:
    """When the token storage and the user storage hold different sessions, the user is
    loaded through the manager, so it belongs to the manager's session (and can be
    updated through it)."""
    async with session_maker() as token_session:
        strategy: Strategy = DatabaseStrategy(
            SQLAlchemyAccessTokenDatabase(token_session, AccessToken)
        )
        token = await strategy.write_token(user)
        found = await strategy.read_token(token, user_manager)
        assert found is not None
        assert found in session
        assert found not in token_session
        updated = await user_manager.revoke_tokens(found)
        assert updated.tokens_valid_after is not None
