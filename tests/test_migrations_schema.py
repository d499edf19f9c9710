"""The shipped migrations make exactly the tables `create_tables()` makes, on SQLite,
PostgreSQL and MariaDB; upgrade and downgrade round-trip.

`snapshot` (also used by the adoption tests) reads a schema through SQLAlchemy's
inspector: tables, columns (name, type, nullability, server default), primary keys,
indexes, unique constraints, foreign keys and check constraints.
"""

import contextlib
import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.adapter.models import Base
from doorkeeper.migrations import (
    VERSION_TABLE,
    MigrationError,
    current_async,
    downgrade_async,
    history,
    upgrade_async,
)
from doorkeeper.migrations.api import alembic_config
from tests.conftest import create_database, drop_database


def _alembic_environment() -> EnvironmentContext:
    config = alembic_config()
    return EnvironmentContext(config, ScriptDirectory.from_config(config))


# Import env.py and the revision file under their package names before Alembic loads
# them under names of its own, so that coverage measures them (by module name).
importlib.import_module("doorkeeper.migrations.versions.dk0001_initial")
with _alembic_environment(), contextlib.suppress(MigrationError):
    importlib.import_module("doorkeeper.migrations.env")

SESSION_TABLES = {"doorkeeper_session", "doorkeeper_refresh_token"}
ROLE_TABLES = {"doorkeeper_role", "doorkeeper_role_permission", "doorkeeper_user_role"}
OAUTH_TABLES = {"doorkeeper_single_use"}
DOORKEEPER_TABLES = {
    "user",
    "oauth_account",
    "accesstoken",
    "doorkeeper_one_time_token",
    "doorkeeper_session",
    "doorkeeper_refresh_token",
    *ROLE_TABLES,
    *OAUTH_TABLES,
}


