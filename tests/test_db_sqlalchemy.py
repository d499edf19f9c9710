"""The SQLAlchemy user and access-token adapters, on SQLite, PostgreSQL and MariaDB."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from doorkeeper.db import (
    BaseUserDatabase,
    SQLAlchemyBaseUserTableUUID,
    SQLAlchemyUserDatabase,
)
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from doorkeeper.exceptions import UserAlreadyExists
from tests.models import AccessToken, IntBase, IntUser, OAuthAccount, User


@pytest.fixture
def user_db(session: AsyncSession) -> SQLAlchemyUserDatabase[User, uuid.UUID]:
    return SQLAlchemyUserDatabase(session, User, OAuthAccount)


async def test_create_get_update_delete(user_db: SQLAlchemyUserDatabase[User, uuid.UUID]) -> None:
    user = await user_db.create(
        {"email": "King.Arthur@Camelot.bt", "hashed_password": "h", "first_name": "Arthur"}
    )
    assert isinstance(user.id, uuid.UUID)
    assert user.is_active and not user.is_superuser and not user.is_verified
    assert user.email == "King.Arthur@Camelot.bt"
    assert user.email_normalized == "king.arthur@camelot.bt"

    assert (await user_db.get(user.id)).email == user.email  # type: ignore[union-attr]
    assert await user_db.get(uuid.uuid4()) is None
    for variant in ("king.arthur@camelot.bt", "KING.ARTHUR@CAMELOT.BT", " King.Arthur@camelot.BT "):
        found = await user_db.get_by_email(variant)
        assert found is not None and found.id == user.id
    assert await user_db.get_by_email("lancelot@camelot.bt") is None

    updated = await user_db.update(user, {"email": "Arthur@Camelot.bt", "is_superuser": True})
    assert updated.is_superuser
    assert (await user_db.get_by_email("arthur@camelot.bt")) is not None
    assert await user_db.get_by_email("king.arthur@camelot.bt") is None

    await user_db.delete(user)
    assert await user_db.get(user.id) is None


async def test_duplicate_email_in_any_case_is_refused_by_the_database(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID], session: AsyncSession
) -> None:
    first = await user_db.create({"email": "lancelot@camelot.bt", "hashed_password": "h"})
    with pytest.raises(UserAlreadyExists):
        await user_db.create({"email": "LANCELOT@camelot.bt", "hashed_password": "h"})
    # Nothing half-written, and the session is usable again.
    count = len((await session.execute(select(User))).unique().all())
    assert count == 1
    other = await user_db.create({"email": "galahad@camelot.bt", "hashed_password": "h"})
    with pytest.raises(UserAlreadyExists):
        await user_db.update(other, {"email": "Lancelot@Camelot.BT"})
    assert (await user_db.get(first.id)) is not None


async def test_other_integrity_errors_propagate(engine: AsyncEngine) -> None:
    class StrictBase(DeclarativeBase):
        pass

    class StrictUser(SQLAlchemyBaseUserTableUUID, StrictBase):
        __tablename__ = "strict_user"
        nickname: Mapped[str] = mapped_column(String(50), nullable=False)

    async with engine.begin() as connection:
        await connection.run_sync(StrictBase.metadata.create_all)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        user_db = SQLAlchemyUserDatabase(session, StrictUser)
        with pytest.raises(IntegrityError):
            await user_db.create({"email": "a@b.co", "hashed_password": "h", "nickname": None})


async def test_concurrent_creates_of_one_email_leave_exactly_one_row(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    variants = ["percival@camelot.bt", "Percival@camelot.bt", "PERCIVAL@CAMELOT.BT"]

    async def create(index: int) -> str:
        async with session_maker() as session:
            user_db = SQLAlchemyUserDatabase(session, User)
            try:
                await user_db.create(
                    {"email": variants[index % len(variants)], "hashed_password": "h"}
                )
            except UserAlreadyExists:
                return "exists"
            return "created"

    results = await asyncio.gather(*(create(i) for i in range(20)))
    assert results.count("created") == 1
    assert results.count("exists") == 19


async def test_update_if_is_compare_and_set(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID],
) -> None:
    user = await user_db.create({"email": "bors@camelot.bt", "hashed_password": "old"})
    assert (
        await user_db.update_if(user, {"hashed_password": "new"}, {"hashed_password": "x"}) is None
    )
    assert user.hashed_password == "old"
    updated = await user_db.update_if(
        user, {"hashed_password": "new", "email": "Bors2@camelot.bt"}, {"hashed_password": "old"}
    )
    assert updated is not None
    assert updated.hashed_password == "new"
    assert updated.email_normalized == "bors2@camelot.bt"
    reloaded = await user_db.get_by_email("BORS2@camelot.bt")
    assert reloaded is not None and reloaded.hashed_password == "new"
    await user_db.create({"email": "gawain@camelot.bt", "hashed_password": "h"})
    with pytest.raises(UserAlreadyExists):
        await user_db.update_if(user, {"email": "GAWAIN@camelot.bt"}, {"hashed_password": "new"})


async def test_oauth_accounts(user_db: SQLAlchemyUserDatabase[User, uuid.UUID]) -> None:
    user = await user_db.create({"email": "tristan@camelot.bt", "hashed_password": "h"})
    account = {
        "oauth_name": "service1",
        "access_token": "TOKEN",
        "expires_at": 1579000751,
        "account_id": "user_oauth1",
        "account_email": "tristan@camelot.bt",
    }
    user = await user_db.add_oauth_account(user, account)
    assert len(user.oauth_accounts) == 1
    found = await user_db.get_by_oauth_account("service1", "user_oauth1")
    assert found is not None and found.id == user.id
    assert await user_db.get_by_oauth_account("service1", "nobody") is None
    assert await user_db.get_by_oauth_account("service2", "user_oauth1") is None

    user = await user_db.update_oauth_account(
        user, user.oauth_accounts[0], {"access_token": "NEW_TOKEN"}
    )
    assert user.oauth_accounts[0].access_token == "NEW_TOKEN"

    other = await user_db.create({"email": "isolde@camelot.bt", "hashed_password": "h"})
    with pytest.raises(UserAlreadyExists):  # one provider account, one user
        await user_db.add_oauth_account(other, dict(account, account_email="isolde@camelot.bt"))


async def test_oauth_methods_need_an_oauth_table(session: AsyncSession) -> None:
    user_db = SQLAlchemyUserDatabase(session, User)
    user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
    with pytest.raises(NotImplementedError):
        await user_db.get_by_oauth_account("service1", "x")
    with pytest.raises(NotImplementedError):
        await user_db.add_oauth_account(user, {})
    with pytest.raises(NotImplementedError):
        await user_db.update_oauth_account(user, object(), {})


async def test_integer_ids(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(IntBase.metadata.create_all)
    async with async_sessionmaker(engine)() as session:  # expire_on_commit=True
        user_db = SQLAlchemyUserDatabase(session, IntUser)
        user = await user_db.create({"email": "bedivere@camelot.bt", "hashed_password": "h"})
        assert isinstance(user.id, int)
        user = await user_db.update(user, {"is_verified": True})
        assert user.is_verified
        found = await user_db.get(user.id)
        assert found is not None and found.email == "bedivere@camelot.bt"
    await engine.dispose()


async def test_access_tokens(session: AsyncSession) -> None:
    user_db = SQLAlchemyUserDatabase(session, User)
    user = await user_db.create({"email": "mordred@camelot.bt", "hashed_password": "h"})
    tokens = SQLAlchemyAccessTokenDatabase(session, AccessToken)
    created = await tokens.create({"token": "T" * 43, "user_id": user.id})
    assert created.created_at.tzinfo is not None

    assert (await tokens.get_by_token("T" * 43)) is not None
    assert await tokens.get_by_token("U" * 43) is None
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert await tokens.get_by_token("T" * 43, max_age=future) is None
    assert await tokens.get_by_token("T" * 43, max_age=past) is not None

    pair = await tokens.get_by_token_with_user("T" * 43, max_age=past)
    assert pair is not None and pair[1].id == user.id
    assert await tokens.get_by_token_with_user("T" * 43, max_age=future) is None

    old = datetime(2020, 1, 1, tzinfo=timezone.utc)
    updated = await tokens.update(created, {"created_at": old})
    assert updated.created_at == old

    await tokens.delete(updated)
    assert await tokens.get_by_token("T" * 43) is None

    await tokens.create({"token": "A" * 43, "user_id": user.id})
    await tokens.create({"token": "B" * 43, "user_id": user.id})
    await tokens.delete_by_user(user.id)
    assert await tokens.get_by_token("A" * 43) is None
    assert await tokens.get_by_token("B" * 43) is None


async def test_base_user_database_is_abstract() -> None:
    db: BaseUserDatabase[User, uuid.UUID] = BaseUserDatabase()
    user = User(email="x@y.co", hashed_password="h", is_active=True)
    for call in (
        db.get(uuid.uuid4()),
        db.get_by_email("x@y.co"),
        db.get_by_oauth_account("a", "b"),
        db.create({}),
        db.update(user, {}),
        db.delete(user),
        db.add_oauth_account(user, {}),
        db.update_oauth_account(user, object(), {}),
        db.update_if(user, {"is_active": False}, {"is_active": True}),
    ):
        with pytest.raises(NotImplementedError):
            await call
    assert await db.update_if(user, {}, {"is_active": False}) is None


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
async def test_get_by_email_is_an_index_scan_on_postgresql(session: AsyncSession) -> None:
    user_db = SQLAlchemyUserDatabase(session, User)
    await session.execute(
        text(
            'INSERT INTO "user" (id, email, email_normalized, hashed_password, is_active,'
            " is_superuser, is_verified) SELECT gen_random_uuid(), 'u' || g || '@example.com',"
            " 'u' || g || '@example.com', 'h', true, false, false FROM generate_series(1, 5000) g"
        )
    )
    await session.commit()
    await session.execute(text('ANALYZE "user"'))
    statement = user_db._select_by_email("U4242@Example.com")
    compiled = statement.compile(session.bind, compile_kwargs={"literal_binds": True})  # type: ignore[arg-type]
    plan = "\n".join(row[0] for row in (await session.execute(text(f"EXPLAIN {compiled}"))).all())
    assert "Index Scan" in plan or "Index Only Scan" in plan, plan
    assert "email_normalized" in plan, plan
    assert 'Seq Scan on "user"' not in plan and "Seq Scan on user" not in plan, plan
