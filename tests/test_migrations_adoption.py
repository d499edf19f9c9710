"""`upgrade head` adopts a FastAPI Users database in place, keeping every row, and
refuses (changing nothing) when accounts collide under Doorkeeper's uniqueness rules.

The FastAPI Users schema is reproduced with plain SQLAlchemy Core, as FastAPI Users 15
with fastapi-users-db-sqlalchemy 7 creates it (`user`, `oauth_account`, `accesstoken`).
"""

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.authentication.strategy.digest import hash_token
from doorkeeper.migrations import (
    VERSION_TABLE,
    AdoptionConflictError,
    AdoptionError,
    DowngradeRefusedError,
    current_async,
    downgrade_async,
    upgrade_async,
)
from doorkeeper.migrations.adoption import BATCH_SIZE, MARKER_TABLE
from doorkeeper.normalization import normalize_email
from tests.test_migrations_schema import snapshot

fastapi_users = sa.MetaData()
GUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")

fu_user = sa.Table(
    "user",
    fastapi_users,
    sa.Column("id", GUID, primary_key=True),
    sa.Column("email", sa.String(320), unique=True, index=True, nullable=False),
    sa.Column("hashed_password", sa.String(1024), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("is_superuser", sa.Boolean, nullable=False),
    sa.Column("is_verified", sa.Boolean, nullable=False),
)
fu_oauth_account = sa.Table(
    "oauth_account",
    fastapi_users,
    sa.Column("id", GUID, primary_key=True),
    sa.Column("oauth_name", sa.String(100), index=True, nullable=False),
    sa.Column("access_token", sa.String(1024), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=True),
    sa.Column("refresh_token", sa.String(1024), nullable=True),
    sa.Column("account_id", sa.String(320), index=True, nullable=False),
    sa.Column("account_email", sa.String(320), nullable=False),
    sa.Column("user_id", GUID, sa.ForeignKey("user.id", ondelete="cascade"), nullable=False),
)
fu_accesstoken = sa.Table(
    "accesstoken",
    fastapi_users,
    sa.Column("token", sa.String(43), primary_key=True),
    sa.Column("created_at", sa.TIMESTAMP(timezone=True), index=True, nullable=False),
    sa.Column("user_id", GUID, sa.ForeignKey("user.id", ondelete="cascade"), nullable=False),
)

USER_COUNT = BATCH_SIZE + 234  # more than one batch of the backfill
SPECIAL_EMAILS = ["King.Arthur@Camelot.BT", "  lancelot@CAMELOT.bt", "Merlin@Bücher.example"]


def _id(value: Any) -> str:
    return str(value)


def _users() -> list[dict[str, Any]]:
    emails = SPECIAL_EMAILS + [f"User{n}@Example.COM" for n in range(USER_COUNT)]
    return [
        {
            "id": str(uuid.uuid4()),
            "email": email,
            "hashed_password": f"$argon2id$hash-{n}",
            "is_active": n % 5 != 0,
            "is_superuser": n == 1,
            "is_verified": n % 2 == 0,
        }
        for n, email in enumerate(emails)
    ]


def _oauth_accounts(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "oauth_name": "google" if n % 2 else "github",
            "access_token": f"access-{n}",
            "expires_at": 1_700_000_000 + n if n % 3 else None,
            "refresh_token": f"refresh-{n}" if n % 2 else None,
            "account_id": f"account-{n}",
            "account_email": user["email"],
            "user_id": user["id"],
        }
        for n, user in enumerate(users[:50])
    ]


async def _fastapi_users_database(
    url: str,
    users: list[dict[str, Any]],
    oauth_accounts: list[dict[str, Any]] | None = None,
    tables: tuple[sa.Table, ...] = (fu_user, fu_oauth_account, fu_accesstoken),
) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(fastapi_users.create_all, tables=list(tables))
            await connection.execute(fu_user.insert(), users)
            if oauth_accounts:
                await connection.execute(fu_oauth_account.insert(), oauth_accounts)
            if fu_accesstoken in tables:
                now = datetime.now(timezone.utc).replace(microsecond=0)
                tokens = [
                    {"token": f"clear-token-{n}", "created_at": now, "user_id": user["id"]}
                    for n, user in enumerate(users[:20])
                ]
                await connection.execute(fu_accesstoken.insert(), tokens)
    finally:
        await engine.dispose()


async def _select_all(engine: AsyncEngine, table: sa.Table) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(sa.select(table))
        rows = [
            {key: _id(value) if key in ("id", "user_id") else value for key, value in mapping}
            for mapping in (row._mapping.items() for row in result)
        ]
    return sorted(rows, key=lambda row: str(row.get("id", row.get("token"))))


