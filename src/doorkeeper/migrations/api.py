"""Running Doorkeeper's shipped migrations from Python: no alembic.ini needed.

    from doorkeeper.migrations import api
    api.upgrade("postgresql+asyncpg://...")            # from synchronous code (CLI)
    await api.upgrade_async("postgresql+asyncpg://...")  # from async code
    api.adopt_app_tables(url, myapp.models.Base.metadata)  # an app's own tables instead

A URL gives a readable `ValueError` if it is wrong and `DatabaseUnavailableError` if the
database cannot be reached; a migration that cannot run raises `MigrationError` (or
`AdoptionConflictError`, listing the accounts in the way), having changed nothing.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import MetaData, exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from doorkeeper.adapter.engine import (
    check_sqlite_path,
    create_engine,
    parse_database_url,
    unavailable_error,
)
from doorkeeper.adapter.models import Base
from doorkeeper.migrations import adoption, app_tables
from doorkeeper.migrations.errors import MigrationError

__all__ = [
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "adopt_app_tables",
    "adopt_app_tables_async",
    "current",
    "current_async",
    "downgrade",
    "downgrade_async",
    "history",
    "run_environment",
    "upgrade",
    "upgrade_async",
]

MIGRATIONS_DIR = Path(__file__).parent
VERSION_TABLE = "doorkeeper_alembic_version"

Database = str | AsyncEngine


def alembic_config() -> Config:
    """An Alembic `Config` pointing at the shipped migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def run_environment() -> None:
    """The body of env.py: run the migrations on the connection the API passed, with
    the version table `doorkeeper_alembic_version` (never an app's `alembic_version`)."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise MigrationError(
            "Doorkeeper's migrations run through `doorkeeper db upgrade` or "
            "doorkeeper.migrations.api (upgrade, downgrade), which pass the connection."
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


@asynccontextmanager
async def _connect(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection to migrate with, committed if the block succeeds; a URL's engine is
    made for it and disposed of afterwards."""
    engine = create_engine(database, poolclass=NullPool) if isinstance(database, str) else database
    try:
        check_sqlite_path(engine.url)
        try:
            connection = await engine.connect()
        except (OSError, TimeoutError, exc.DBAPIError) as error:
            raise unavailable_error(engine.url, error) from error
        foreign_keys: Any = None
        try:
            if engine.dialect.name == "sqlite":
                # Rebuilding a table (batch mode) drops the old one: with foreign keys
                # enforced, SQLite would delete the rows that refer to it.
                result = await connection.exec_driver_sql("PRAGMA foreign_keys")
                foreign_keys = result.scalar()
                await connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            yield connection
            await connection.commit()
        finally:
            if foreign_keys:
                # The connection goes back to the app's pool as it came.
                await connection.exec_driver_sql("PRAGMA foreign_keys = ON")
            await connection.close()
    finally:
        if isinstance(database, str):
            await engine.dispose()


def _run_command(connection: Connection, action: Callable[[Config], None]) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    try:
        action(config)
    except (CommandError, RevisionError) as error:
        raise MigrationError(str(error)) from error


def _upgrade(connection: Connection, revision: str) -> None:
    def action(config: Config) -> None:
        if _current_revision(connection) is None:
            # Before Alembic writes anything, even its version table.
            adoption.check_adoptable(connection)
            config.attributes[adoption.CHECKED] = True
        command.upgrade(config, revision)

    _run_command(connection, action)


async def upgrade_async(database: Database, revision: str = "head") -> None:
    """Upgrade to `revision` (a revision id, "head" or "+1")."""
    async with _connect(database) as connection:
        await connection.run_sync(_upgrade, revision)


async def adopt_app_tables_async(database: Database, metadata: MetaData) -> list[str]:
    """Adopt an app's own tables, described by `metadata` (its models' metadata): see
    `doorkeeper.migrations.app_tables`. Returns what was done, one line each."""
    async with _connect(database) as connection:
        return await connection.run_sync(app_tables.adopt_app_tables, metadata)


async def downgrade_async(database: Database, revision: str) -> None:
    """Downgrade to `revision` (a revision id, "base" or "-1")."""
    async with _connect(database) as connection:
        await connection.run_sync(_run_command, lambda c: command.downgrade(c, revision))


def _current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _is_missing_sqlite_file(database: Database) -> bool:
    url = parse_database_url(database if isinstance(database, str) else database.url)
    path = url.database
    if url.get_backend_name() != "sqlite" or path in (None, "", ":memory:"):
        return False
    assert path is not None
    return not path.startswith("file:") and not Path(path).exists()


async def current_async(database: Database) -> str | None:
    """The database's revision, or `None` if no migration ever ran on it (a SQLite
    file that does not exist is not created)."""
    if isinstance(database, str):
        create_engine(database)  # a wrong URL is an error, even for a missing file
    if _is_missing_sqlite_file(database):
        return None
    async with _connect(database) as connection:
        return await connection.run_sync(_current_revision)


def upgrade(url: str, revision: str = "head") -> None:
    """`upgrade_async`, from synchronous code."""
    asyncio.run(upgrade_async(url, revision))


def adopt_app_tables(url: str, metadata: MetaData) -> list[str]:
    """`adopt_app_tables_async`, from synchronous code."""
    return asyncio.run(adopt_app_tables_async(url, metadata))


def downgrade(url: str, revision: str) -> None:
    """`downgrade_async`, from synchronous code."""
    asyncio.run(downgrade_async(url, revision))


def current(url: str) -> str | None:
    """`current_async`, from synchronous code."""
    return asyncio.run(current_async(url))


def history() -> list[str]:
    """The shipped revisions, oldest first: "<id>: <description>", " (head)" on the last."""
    script = ScriptDirectory.from_config(alembic_config())
    lines = []
    for revision in reversed(list(script.walk_revisions())):
        head = " (head)" if revision.is_head else ""
        lines.append(f"{revision.revision}: {revision.doc}{head}")
    return lines
