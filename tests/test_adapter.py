"""`SQLAlchemyAdapter`: the snippets of FastAuth's adapter documentation (seed 003) with
Doorkeeper's names, engine defaults and readable errors (the FastAPI dependencies are in
test_adapter_dependencies.py)."""

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import exc, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from doorkeeper.adapter import (
    CREATE_TABLES_ATTEMPTS,
    DatabaseUnavailableError,
    LoginSessionStore,
    OAuthAccountStore,
    OneTimeTokenStore,
    SQLAlchemyAdapter,
    UserStore,
)
from doorkeeper.adapter.engine import check_sqlite_path, create_engine, describe_url
from doorkeeper.adapter.models import AccessToken, User
from doorkeeper.db import BaseUserDatabase

TABLES = {
    "user",
    "oauth_account",
    "accesstoken",
    "doorkeeper_one_time_token",
    "doorkeeper_session",
    "doorkeeper_refresh_token",
    "doorkeeper_role",
    "doorkeeper_role_permission",
    "doorkeeper_user_role",
    "doorkeeper_single_use",
}


async def _table_names(adapter: SQLAlchemyAdapter) -> set[str]:
    async with adapter.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


# --- Seed 003, "Setup": SQLite and PostgreSQL URLs -------------------------------------


async def test_seed_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    adapter = SQLAlchemyAdapter(engine_url="sqlite+aiosqlite:///./auth.db")
    try:
        await adapter.create_tables()
        assert (tmp_path / "auth.db").exists()
        assert await _table_names(adapter) == TABLES
    finally:
        await adapter.dispose()


async def test_seed_postgresql_url() -> None:
    adapter = SQLAlchemyAdapter(engine_url="postgresql+asyncpg://user:pass@localhost/mydb")
    assert adapter.engine.dialect.name == "postgresql"
    assert adapter.engine.dialect.driver == "asyncpg"
    assert adapter.url == "postgresql+asyncpg://user:***@localhost/mydb"
    await adapter.dispose()  # no connection was opened


async def test_url_adapter_on_every_database(database_url: str) -> None:
    adapter = SQLAlchemyAdapter(database_url)
    try:
        await adapter.ping()
        await adapter.create_tables()
        assert await _table_names(adapter) == TABLES
    finally:
        await adapter.dispose()


# --- Seed 003, "Using an existing engine" -----------------------------------------------


async def test_seed_existing_engine(database_url: str) -> None:
    engine = create_async_engine(database_url)
    adapter = SQLAlchemyAdapter(engine=engine)
    assert adapter.engine is engine
    await adapter.create_tables()
    await adapter.dispose()  # yours to dispose of: still usable
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    await engine.dispose()


# --- Seed 003, "Create tables": the lifespan, on every start-up -----------------------


