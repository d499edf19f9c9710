"""Fixtures: an isolated database per test on SQLite, PostgreSQL and MariaDB, Redis with
a per-test key prefix, and a cheap password hasher for tests that are not about hashing."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.password import PasswordHelper
from tests.managers import UserManager
from tests.models import Base, User
from tests.services import MYSQL_URL, POSTGRES_URL, REDIS_URL, service_missing

DATABASES = ["sqlite", "postgresql", "mariadb"]

# `make test` spreads tests over pytest-xdist workers with `--dist loadgroup`: the tests
# marked `xdist_group("timing")` (those comparing medians of timings, and the benchmark's
# quick mode, which loads every CPU) all run on one worker, one after the other, so no
# two of them ever run at the same time.


def cheap_password_helper() -> PasswordHelper:
    """Argon2id with minimal cost: for tests that are not about hashing."""
    return PasswordHelper(
        PasswordHash(
            (Argon2Hasher(time_cost=1, memory_cost=64, parallelism=1), BcryptHasher(rounds=4))
        )
    )


@pytest.fixture
def password_helper() -> PasswordHelper:
    return cheap_password_helper()


async def _admin(url: str, statements: list[str], name: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    except (OSError, ConnectionError) as error:
        service_missing(name, error)
    except Exception as error:
        if "connect" in str(error).lower() or "Can't connect" in str(error):
            service_missing(name, error)
        raise
    finally:
        await engine.dispose()


async def create_database(kind: str, tmp_path: Path) -> str:
    """Make an empty database of this kind for one test; return its URL."""
    name = f"dk_{uuid.uuid4().hex[:16]}"
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}"
    if kind == "postgresql":
        await _admin(POSTGRES_URL, [f'CREATE DATABASE "{name}"'], "PostgreSQL")
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    await _admin(MYSQL_URL, [f"CREATE DATABASE `{name}`"], "MariaDB")
    return make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() == "postgresql":
        await _admin(POSTGRES_URL, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], "PostgreSQL")
    elif parsed.get_backend_name() in ("mysql", "mariadb"):
        await _admin(MYSQL_URL, [f"DROP DATABASE IF EXISTS `{name}`"], "MariaDB")


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def database_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of its own, for one test."""
    url = await create_database(db_kind, tmp_path)
    yield url
    await drop_database(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, with the tables of `tests.models.Base`."""
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def session(
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_maker() as session:
        yield session


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    """A real Redis client; `redis.test_prefix` namespaces this test's keys, which are
    deleted afterwards."""
    import redis.asyncio

    client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except (OSError, redis.exceptions.ConnectionError) as error:
        await client.aclose()
        service_missing("Redis", error)
    prefix = f"dk-test:{uuid.uuid4().hex}:"
    client.test_prefix = prefix
    yield client
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def user_manager(session: AsyncSession, password_helper: PasswordHelper) -> UserManager:
    """A user manager of the documented shape on the test's database."""
    return UserManager(SQLAlchemyUserDatabase(session, User), password_helper)


@pytest.fixture
async def user(user_manager: UserManager) -> User:
    """One user, written straight to the database (no hashing)."""
    return await user_manager.user_db.create(
        {"email": "king.arthur@camelot.bt", "hashed_password": "x"}
    )