def _inspect(connection: Connection, names: bool) -> dict[str, Any]:
    inspector = inspect(connection)
    dialect = connection.dialect
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        columns = {
            column["name"]: (
                str(column["type"].compile(dialect=dialect)),
                column["nullable"],
                None if column.get("default") is None else str(column["default"]),
            )
            for column in inspector.get_columns(table)
        }
        primary_key = inspector.get_pk_constraint(table)
        schema[table] = {
            "columns": columns,
            "primary_key": (
                primary_key["name"] if names else None,
                tuple(primary_key["constrained_columns"]),
            ),
            "indexes": sorted(
                (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                for index in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (unique["name"], tuple(unique["column_names"]))
                for unique in inspector.get_unique_constraints(table)
            ),
            "foreign_keys": sorted(
                (
                    foreign_key["name"] if names else None,
                    tuple(foreign_key["constrained_columns"]),
                    foreign_key["referred_table"],
                    tuple(foreign_key["referred_columns"]),
                    str(foreign_key.get("options", {}).get("ondelete", "")).lower(),
                )
                for foreign_key in inspector.get_foreign_keys(table)
            ),
            "checks": sorted(
                (check["name"], str(check["sqltext"]))
                for check in inspector.get_check_constraints(table)
            ),
        }
    return schema


async def snapshot(url: str, *, names: bool = True) -> dict[str, Any]:
    """The schema of the database at `url`; without `names`, primary and foreign keys
    compare by columns only (names the database chose itself differ by engine)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_inspect, names)
    finally:
        await engine.dispose()


@pytest.fixture
async def other_database_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A second empty database of the same kind as `database_url`."""
    url = await create_database(db_kind, tmp_path)
    yield url
    await drop_database(url)


async def test_upgrade_head_makes_what_create_tables_makes(
    database_url: str, other_database_url: str
) -> None:
    adapter = SQLAlchemyAdapter(database_url)
    await adapter.create_tables()
    await adapter.dispose()
    await upgrade_async(other_database_url)

    created = await snapshot(database_url)
    migrated = await snapshot(other_database_url)
    assert set(created) == DOORKEEPER_TABLES
    assert migrated.pop(VERSION_TABLE)
    assert migrated == created
    # The names are the stable ones of the naming convention, on every database.
    assert ("ix_user_email_normalized", ("email_normalized",), True) in created["user"]["indexes"]
    assert created["oauth_account"]["unique"] == [
        ("uq_oauth_account_name_account_id", ("oauth_name", "account_id"))
    ]
    foreign_key_names = {key[0] for key in created["doorkeeper_one_time_token"]["foreign_keys"]}
    assert foreign_key_names <= {"doorkeeper_one_time_token_user_id_fkey", None}


async def test_upgrade_downgrade_round_trip(database_url: str) -> None:
    assert await current_async(database_url) is None
    await upgrade_async(database_url)
    assert await current_async(database_url) == "dk0004"
    first = await snapshot(database_url)
    assert set(first) == DOORKEEPER_TABLES | {VERSION_TABLE}

    await upgrade_async(database_url)  # at head already: nothing to do
    assert await snapshot(database_url) == first

    await downgrade_async(database_url, "base")
    assert await current_async(database_url) is None
    assert set(await snapshot(database_url)) == {VERSION_TABLE}

    await upgrade_async(database_url, "dk0001")
    later = SESSION_TABLES | ROLE_TABLES | OAUTH_TABLES
    assert set(await snapshot(database_url)) == first.keys() - later
    await upgrade_async(database_url, "dk0002")
    assert set(await snapshot(database_url)) == first.keys() - ROLE_TABLES - OAUTH_TABLES
    await upgrade_async(database_url, "dk0003")
    assert set(await snapshot(database_url)) == first.keys() - OAUTH_TABLES
    await upgrade_async(database_url, "dk0004")
    assert await snapshot(database_url) == first


async def test_migrated_tables_work_with_the_adapter(database_url: str) -> None:
    await upgrade_async(database_url)
    adapter = SQLAlchemyAdapter(database_url)
    try:
        user = await adapter.user.create({"email": "Ann@Example.com", "hashed_password": "h"})
        token = await adapter.token.create("verify", user.id, 60, {"k": "v"})
        consumed = await adapter.token.consume("verify", token)
        assert consumed is not None and consumed.payload == {"k": "v"}
        found = await adapter.user.get_by_email("ann@example.COM")
        assert found is not None and found.id == user.id
    finally:
        await adapter.dispose()


async def test_migrations_on_an_engine_of_yours(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade_async(engine)
        assert await current_async(engine) == "dk0004"
        await downgrade_async(engine, "-1")
        assert await current_async(engine) == "dk0003"
        await downgrade_async(engine, "-1")
        assert await current_async(engine) == "dk0002"
        await downgrade_async(engine, "-1")
        assert await current_async(engine) == "dk0001"
        await downgrade_async(engine, "-1")
        assert await current_async(engine) is None
    finally:
        await engine.dispose()


def test_history_lists_the_shipped_revisions() -> None:
    lines = history()
    assert lines[0].startswith("dk0001: Doorkeeper's tables")
    assert lines[-1].endswith(" (head)")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_an_unknown_revision_is_a_migration_error(database_url: str) -> None:
    with pytest.raises(MigrationError, match="nosuchrevision"):
        await upgrade_async(database_url, "nosuchrevision")
    with pytest.raises(MigrationError):
        await downgrade_async(database_url, "nosuchrevision")
    assert await current_async(database_url) is None


def test_env_refuses_to_run_without_a_connection() -> None:
    with pytest.raises(MigrationError, match="doorkeeper db upgrade"):
        command.upgrade(alembic_config(), "head")
    # The same file, imported under its package name in an Alembic environment.
    with _alembic_environment(), pytest.raises(MigrationError, match="pass the connection"):
        importlib.import_module("doorkeeper.migrations.env")


def test_the_revision_file_runs_the_first_revision() -> None:
    from doorkeeper.migrations import first_revision

    module = importlib.import_module("doorkeeper.migrations.versions.dk0001_initial")
    assert module.revision == "dk0001" and module.down_revision is None
    assert module.upgrade is first_revision.upgrade
    assert module.downgrade is first_revision.downgrade


def test_the_models_and_the_first_revision_name_the_same_tables() -> None:
    from doorkeeper.migrations.initial_schema import TABLES

    assert (
        set(TABLES) | SESSION_TABLES | ROLE_TABLES | OAUTH_TABLES
        == set(Base.metadata.tables)
        == DOORKEEPER_TABLES
    )