async def test_seed_lifespan_creates_tables_on_every_start(database_url: str) -> None:
    adapter = SQLAlchemyAdapter(engine_url=database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await adapter.create_tables()
        yield

    app = FastAPI(lifespan=lifespan)
    try:
        async with lifespan(app):
            user = await adapter.user.create({"email": "a@b.example", "hashed_password": "h"})
        async with app.router.lifespan_context(app):  # a restart: the tables exist
            assert await adapter.user.get(user.id) is not None
        assert await _table_names(adapter) == TABLES
    finally:
        await adapter.dispose()


@pytest.mark.parametrize("db_kind", ["postgresql", "mariadb"], indirect=True)
async def test_concurrent_start_ups_all_succeed(database_url: str) -> None:
    adapters = [SQLAlchemyAdapter(database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(adapter.create_tables() for adapter in adapters))
        assert await _table_names(adapters[0]) == TABLES
    finally:
        for adapter in adapters:
            await adapter.dispose()


async def test_create_tables_tries_again_after_losing_a_race(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = SQLAlchemyAdapter(f"sqlite+aiosqlite:///{tmp_path / 'race.db'}")
    create_all = adapter._create_all
    calls: list[int] = []
    lost = exc.OperationalError("CREATE TABLE", {}, Exception("table user already exists"))

    async def racing() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise lost
        await create_all()

    monkeypatch.setattr(adapter, "_create_all", racing)
    await adapter.create_tables()
    assert len(calls) == 3
    assert await _table_names(adapter) == TABLES

    async def failing() -> None:
        calls.append(1)
        raise lost

    calls.clear()
    monkeypatch.setattr(adapter, "_create_all", failing)
    with pytest.raises(exc.OperationalError):
        await adapter.create_tables()
    assert len(calls) == CREATE_TABLES_ATTEMPTS
    await adapter.dispose()


# --- Seed 003, "Sub-adapters" and "Migrations" ------------------------------------------


def test_seed_sub_adapter_properties() -> None:
    adapter = SQLAlchemyAdapter(engine_url="sqlite+aiosqlite:///./auth.db")
    assert isinstance(adapter.user, UserStore)
    assert isinstance(adapter.user, BaseUserDatabase)
    assert isinstance(adapter.token, OneTimeTokenStore)
    assert isinstance(adapter.session, LoginSessionStore)
    assert isinstance(adapter.oauth, OAuthAccountStore)
    assert adapter.user is adapter.user  # made once
    assert adapter.session_maker.kw["expire_on_commit"] is False
    assert adapter.user_table is User and adapter.access_token_table is AccessToken


def test_seed_alembic_base_import() -> None:
    from doorkeeper.adapter.models import Base

    target_metadata = Base.metadata
    assert set(target_metadata.tables) == TABLES
    assert SQLAlchemyAdapter("sqlite+aiosqlite://").metadata is target_metadata


# --- Engine defaults and errors -----------------------------------------------------------


def test_exactly_one_of_url_and_engine() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SQLAlchemyAdapter()
    engine = create_async_engine("sqlite+aiosqlite://")
    with pytest.raises(ValueError, match="exactly one"):
        SQLAlchemyAdapter("sqlite+aiosqlite://", engine=engine)
    with pytest.raises(ValueError, match="engine options"):
        SQLAlchemyAdapter(engine=engine, pool_size=3)


def test_server_engines_get_production_defaults() -> None:
    adapter = SQLAlchemyAdapter("postgresql+asyncpg://u@localhost/db")
    pool: Any = adapter.engine.pool
    assert pool._pre_ping is True
    assert pool.size() == 10 and pool._max_overflow == 20
    assert pool._recycle == 1800
    mysql = create_engine("mysql+aiomysql://u@localhost/db", pool_size=3, echo=False)
    mysql_pool: Any = mysql.pool
    assert mysql_pool.size() == 3 and mysql_pool._max_overflow == 20  # overridden, kept


def test_a_pool_class_of_yours_gets_no_pool_sizes() -> None:
    engine = create_engine("postgresql+asyncpg://u@localhost/db", poolclass=NullPool)
    assert isinstance(engine.pool, NullPool)


@pytest.mark.parametrize("db_kind", ["postgresql", "mariadb"], indirect=True)
async def test_connect_args_of_yours_apply_beside_the_timeout(database_url: str) -> None:
    if "asyncpg" in database_url:
        arguments: dict[str, Any] = {"server_settings": {"application_name": "dk-test"}}
        query = "SELECT current_setting('application_name')"
    else:
        arguments = {"init_command": "SET @dk_test = 'dk-test'"}
        query = "SELECT @dk_test"
    adapter = SQLAlchemyAdapter(database_url, connect_args=arguments)
    try:
        async with adapter.engine.connect() as connection:
            assert (await connection.exec_driver_sql(query)).scalar() == "dk-test"
    finally:
        await adapter.dispose()


async def test_sqlite_files_get_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    adapter = SQLAlchemyAdapter(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with adapter.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert (await pragma("PRAGMA journal_mode")).scalar() == "wal"
            assert (await pragma("PRAGMA busy_timeout")).scalar() == 15000
            assert (await pragma("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await adapter.dispose()
    memory = SQLAlchemyAdapter("sqlite+aiosqlite:///:memory:")
    async with memory.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "memory"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    await memory.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "is empty"),
        ("doorkeeper.db", "'doorkeeper.db' is not a valid URL"),
        ("postgresql+asyncpg://u:secret@h:port/db", "is not a valid URL (invalid literal"),
        ("https://u:secret@example.com", "unknown database or driver 'https'"),
        ("sqlite:///./x.db", "synchronous driver 'pysqlite'"),
        ("postgresql://u:secret@h/db", "use postgresql+asyncpg://... and pip install"),
        ("mysql+mysqldb://u:secret@h/db", "use mysql+aiomysql://... and pip install"),
        ("postgresql+pg8000://u:secret@h/db", "is not installed"),
        ("mssql+aioodbc://u:secret@h/db", "'aioodbc' of the database URL"),
    ],
)
def test_a_wrong_url_is_a_clear_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="database URL") as raised:
        SQLAlchemyAdapter(url)
    assert message in str(raised.value)
    assert "secret" not in str(raised.value)
    error = raised.value  # no chained traceback soup
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_missing_async_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if it were not installed
    with pytest.raises(ValueError, match="not installed: pip install 'doorkeeper\\[postgresql\\]'"):
        SQLAlchemyAdapter("postgresql+asyncpg://u@h/db")


def test_other_engine_argument_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="not usable: Can't set server_side_cursors"):
        create_engine("sqlite+aiosqlite://", server_side_cursors=True)
    with pytest.raises(ValueError, match="not usable: Can only specify one"):
        create_engine("sqlite+aiosqlite://", creator=object, async_creator=object)


def test_describe_url_hides_the_password() -> None:
    assert describe_url("postgresql+asyncpg://u:pw@h/db") == "postgresql+asyncpg://u:***@h/db"
    assert describe_url("not a url@") == "<invalid URL>"


async def test_ping_names_an_unreachable_server() -> None:
    adapter = SQLAlchemyAdapter("postgresql+asyncpg://u:secret@127.0.0.1:1/db")
    with pytest.raises(DatabaseUnavailableError) as raised:
        await adapter.ping()
    message = str(raised.value)
    assert message.startswith("Cannot reach the database at postgresql+asyncpg://u:***@127.0.0.1")
    assert "secret" not in message and "\n" not in message
    with pytest.raises(DatabaseUnavailableError):
        await adapter.create_tables()
    await adapter.dispose()


async def test_ping_names_a_database_that_refuses_the_login() -> None:
    from tests.services import MYSQL_URL  # the local PostgreSQL trusts every login

    url = MYSQL_URL.replace("root@", "nobody:wrong@")
    adapter = SQLAlchemyAdapter(url)
    with pytest.raises(DatabaseUnavailableError, match=r"Cannot reach the database .*nobody"):
        await adapter.ping()
    await adapter.dispose()


async def test_sqlite_paths_that_cannot_be_opened(tmp_path: Path) -> None:
    for url, problem in [
        (f"sqlite+aiosqlite:///{tmp_path}/missing/x.db", "does not exist"),
        (f"sqlite+aiosqlite:///{tmp_path}", "it is a directory"),
    ]:
        adapter = SQLAlchemyAdapter(url)
        with pytest.raises(DatabaseUnavailableError, match=f"Cannot open the SQLite .*{problem}"):
            await adapter.ping()
        await adapter.dispose()
    check_sqlite_path("sqlite+aiosqlite://")  # in memory: nothing to check
    check_sqlite_path("sqlite+aiosqlite:///file:x.db?mode=memory&uri=true")
    check_sqlite_path("postgresql+asyncpg://u@h/db")


async def test_sqlite_failures_past_the_path_checks_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"this is not a SQLite database, just some bytes" * 100)
    adapter = SQLAlchemyAdapter(f"sqlite+aiosqlite:///{path}")
    with pytest.raises(DatabaseUnavailableError, match=r"Cannot open the SQLite database .*not a"):
        await adapter.ping()
    await adapter.dispose()


def test_unwritable_paths_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "x.db"
    existing.write_bytes(b"")
    monkeypatch.setattr("doorkeeper.adapter.engine.os.access", lambda path, mode: False)
    with pytest.raises(DatabaseUnavailableError, match="the file is not writable"):
        check_sqlite_path(f"sqlite+aiosqlite:///{existing}")
    with pytest.raises(DatabaseUnavailableError, match="is not writable"):
        check_sqlite_path(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
