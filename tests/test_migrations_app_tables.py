"""An app migrated from FastAPI Users by renaming its imports, with its own `users` table
and integer ids (`tests.app_models`): `doorkeeper db upgrade --metadata` adopts those
tables in place; without it the upgrade refuses rather than making a second, empty
`user` table; and an app started before migrating answers 503
`DATABASE_SCHEMA_OUTDATED`, naming the command, never a 500.
"""

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from doorkeeper import BaseUserManager, FastAPIUsers, IntegerIDMixin, schemas
from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy.schema import DatabaseSchemaOutdatedError, check_user_table
from doorkeeper.migrations import AdoptionError, adopt_app_tables_async, upgrade_async
from doorkeeper.normalization import normalize_email
from tests.app_models import Base as AppBase
from tests.app_models import User
from tests.conftest import cheap_password_helper
from tests.test_migrations_schema import snapshot

ROOT = Path(__file__).resolve().parent.parent
SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"
PASSWORD = "correct-horse-battery-staple-42"
METADATA = "tests.app_models:Base"

old = sa.MetaData()  # FastAPI Users' tables for `SQLAlchemyBaseUserTable[int]`, "users"
old_users = sa.Table(
    "users",
    old,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), unique=True, index=True, nullable=False),
    sa.Column("hashed_password", sa.String(1024), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("is_superuser", sa.Boolean, nullable=False),
    sa.Column("is_verified", sa.Boolean, nullable=False),
)
old_oauth = sa.Table(
    "oauth_account",
    old,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("oauth_name", sa.String(100), index=True, nullable=False),
    sa.Column("access_token", sa.String(1024), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=True),
    sa.Column("refresh_token", sa.String(1024), nullable=True),
    sa.Column("account_id", sa.String(320), index=True, nullable=False),
    sa.Column("account_email", sa.String(320), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="cascade"), nullable=False),
)
old_tokens = sa.Table(
    "accesstoken",
    old,
    sa.Column("token", sa.String(43), primary_key=True),
    sa.Column("created_at", sa.TIMESTAMP(timezone=True), index=True, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="cascade"), nullable=False),
)
EMAILS = ["King.Arthur@Camelot.BT", "  lancelot@CAMELOT.bt", "Merlin@Bücher.example"] + [
    f"User{n}@Example.COM" for n in range(20)
]


def _rows() -> list[dict[str, Any]]:
    hashed = cheap_password_helper().hash(PASSWORD)
    return [
        {  # ids from the database's own sequence, as FastAPI Users' rows got them
            "email": email,
            "hashed_password": hashed,
            "is_active": True,
            "is_superuser": n == 1,
            "is_verified": n % 2 == 0,
        }
        for n, email in enumerate(EMAILS)
    ]


async def _old_database(
    url: str, tables: tuple[sa.Table, ...] = tuple(old.tables.values())
) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(old.create_all, tables=list(tables))
            await connection.execute(old_users.insert(), _rows())
            if old_oauth in tables:
                await connection.execute(
                    old_oauth.insert(),
                    [
                        {
                            "id": n + 1,
                            "oauth_name": "github",
                            "access_token": "a",
                            "account_id": f"gh-{n}",
                            "account_email": EMAILS[n],
                            "user_id": n + 1,
                        }
                        for n in range(3)
                    ],
                )
            if old_tokens in tables:
                now = datetime.now(timezone.utc).replace(microsecond=0)
                await connection.execute(
                    old_tokens.insert(), [{"token": "clear", "created_at": now, "user_id": 1}]
                )
    finally:
        await engine.dispose()


async def _select(url: str, statement: Any) -> list[Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(statement)).all())
    finally:
        await engine.dispose()


class UserRead(schemas.BaseUser[int]):
    pass


class UserManager(IntegerIDMixin, BaseUserManager[User, int]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


@asynccontextmanager
async def _app(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app as FastAPI Users' documentation builds it, imports renamed."""
    engine = create_async_engine(url, poolclass=NullPool)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)

    async def get_user_db() -> AsyncIterator[SQLAlchemyUserDatabase[User, int]]:
        session: AsyncSession
        async with session_maker() as session:
            yield SQLAlchemyUserDatabase(session, User)

    async def get_user_manager(
        user_db: SQLAlchemyUserDatabase[User, int] = Depends(get_user_db),
    ) -> AsyncIterator[UserManager]:
        yield UserManager(user_db, cheap_password_helper())

    def get_strategy() -> JWTStrategy[User, int]:
        return JWTStrategy(secret=SECRET, lifetime_seconds=3600)

    backend = AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_strategy)
    users = FastAPIUsers[User, int](get_user_manager, [backend])
    app = FastAPI()
    app.include_router(users.get_auth_router(backend), prefix="/auth/jwt")
    app.include_router(users.get_register_router(UserRead, schemas.BaseUserCreate), prefix="/auth")

    @app.get("/me-id")
    async def me_id(user: User = Depends(users.current_user(active=True))) -> int:
        return user.id

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await engine.dispose()


