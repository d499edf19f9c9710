"""`auth.lifespan`: tables made on a new database, migrations checked on a managed one,
FastAPI Users' tables refused until adopted, and an unreachable database."""

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from doorkeeper import Doorkeeper
from doorkeeper.adapter import DatabaseUnavailableError
from doorkeeper.batteries.storage import (
    DatabaseNotReadyError,
    RedisUnavailableError,
    prepare_storage,
    shipped_head,
)
from doorkeeper.migrations import upgrade_async
from doorkeeper.migrations.api import VERSION_TABLE
from tests.test_doorkeeper import (  # noqa: F401 (autouse fixture)
    PASSWORD,
    SECRET,
    clean_environment,
    design_example,
    make_auth,
)

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


async def execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_a_new_database_gets_its_tables_and_keeps_them(database_url: str) -> None:
    auth, _ = make_auth(database_url)
    async with auth.lifespan():
        assert await auth.adapter.user.count() == 0
        manager = auth.create_user_manager(auth.adapter.user)
        from doorkeeper.schemas import BaseUserCreate

        await manager.create(BaseUserCreate(email="a@example.com", password=PASSWORD))
    again, _ = make_auth(database_url)
    async with again.lifespan():  # create_tables again: nothing lost
        assert await again.adapter.user.count() == 1


async def test_a_migrated_database_at_head_starts(database_url: str) -> None:
    await upgrade_async(database_url)
    auth, _ = make_auth(database_url)
    async with auth.lifespan():
        assert await auth.adapter.user.count() == 0


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_a_migrated_database_behind_head_is_refused(database_url: str) -> None:
    await upgrade_async(database_url)
    await execute(database_url, f"UPDATE {VERSION_TABLE} SET version_num = 'dk0000'")  # noqa: S608
    auth, _ = make_auth(database_url)
    with pytest.raises(DatabaseNotReadyError) as caught:
        async with auth.lifespan():
            pytest.fail("started")  # pragma: no cover
    message = str(caught.value)
    assert f"is at migration dk0000, this Doorkeeper needs {shipped_head()}" in message
    assert message.endswith("run `doorkeeper db upgrade`")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_fastapi_users_tables_must_be_adopted_first(database_url: str) -> None:
    await execute(
        database_url,
        'CREATE TABLE "user" (id CHAR(36) PRIMARY KEY, email VARCHAR(320) NOT NULL, '
        "hashed_password VARCHAR(1024) NOT NULL, is_active BOOLEAN NOT NULL, "
        "is_superuser BOOLEAN NOT NULL, is_verified BOOLEAN NOT NULL)",
    )
    auth, _ = make_auth(database_url)
    with pytest.raises(DatabaseNotReadyError, match="holds FastAPI Users' tables: run `doorke"):
        await prepare_storage(auth.adapter)
    await auth.shutdown()
    await upgrade_async(database_url)  # adopts them
    async with auth.lifespan():
        assert await auth.adapter.user.count() == 0


async def test_an_unreachable_database_stops_the_start_up() -> None:
    auth, _ = make_auth(UNREACHABLE)
    with pytest.raises(DatabaseUnavailableError, match=r"^Cannot reach the database at postgres"):
        async with auth.lifespan():
            pytest.fail("started")  # pragma: no cover


async def test_an_unwritable_sqlite_path_stops_the_start_up(tmp_path: Path) -> None:
    auth, _ = make_auth(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/auth.db")
    with pytest.raises(DatabaseUnavailableError, match="Cannot open the SQLite database"):
        await auth.startup()
    await auth.shutdown()


async def test_a_database_gone_gives_503_and_never_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth, sender = make_auth(UNREACHABLE)
    app = design_example(auth)
    transport = httpx.ASGITransport(app=app)
    caplog.set_level(logging.WARNING)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/auth/bearer/login", data={"username": "a@example.com", "password": PASSWORD}
        )
        assert (response.status_code, response.json()) == (503, {"detail": "SERVICE_UNAVAILABLE"})
        for path in ("/users/me", "/hello"):
            response = await client.get(path, headers={"Authorization": "Bearer abc"})
            assert response.status_code == 503
            assert response.json() == {"detail": "SERVICE_UNAVAILABLE"}
        response = await client.post(
            "/auth/register", json={"email": "a@example.com", "password": PASSWORD}
        )
        assert response.status_code == 202  # the work happens after the answer...
    assert "register skipped: storage unavailable" in caplog.text  # ...and is logged
    assert sender.outbox == []
    await auth.shutdown()


async def test_redis_unreachable_stops_the_start_up(tmp_path: Path) -> None:
    auth = Doorkeeper(
        f"sqlite+aiosqlite:///{tmp_path}/a.db", SECRET, redis_url="redis://127.0.0.1:1/0"
    )
    with pytest.raises(
        RedisUnavailableError, match=r"^Cannot reach Redis at redis://127.0.0.1:1/0: "
    ):
        async with auth.lifespan():
            pytest.fail("started")  # pragma: no cover


async def test_closing_a_session_on_a_lost_database_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy.exc import OperationalError

    from doorkeeper.adapter._helpers import close_quietly

    class Session:
        def __init__(self, error: Exception) -> None:
            self.error = error

        async def close(self) -> None:
            raise self.error

    lost = OperationalError("ROLLBACK", {}, ConnectionResetError("reset"))
    await close_quietly(Session(lost))  # type: ignore[arg-type]
    assert "Closing a database session failed: storage unavailable (OperationalError)" in (
        caplog.text
    )
    with pytest.raises(RuntimeError):
        await close_quietly(Session(RuntimeError("a bug")))  # type: ignore[arg-type]


async def test_ping_redis_lets_other_errors_through() -> None:
    from doorkeeper.batteries.storage import ping_redis

    class Client:
        async def ping(self) -> None:
            raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await ping_redis(Client(), "redis://localhost")