async def _contents(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        return {
            "user": await _select_all(engine, fu_user),
            "oauth_account": await _select_all(engine, fu_oauth_account),
            "accesstoken": await _select_all(engine, fu_accesstoken),
        }
    finally:
        await engine.dispose()


async def _adopted_columns(url: str) -> dict[str, tuple[str, Any, Any]]:
    engine = create_async_engine(url, poolclass=NullPool)
    user = sa.table(
        "user",
        sa.column("id"),
        sa.column("email"),
        sa.column("email_normalized"),
        sa.column("tokens_valid_after"),
        sa.column("tokens_valid_except"),
    )
    try:
        async with engine.connect() as connection:
            result = await connection.execute(sa.select(user))
            return {_id(row.id): tuple(row)[1:] for row in result}
    finally:
        await engine.dispose()


async def test_adoption_keeps_every_row_and_ends_in_doorkeepers_schema(
    database_url: str, db_kind: str, tmp_path: Any
) -> None:
    users = _users()
    oauth_accounts = _oauth_accounts(users)
    await _fastapi_users_database(database_url, users, oauth_accounts)
    before = await _contents(database_url)
    assert len(before["user"]) == len(users) and len(before["accesstoken"]) == 20

    await upgrade_async(database_url)
    assert await current_async(database_url) == "dk0004"

    after = await _contents(database_url)
    assert after["user"] == before["user"]  # every user, every column, unchanged
    assert after["oauth_account"] == before["oauth_account"]
    assert after["accesstoken"] == []  # stored in clear by FastAPI Users: unusable
    adopted = await _adopted_columns(database_url)
    assert len(adopted) == len(users)
    for user in users:
        assert adopted[user["id"]] == (user["email"], normalize_email(user["email"]), None, None)
    assert adopted[users[2]["id"]][1] == "merlin@xn--bcher-kva.example"

    # The schema is Doorkeeper's: what create_tables() makes (plus the adoption marker).
    # Primary and foreign key names kept the database's own choice off PostgreSQL.
    from tests.conftest import create_database, drop_database

    reference_url = await create_database(db_kind, tmp_path)
    try:
        reference = SQLAlchemyAdapter(reference_url)
        await reference.create_tables()
        await reference.dispose()
        names = db_kind == "postgresql"
        expected = await snapshot(reference_url, names=names)
    finally:
        await drop_database(reference_url)
    schema = await snapshot(database_url, names=names)
    assert schema.pop(VERSION_TABLE) and schema.pop(MARKER_TABLE)
    assert schema == expected

    # The adapter works on the adopted rows.
    adapter = SQLAlchemyAdapter(database_url)
    try:
        arthur = await adapter.user.get_by_email("king.arthur@camelot.bt")
        assert arthur is not None and arthur.id == uuid.UUID(users[0]["id"])
        assert [account.account_id for account in arthur.oauth_accounts] == ["account-0"]
        assert await adapter.user.count() == len(users)
        lancelot = await adapter.user.get_by_email("Lancelot@camelot.bt")
        assert lancelot is not None and lancelot.email == "  lancelot@CAMELOT.bt"
        token = await adapter.token.create("reset", arthur.id, 60)
        assert await adapter.token.consume("reset", token) is not None
        session = await adapter.session.create({"token": hash_token("t"), "user_id": arthur.id})
        assert session.created_at.tzinfo is not None
    finally:
        await adapter.dispose()

    # Adoption cannot be undone by a downgrade: it would drop the users.
    with pytest.raises(DowngradeRefusedError, match="fastapi-users"):
        await downgrade_async(database_url, "base")
    # Without transactional DDL (MariaDB) the later revisions are undone before dk0001
    # refuses; the users stay either way.
    assert await current_async(database_url) in {"dk0001", "dk0004"}
    assert (await _contents(database_url))["user"] == before["user"]


async def test_adoption_creates_the_tables_fastapi_users_did_not_have(database_url: str) -> None:
    users = _users()[:5]
    await _fastapi_users_database(database_url, users, tables=(fu_user,))
    await upgrade_async(database_url)
    schema = await snapshot(database_url)
    assert {"oauth_account", "accesstoken", "doorkeeper_one_time_token"} <= set(schema)
    assert len((await _contents(database_url))["user"]) == 5


async def test_case_duplicates_are_listed_and_nothing_changes(
    database_url: str, db_kind: str
) -> None:
    users = _users()[:10]
    duplicates = {0: " king.arthur@camelot.bt", 2: "merlin@xn--bcher-kva.example"}
    if db_kind != "mariadb":  # its case-insensitive collation never let these in
        duplicates[5] = "USER2@example.com"
    users += [
        {**users[index], "id": str(uuid.uuid4()), "email": email}
        for index, email in duplicates.items()
    ]
    expected_groups = sorted(
        sorted([users[index]["email"], email]) for index, email in duplicates.items()
    )
    oauth_accounts = _oauth_accounts(users)[:4]
    oauth_accounts.append({**oauth_accounts[1], "id": str(uuid.uuid4()), "user_id": users[9]["id"]})
    await _fastapi_users_database(database_url, users, oauth_accounts)
    schema_before = await snapshot(database_url)
    rows_before = await _contents(database_url)

    with pytest.raises(AdoptionConflictError) as raised:
        await upgrade_async(database_url)

    error = raised.value
    assert error.email_groups == expected_groups
    assert len(expected_groups) == len(duplicates)
    assert error.oauth_duplicates == [("google", "account-1")]
    message = str(error)
    for group in expected_groups:
        assert ", ".join(group) in message
    assert "google account-1" in message and "nothing was changed" in message
    assert await snapshot(database_url) == schema_before
    assert await _contents(database_url) == rows_before
    assert await current_async(database_url) is None


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_only_oauth_duplicates_are_reported_too(database_url: str) -> None:
    users = _users()[:3]
    oauth_accounts = _oauth_accounts(users)
    oauth_accounts.append({**oauth_accounts[0], "id": str(uuid.uuid4())})
    await _fastapi_users_database(database_url, users, oauth_accounts)
    with pytest.raises(AdoptionConflictError) as raised:
        await upgrade_async(database_url)
    assert raised.value.email_groups == []
    assert "e-mail" not in str(raised.value)


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_a_user_table_that_is_not_fastapi_users_is_refused(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text('CREATE TABLE "user" (id INTEGER PRIMARY KEY)'))
    finally:
        await engine.dispose()
    with pytest.raises(AdoptionError, match="no column email, hashed_password"):
        await upgrade_async(database_url)
    assert set(await snapshot(database_url)) == {"user"}


@pytest.mark.parametrize("db_kind", ["sqlite", "mariadb"], indirect=True)
async def test_integer_user_ids_are_refused(database_url: str) -> None:
    integer_users = sa.MetaData()
    sa.Table(
        "user",
        integer_users,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("hashed_password", sa.String(1024), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("is_superuser", sa.Boolean, nullable=False),
        sa.Column("is_verified", sa.Boolean, nullable=False),
    )
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(integer_users.create_all)
    finally:
        await engine.dispose()
    with pytest.raises(AdoptionError, match="UUID ids"):
        await upgrade_async(database_url)


async def test_tables_made_by_create_tables_are_taken_over(database_url: str) -> None:
    adapter = SQLAlchemyAdapter(database_url)
    try:
        await adapter.create_tables()
        user = await adapter.user.create({"email": "a@b.example", "hashed_password": "h"})
        before = await snapshot(database_url)
        await upgrade_async(database_url)
        after = await snapshot(database_url)
        assert after.pop(VERSION_TABLE) and after.pop(MARKER_TABLE)
        assert after == before
        assert await adapter.user.get(user.id) is not None
        with pytest.raises(DowngradeRefusedError, match="doorkeeper"):
            await downgrade_async(database_url, "base")
    finally:
        await adapter.dispose()


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_the_revision_checks_by_itself_when_run_without_the_api(database_url: str) -> None:
    """An app running the revision through Alembic's own API still gets the check."""
    from alembic import command

    from doorkeeper.migrations.api import alembic_config

    users = _users()[:3]
    users.append({**users[0], "id": str(uuid.uuid4()), "email": users[0]["email"].lower()})
    await _fastapi_users_database(database_url, users)

    def run(connection: sa.Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            with pytest.raises(AdoptionConflictError, match=r"King\.Arthur@Camelot\.BT"):
                await connection.run_sync(run)
    finally:
        await engine.dispose()
    assert len((await _contents(database_url))["user"]) == 4


async def test_columns_of_the_apps_own_survive_adoption(database_url: str) -> None:
    """An app's extra user column (FastAPI Users' documented `first_name` pattern) keeps
    its values, also where SQLite rebuilds the table."""
    extended = sa.MetaData()
    user = sa.Table(
        "user",
        extended,
        *[
            sa.Column(c.name, c.type, nullable=c.nullable, primary_key=c.primary_key)
            for c in fu_user.c
        ],
        sa.Column("first_name", sa.String(100), nullable=True),
    )
    users = [{**row, "first_name": f"Name {n}"} for n, row in enumerate(_users()[:5])]
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(extended.create_all)
            await connection.execute(user.insert(), users)
        await upgrade_async(database_url)
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.select(user.c.id, user.c.first_name))).all()
    finally:
        await engine.dispose()
    assert sorted((str(id), name) for id, name in rows) == sorted(
        (row["id"], row["first_name"]) for row in users
    )
