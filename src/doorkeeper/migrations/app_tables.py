"""Adopting an app's own tables, described by its models: `doorkeeper db upgrade --metadata`.

An app that moved from FastAPI Users by renaming its imports keeps its own models: a
user table that may be called `users`, integer ids, OAuth account and access token
tables whose foreign keys point at it. Doorkeeper's shipped revisions describe
Doorkeeper's own tables (`user`, UUID ids); they would create a second, empty user table
beside the app's. Given the app's metadata instead, the tables to adopt are found from
the models built on Doorkeeper's mixins:

* the user table: the one with `email`, `hashed_password` and Doorkeeper's
  `email_normalized`, `tokens_valid_after`, `tokens_valid_except`;
* OAuth account tables (`oauth_name`, `account_id`, `user_id`) and access token tables
  (`token`, `created_at`, `user_id`) whose `user_id` refers to it.

The same checks and changes as the first revision's (`doorkeeper.migrations.adoption`)
then run on those tables, with the names and types the models give: Doorkeeper's
columns are added (`email_normalized` filled from the addresses), the unique index and
constraint are created, clear-text access tokens deleted. Tables of these models that
the database lacks are created from the models, so their foreign keys match the real
user table. Nothing is versioned: running it again does only what is still missing.
"""

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from doorkeeper.migrations import adoption
from doorkeeper.migrations.adoption import Layout, LinkedTable
from doorkeeper.migrations.errors import AdoptionError, MigrationError

__all__ = ["AppTables", "adopt_app_tables", "app_tables", "load_metadata"]

USER_COLUMNS = {"email", "hashed_password", *adoption.DEFAULT_LAYOUT.column_types}
OAUTH_COLUMNS = {"oauth_name", "account_id", "user_id"}
ACCESS_TOKEN_COLUMNS = {"token", "created_at", "user_id"}


def load_metadata(spec: str) -> sa.MetaData:
    """The `MetaData` named by `module:attribute` (a `MetaData`, or a declarative base
    and anything else with a `metadata`); the working directory is importable, as for
    uvicorn's `module:app`. A wrong name raises `MigrationError`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise MigrationError(
            f"--metadata {spec!r}: expected module:attribute, e.g. myapp.models:Base"
        )
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise MigrationError(f"--metadata {spec!r}: cannot import {module_name}: {error}") from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise MigrationError(
                f"--metadata {spec!r}: {module_name} has no attribute {attribute}"
            ) from None
    metadata = target if isinstance(target, sa.MetaData) else getattr(target, "metadata", None)
    if not isinstance(metadata, sa.MetaData):
        raise MigrationError(
            f"--metadata {spec!r} is neither a MetaData nor a declarative base with one"
        )
    return metadata


@dataclass(frozen=True)
class AppTables:
    """The tables of an app's models that Doorkeeper adopts, and how."""

    layout: Layout
    tables: tuple[sa.Table, ...]
    """The user table first, then the tables referring to it (creation order)."""


def _refers_to(table: sa.Table, user: sa.Table) -> bool:
    return any(
        key.column.table is user for key in table.c.user_id.foreign_keys if key.column is not None
    )


def _index_name(table: sa.Table, columns: list[str], unique: bool | None) -> str | None:
    for index in table.indexes:
        if [column.name for column in index.columns] == columns and (
            unique is None or bool(index.unique) == unique
        ):
            return str(index.name) if index.name is not None else None
    return None


def _unique_name(table: sa.Table, columns: set[str]) -> str | None:
    for constraint in table.constraints:
        if (
            isinstance(constraint, sa.UniqueConstraint)
            and {column.name for column in constraint.columns} == columns
        ):
            return str(constraint.name) if constraint.name is not None else None
    return None


def _id_kind(user: sa.Table) -> str:
    try:
        python_type = user.c.id.type.python_type
    except NotImplementedError:
        return "other"
    if issubclass(python_type, int):
        return "integer"
    return "uuid" if python_type.__name__ == "UUID" else "other"


def app_tables(metadata: sa.MetaData) -> AppTables:
    """Find the user table (and the tables referring to it) among `metadata`'s tables."""
    users = [table for table in metadata.tables.values() if set(table.c.keys()) >= USER_COLUMNS]
    if len(users) != 1:
        found = ", ".join(sorted(table.name for table in users)) or "none"
        raise MigrationError(
            "--metadata must describe exactly one user table built on Doorkeeper's "
            f"SQLAlchemyBaseUserTable (found: {found})"
        )
    user = users[0]
    oauth = [
        table
        for table in metadata.sorted_tables
        if set(table.c.keys()) >= OAUTH_COLUMNS and _refers_to(table, user)
    ]
    tokens = [
        table
        for table in metadata.sorted_tables
        if set(table.c.keys()) >= ACCESS_TOKEN_COLUMNS and _refers_to(table, user)
    ]
    created_at_type: Any = tokens[0].c.created_at.type if tokens else None
    layout = Layout(
        user=user.name,
        id_kind=_id_kind(user),
        email_index=_index_name(user, ["email_normalized"], True)
        or f"ix_{user.name}_email_normalized",
        oauth_accounts=tuple(
            LinkedTable(
                table.name,
                _index_name(table, ["user_id"], None),
                _unique_name(table, {"oauth_name", "account_id"}),
            )
            for table in oauth
        ),
        access_tokens=tuple(
            LinkedTable(table.name, _index_name(table, ["user_id"], None)) for table in tokens
        ),
        column_types={name: user.c[name].type for name in adoption.DEFAULT_LAYOUT.column_types},
        widen_created_at=created_at_type is not None
        and type(created_at_type).__name__ == "UTCDateTime",
    )
    return AppTables(layout, (user, *oauth, *tokens))


def _check(bind: Connection, found: AppTables) -> None:
    inspector = sa.inspect(bind)
    user = found.layout.user
    if inspector.has_table(user):
        adoption.check_fastapi_users(bind, found.layout)
        return
    others = [name for name in adoption.fastapi_users_tables(bind) if name != user]
    if others:
        shown = ", ".join(f"`{name}`" for name in others)
        raise AdoptionError(
            f"Your models' user table is `{user}`, but the database has none; it holds the "
            f"user table {shown}. Nothing was changed: point --metadata at the models of "
            "this database (or set `__tablename__`), so that no second user table is made."
        )


def _adopt(bind: Connection, found: AppTables) -> list[str]:
    _check(bind, found)  # before anything changes: MySQL cannot roll DDL back
    done: list[str] = []
    inspector = sa.inspect(bind)
    if inspector.has_table(found.layout.user):
        context = MigrationContext.configure(bind)
        with Operations.context(context):
            done += adoption.adopt_fastapi_users(bind, found.layout)
    for table in found.tables:
        if not sa.inspect(bind).has_table(table.name):
            table.create(bind)
            done.append(f"created the table `{table.name}`")
    return done


def adopt_app_tables(connection: Connection, metadata: sa.MetaData) -> list[str]:
    """Adopt the tables of `metadata` on `connection` (see the module's docstring);
    return what was done, one line each (empty when nothing was missing)."""
    return _adopt(connection, app_tables(metadata))
