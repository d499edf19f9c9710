"""Getting the database ready at start-up: create the tables, or check the migrations.

A database that `doorkeeper db upgrade` manages (it has the migrations' version table)
must be at the shipped head revision: the start-up refuses otherwise, naming the command
to run, rather than serving on a schema it does not know. Any other database gets the
tables that are missing (`create_tables()`), unless it holds FastAPI Users' tables,
which only the migrations can adopt.
"""

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.authentication.errors import is_unavailable_error

__all__ = [
    "DatabaseNotReadyError",
    "RedisUnavailableError",
    "ping_redis",
    "prepare_storage",
    "shipped_head",
]

UPGRADE_COMMAND = "doorkeeper db upgrade"


class DatabaseNotReadyError(RuntimeError):
    """The database's schema is not the one this Doorkeeper needs; the message says
    which command makes it so."""


class RedisUnavailableError(ConnectionError):
    """Redis could not be reached; the message says where (without a password) and why."""


def redis_location(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


async def ping_redis(client: Any, url: str) -> None:
    """Raise `RedisUnavailableError` (one line) unless Redis answers."""
    try:
        await client.ping()
    except Exception as error:
        if not is_unavailable_error(error):
            raise
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RedisUnavailableError(
            f"Cannot reach Redis at {redis_location(url)}: {reason}"
        ) from error


def shipped_head() -> str | None:
    """The newest revision of the shipped migrations."""
    from alembic.script import ScriptDirectory

    from doorkeeper.migrations.api import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _schema_state(connection: Connection) -> tuple[str | None, bool]:
    """(the migrations' revision or `None`, whether `user` is FastAPI Users' table)."""
    from alembic.runtime.migration import MigrationContext

    from doorkeeper.migrations.api import VERSION_TABLE

    inspector: Any = inspect(connection)
    revision = None
    if inspector.has_table(VERSION_TABLE):
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        revision = context.get_current_revision()
    fastapi_users = inspector.has_table("user") and "email_normalized" not in {
        column["name"] for column in inspector.get_columns("user")
    }
    return revision, fastapi_users


async def prepare_storage(adapter: SQLAlchemyAdapter) -> None:
    """Make the database usable, or raise a one-line error.

    Raises `DatabaseUnavailableError` (cannot connect) or `DatabaseNotReadyError`.
    """
    await adapter.ping()
    async with adapter.engine.connect() as connection:
        revision, fastapi_users = await connection.run_sync(_schema_state)
    if revision is not None:
        head = shipped_head()
        if revision != head:
            raise DatabaseNotReadyError(
                f"The database at {adapter.url} is at migration {revision}, this Doorkeeper "
                f"needs {head}: run `{UPGRADE_COMMAND}`"
            )
        return
    if fastapi_users:
        raise DatabaseNotReadyError(
            f"The database at {adapter.url} holds FastAPI Users' tables: run "
            f"`{UPGRADE_COMMAND}` to adopt them (every row is kept)"
        )
    await adapter.create_tables()