async def _login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/jwt/login", data={"username": email, "password": PASSWORD})


async def test_a_users_table_is_refused_without_metadata_and_nothing_changes(
    database_url: str,
) -> None:
    await _old_database(database_url)
    before = await snapshot(database_url)
    with pytest.raises(AdoptionError) as raised:
        await upgrade_async(database_url)
    message = str(raised.value)
    assert "`users`" in message and "doorkeeper db upgrade --metadata" in message
    assert await snapshot(database_url) == before  # no `user`, no version table


async def test_the_apps_tables_are_adopted_in_place_and_the_app_serves(
    database_url: str, db_kind: str
) -> None:
    await _old_database(database_url)
    users_before = await _select(database_url, sa.select(old_users).order_by(old_users.c.id))

    done = await adopt_app_tables_async(database_url, AppBase.metadata)

    assert any("email_normalized" in line for line in done)
    assert "deleted the 1 clear-text token(s) of `accesstoken`" in done
    schema = await snapshot(database_url)
    assert set(schema) == {"users", "oauth_account", "accesstoken"}  # no `user` made
    users = sa.table(
        "users",
        *(sa.column(column.name) for column in old_users.c),
        sa.column("email_normalized"),
        sa.column("tokens_valid_after"),
        sa.column("tokens_valid_except"),
    )
    after = await _select(database_url, sa.select(users).order_by(users.c.id))
    assert [tuple(row)[:6] for row in after] == [tuple(row) for row in users_before]
    assert [row.id for row in after] == list(range(1, len(EMAILS) + 1))
    assert [row.email_normalized for row in after] == [normalize_email(e) for e in EMAILS]
    assert {(row.tokens_valid_after, row.tokens_valid_except) for row in after} == {(None, None)}
    assert len(await _select(database_url, sa.select(old_oauth))) == 3
    assert await _select(database_url, sa.select(old_tokens)) == []

    def inspect(connection: sa.Connection) -> dict[str, Any]:
        inspector = sa.inspect(connection)
        columns = {column["name"]: column for column in inspector.get_columns("users")}
        unique = [index["column_names"] for index in inspector.get_indexes("users")]
        unique += [c["column_names"] for c in inspector.get_unique_constraints("users")]
        oauth = [c["column_names"] for c in inspector.get_unique_constraints("oauth_account")]
        oauth += [
            i["column_names"] for i in inspector.get_indexes("oauth_account") if i.get("unique")
        ]
        return {
            "nullable": columns["email_normalized"]["nullable"],
            "unique": unique,
            "oauth": oauth,
        }

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(inspect)
            await check_user_table(connection, User)  # the start-up check passes now
    finally:
        await engine.dispose()
    assert found["nullable"] is False
    assert ["email_normalized"] in found["unique"]
    assert ["oauth_name", "account_id"] in found["oauth"]

    assert await adopt_app_tables_async(database_url, AppBase.metadata) == []  # idempotent

    async with _app(database_url) as client:
        response = await _login(client, "king.arthur@camelot.bt")  # an adopted user
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = await client.get("/me-id", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == 1
        taken = await client.post(
            "/auth/register", json={"email": "LANCELOT@camelot.bt", "password": PASSWORD}
        )
        assert taken.status_code == 400, taken.text
        assert taken.json()["detail"] == "REGISTER_USER_ALREADY_EXISTS"
        created = await client.post(
            "/auth/register", json={"email": "Gawain@Camelot.bt", "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        assert created.json()["id"] == len(EMAILS) + 1  # the integer ids go on
        assert (await _login(client, "gawain@camelot.bt")).status_code == 200


async def test_tables_the_database_lacks_are_made_from_the_models(database_url: str) -> None:
    await _old_database(database_url, tables=(old_users,))
    done = await adopt_app_tables_async(database_url, AppBase.metadata)
    assert "created the table `oauth_account`" in done
    assert "created the table `accesstoken`" in done

    def foreign_keys(connection: sa.Connection) -> dict[str, Any]:
        inspector = sa.inspect(connection)
        found = {}
        for table in ("oauth_account", "accesstoken"):
            (key,) = inspector.get_foreign_keys(table)
            user_id = next(c for c in inspector.get_columns(table) if c["name"] == "user_id")
            found[table] = (key["referred_table"], key["referred_columns"], user_id["type"])
        return found

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            keys = await connection.run_sync(foreign_keys)
    finally:
        await engine.dispose()
    for referred, columns, type_ in keys.values():
        assert (referred, columns) == ("users", ["id"])
        assert isinstance(type_, sa.Integer)
    assert "user" not in await snapshot(database_url)


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_models_naming_another_user_table_are_refused(database_url: str) -> None:
    """The database has FastAPI Users' `user`; the models say `users`: creating `users`
    would give the app a second user table."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: sync.exec_driver_sql(
                    'CREATE TABLE "user" (id INTEGER PRIMARY KEY, email VARCHAR(320), '
                    "hashed_password VARCHAR(1024), is_active BOOLEAN, is_superuser BOOLEAN, "
                    "is_verified BOOLEAN)"
                )
            )
    finally:
        await engine.dispose()
    with pytest.raises(AdoptionError, match="no second user table"):
        await adopt_app_tables_async(database_url, AppBase.metadata)
    assert set(await snapshot(database_url)) == {"user"}


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_integer_ids_in_user_point_at_metadata(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                'CREATE TABLE "user" (id INTEGER PRIMARY KEY, email VARCHAR(320), '
                "hashed_password VARCHAR(1024), is_active BOOLEAN, is_superuser BOOLEAN, "
                "is_verified BOOLEAN)"
            )
    finally:
        await engine.dispose()
    with pytest.raises(AdoptionError, match=r"UUID ids.*--metadata yourapp\.models:Base"):
        await upgrade_async(database_url)


async def test_an_app_on_the_old_schema_answers_503_naming_the_command(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await _old_database(database_url)
    user = User(id=1, email="king.arthur@camelot.bt", hashed_password="x")
    token = await JWTStrategy[User, int](secret=SECRET, lifetime_seconds=60).write_token(user)
    caplog.set_level(logging.ERROR, logger="doorkeeper")
    async with _app(database_url) as client:
        responses = [
            await client.post(
                "/auth/register", json={"email": "a@b.example", "password": PASSWORD}
            ),
            await _login(client, "king.arthur@camelot.bt"),
            await client.get("/me-id", headers={"Authorization": f"Bearer {token}"}),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": "DATABASE_SCHEMA_OUTDATED"}
    logged = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert logged and all(f"doorkeeper db upgrade --metadata {METADATA}" in m for m in logged)
    assert all("users.email_normalized" in message for message in logged)

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        with pytest.raises(DatabaseSchemaOutdatedError, match=f"--metadata {METADATA}"):
            await check_user_table(engine, User)  # at start-up, in the app's lifespan
    finally:
        await engine.dispose()


async def test_create_tables_refuses_fastapi_users_user_table(database_url: str) -> None:
    from tests.test_migrations_adoption import _fastapi_users_database, _users

    await _fastapi_users_database(database_url, _users()[:3])
    before = await snapshot(database_url)
    adapter = SQLAlchemyAdapter(database_url)
    try:
        with pytest.raises(DatabaseSchemaOutdatedError, match="Run `doorkeeper db upgrade`"):
            await adapter.create_tables()
    finally:
        await adapter.dispose()
    assert await snapshot(database_url) == before


def _without_typer(tmp_path: Path) -> dict[str, str]:
    """An environment where `import typer` fails, as on a plain `pip install doorkeeper`."""
    from tests.test_server import clean_environment_for

    blocker = tmp_path / "no-typer"
    blocker.mkdir(exist_ok=True)
    (blocker / "typer.py").write_text(
        'raise ModuleNotFoundError("No module named \'typer\'", name="typer")\n'
    )
    return clean_environment_for(tmp_path, PYTHONPATH=f"{blocker}{':'}{ROOT}")


def _plain(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "doorkeeper.cli", *args],
        cwd=tmp_path,
        env=_without_typer(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_db_commands_work_without_typer(tmp_path: Path, database_url: str) -> None:
    assert _plain(tmp_path, "db", "current", "--database-url", database_url).stdout == "none\n"
    result = _plain(tmp_path, "db", "upgrade", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("is at revision dk0004.")
    assert _plain(tmp_path, "db", "history").stdout.startswith("dk0001: ")
    result = _plain(tmp_path, "db", "downgrade", "base", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("is at revision none.")

    result = _plain(tmp_path, "db", "upgrade", "--database-url", "sqlite:///./x.db")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: ") and "synchronous driver" in result.stderr
    assert "Traceback" not in result.stderr

    result = _plain(tmp_path, "serve")
    assert result.returncode == 1
    assert 'pip install "doorkeeper[server]"' in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("db_kind", ["sqlite", "mariadb"], indirect=True)
async def test_db_upgrade_metadata_without_typer(tmp_path: Path, database_url: str) -> None:
    await _old_database(database_url)
    result = _plain(
        tmp_path, "db", "upgrade", "--metadata", METADATA, "--database-url", database_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"adopted the tables of {METADATA}.")
    assert set(await snapshot(database_url)) == {"users", "oauth_account", "accesstoken"}
    again = _plain(
        tmp_path, "db", "upgrade", "--metadata", METADATA, "--database-url", database_url
    )
    assert "nothing to do" in again.stdout
    wrong = _plain(tmp_path, "db", "upgrade", "--metadata", "nope.models:Base")
    assert wrong.returncode == 1 and "cannot import nope.models" in wrong.stderr
