"""Telling "the user table lacks Doorkeeper's columns" apart from other database errors.

An app that renamed its FastAPI Users imports but did not migrate its database fails
on its first query: SQLite says `no such column: user.email_normalized`, PostgreSQL
`column user.email_normalized does not exist`, MySQL/MariaDB `Unknown column
'user.email_normalized'`. `schema_outdated(error)` recognises these (for Doorkeeper's
columns only) and gives a `DatabaseSchemaOutdatedError` whose message names the command
that fixes the schema; the routers answer 503 `DATABASE_SCHEMA_OUTDATED` with it, never
a 500. `check_user_table` makes the same check at start-up, before any request.
"""

import re
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "DOORKEEPER_USER_COLUMNS",
    "SCHEMA_OUTDATED",
    "UPGRADE_COMMAND",
    "DatabaseSchemaOutdatedError",
    "check_user_table",
    "metadata_option",
    "missing_user_columns",
    "schema_outdated",
]

UPGRADE_COMMAND = "doorkeeper db upgrade"
SCHEMA_OUTDATED = "DATABASE_SCHEMA_OUTDATED"
"""The `detail` of the 503 a route answers when the schema lacks Doorkeeper's columns."""
DOORKEEPER_USER_COLUMNS = ("email_normalized", "tokens_valid_after", "tokens_valid_except")
"""The columns Doorkeeper adds to FastAPI Users' user table (docs/storage.md)."""

_NAME = r'[`"\']?(\w+)[`"\']?'
_MISSING_COLUMN = [
    # SQLite: "no such column: user.email_normalized", "table user has no column named x"
    re.compile(rf"no such column: (?:{_NAME}\.)?{_NAME}"),
    re.compile(rf"table {_NAME} has no column named {_NAME}"),
    # PostgreSQL: 'column user.email_normalized does not exist',
    # 'column "email_normalized" of relation "user" does not exist'
    re.compile(rf"column {_NAME} of relation {_NAME} does not exist"),
    re.compile(rf"column (?:{_NAME}\.)?{_NAME} does not exist"),
    # MySQL/MariaDB: "Unknown column 'user.email_normalized' in 'field list'"
    re.compile(r"Unknown column '(?:(\w+)\.)?(\w+)'"),
]


def metadata_option(user_table: Any) -> str:
    """`--metadata module:Base` for the declarative base of `user_table` (a mapped class),
    or an empty string when it is Doorkeeper's own `user` table, which needs none."""
    for klass in getattr(user_table, "__mro__", ()):
        if "registry" in vars(klass) and "metadata" in vars(klass):
            if klass.__module__ == "doorkeeper.adapter.models":
                return ""
            return f" --metadata {klass.__module__}:{klass.__qualname__}"
    return ""


class DatabaseSchemaOutdatedError(RuntimeError):
    """The user table lacks columns Doorkeeper needs; the message names the command.

    :ivar table: The table (`user`, or an app's own, e.g. `users`).
    :ivar columns: The missing columns, as far as known.
    """

    def __init__(self, table: str | None, columns: list[str], option: str | None = None) -> None:
        self.table = table
        self.columns = columns
        shown = ", ".join(f"{table}.{column}" if table else column for column in columns)
        if option is None:
            option = "" if table in (None, "user") else " --metadata yourapp.models:Base"
        super().__init__(
            f"The database lacks Doorkeeper's column(s) {shown}: it still has FastAPI "
            f"Users' schema. Run `{UPGRADE_COMMAND}{option}` (see docs/storage.md)."
        )


def _missing_column(error: BaseException) -> tuple[str | None, str] | None:
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    message = str(error.orig if error.orig is not None else error)
    for pattern in _MISSING_COLUMN:
        match = pattern.search(message)
        if match is None:
            continue
        first, second = match.group(1), match.group(2)
        # "of relation" and "has no column named" name the table second or first.
        table, column = (second, first) if "of relation" in pattern.pattern else (first, second)
        if column in DOORKEEPER_USER_COLUMNS:
            return table, column
    return None


def schema_outdated(error: BaseException) -> DatabaseSchemaOutdatedError | None:
    """The `DatabaseSchemaOutdatedError` that `error` (or what caused it) stands for,
    or `None` if it is about something else."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseSchemaOutdatedError):
            return current
        found = _missing_column(current)
        if found is not None:
            return DatabaseSchemaOutdatedError(found[0], [found[1]])
        current = current.__cause__ or current.__context__
    return None


def missing_user_columns(connection: Connection, table: str) -> list[str] | None:
    """Doorkeeper's columns missing from `table`, or `None` if there is no such table."""
    inspector = inspect(connection)
    if not inspector.has_table(table):
        return None
    present = {column["name"] for column in inspector.get_columns(table)}
    return [column for column in DOORKEEPER_USER_COLUMNS if column not in present]


async def check_user_table(bind: AsyncEngine | AsyncConnection, user_table: Any) -> None:
    """Raise `DatabaseSchemaOutdatedError` if the table of `user_table` (a model built on
    `SQLAlchemyBaseUserTable`) exists without Doorkeeper's columns. For an app's lifespan::

        async with engine.connect() as connection:
            await check_user_table(connection, User)
    """
    name: str = user_table.__table__.name
    if isinstance(bind, AsyncEngine):
        async with bind.connect() as connection:
            missing = await connection.run_sync(missing_user_columns, name)
    else:
        missing = await bind.run_sync(missing_user_columns, name)
    if missing:
        raise DatabaseSchemaOutdatedError(name, missing, metadata_option(user_table))
