"""Adopting an existing database: FastAPI Users' tables become Doorkeeper's, row for row.

Everything that could make the change fail halfway is checked first, before any
statement changes the schema (MySQL/MariaDB cannot roll DDL back):

* the `user` table has FastAPI Users' columns and UUID ids;
* no two users have addresses that differ only by letter case (Doorkeeper's unique
  index on the normalized address would refuse them);
* no provider account is linked twice (`oauth_account` gets a unique constraint).

Then `user` gets `email_normalized` (computed in Python, in batches, by the same
`normalize_email` the application uses) and the two revocation columns; `oauth_account`
its unique constraint and `user_id` index; `accesstoken` is emptied (FastAPI Users stored
tokens in clear, Doorkeeper looks them up by digest: their users sign in again), gets the
`user_id` index and microsecond timestamps on MySQL/MariaDB.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from doorkeeper.migrations.errors import AdoptionConflictError, AdoptionError
from doorkeeper.migrations.initial_schema import timestamp
from doorkeeper.normalization import normalize_email

__all__ = [
    "CHECKED",
    "DEFAULT_LAYOUT",
    "MARKER_TABLE",
    "Layout",
    "LinkedTable",
    "adopt_fastapi_users",
    "adopted_from",
    "check_adoptable",
    "check_fastapi_users",
    "fastapi_users_tables",
    "mark_adopted",
    "needs_adoption",
    "refuse_other_user_tables",
]

CHECKED = "doorkeeper.adoption_checked"
"""Alembic config attribute: `check_adoptable` ran on this connection already."""
MARKER_TABLE = "doorkeeper_adopted"
"""Present when the first revision took over existing tables: it cannot be undone."""
BATCH_SIZE = 1000
FASTAPI_USERS_COLUMNS = (
    "id",
    "email",
    "hashed_password",
    "is_active",
    "is_superuser",
    "is_verified",
)
METADATA_HINT = (
    "run `doorkeeper db upgrade --metadata yourapp.models:Base` (the module of your "
    "models and their declarative base) to adopt your app's own tables as they are"
)


def _default_column_types() -> dict[str, sa.types.TypeEngine[Any]]:
    return {
        "email_normalized": sa.String(320),
        "tokens_valid_after": timestamp(),
        "tokens_valid_except": sa.String(64),
    }


@dataclass(frozen=True)
class LinkedTable:
    """A table referring to the users: an OAuth account or an access token table.

    :ivar user_index: The index on `user_id` to create, if any.
    :ivar unique: OAuth accounts: the name of the unique (oauth_name, account_id).
    """

    name: str
    user_index: str | None = None
    unique: str | None = None


@dataclass(frozen=True)
class Layout:
    """Which tables to adopt, and the names of what adoption creates in them.

    The default is FastAPI Users' documented layout (`user`, `oauth_account`,
    `accesstoken`, UUID ids); `doorkeeper db upgrade --metadata` builds one from an
    app's models (`doorkeeper.migrations.app_tables`).

    :ivar id_kind: "uuid" or "integer": what the user table's `id` must be.
    """

    user: str = "user"
    id_kind: str = "uuid"
    email_index: str = "ix_user_email_normalized"
    oauth_accounts: tuple[LinkedTable, ...] = (
        LinkedTable(
            "oauth_account", "ix_oauth_account_user_id", "uq_oauth_account_name_account_id"
        ),
    )
    access_tokens: tuple[LinkedTable, ...] = (LinkedTable("accesstoken", "ix_accesstoken_user_id"),)
    column_types: dict[str, sa.types.TypeEngine[Any]] = field(default_factory=_default_column_types)
    widen_created_at: bool = True
    """Make `created_at` of access tokens `DATETIME(6)` on MySQL/MariaDB."""


DEFAULT_LAYOUT = Layout()


def _user_table(layout: Layout) -> Any:
    return sa.table(layout.user, sa.column("id"), sa.column("email"), sa.column("email_normalized"))


def _column_names(bind: Connection, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(bind).get_columns(table)}


def needs_adoption(bind: Connection, layout: Layout = DEFAULT_LAYOUT) -> bool:
    """Whether the user table exists without Doorkeeper's columns (FastAPI Users')."""
    if not sa.inspect(bind).has_table(layout.user):
        return False
    return "email_normalized" not in _column_names(bind, layout.user)


def fastapi_users_tables(bind: Connection) -> list[str]:
    """The tables that have the columns of FastAPI Users' user table, by name."""
    inspector = sa.inspect(bind)
    found = []
    for name in sorted(inspector.get_table_names()):
        columns = {column["name"] for column in inspector.get_columns(name)}
        if set(FASTAPI_USERS_COLUMNS) <= columns:
            found.append(name)
    return found


def refuse_other_user_tables(bind: Connection) -> None:
    """Raise `AdoptionError` if there is no `user` table but a user table of FastAPI
    Users' shape under another name: creating Doorkeeper's `user` beside it would give
    the app a second, empty user table."""
    if sa.inspect(bind).has_table("user"):
        return
    others = [name for name in fastapi_users_tables(bind) if name != "user"]
    if others:
        shown = ", ".join(f"`{name}`" for name in others)
        raise AdoptionError(
            f"The database holds a FastAPI Users user table named {shown}, not `user`: "
            f"Doorkeeper's own tables would be a second, empty user table, so nothing was "
            f"changed. {METADATA_HINT[0].upper()}{METADATA_HINT[1:]}."
        )


def check_adoptable(bind: Connection) -> None:
    """`check_fastapi_users` if the database holds FastAPI Users' tables; refuse a user
    table of FastAPI Users' shape under another name."""
    refuse_other_user_tables(bind)
    if needs_adoption(bind):
        check_fastapi_users(bind)


def check_fastapi_users(bind: Connection, layout: Layout = DEFAULT_LAYOUT) -> None:
    """Raise `AdoptionError` if the tables cannot be adopted as they are; change nothing."""
    inspector = sa.inspect(bind)
    columns = {column["name"]: column for column in inspector.get_columns(layout.user)}
    missing = [name for name in FASTAPI_USERS_COLUMNS if name not in columns]
    if missing:
        raise AdoptionError(
            f"The table `{layout.user}` exists but is not FastAPI Users' (it has no column "
            f"{', '.join(missing)}): Doorkeeper cannot adopt it. Use another database."
        )
    id_type = columns["id"]["type"]
    if layout.id_kind == "uuid" and not _is_uuid(id_type):
        hint = f"; {METADATA_HINT}" if layout is DEFAULT_LAYOUT else ""
        raise AdoptionError(
            f"The column `{layout.user}.id` is {id_type}: Doorkeeper's tables use UUID ids "
            f"(FastAPI Users' SQLAlchemyBaseUserTableUUID), so it cannot adopt this "
            f"table{hint}."
        )
    if layout.id_kind == "integer" and not isinstance(id_type, sa.Integer):
        raise AdoptionError(
            f"The column `{layout.user}.id` is {id_type}, but your models declare "
            "integer ids: they do not describe this database."
        )
    email_groups: list[list[str]] = []
    if "email_normalized" not in columns or not _has_unique_email_index(bind, layout):
        email_groups = _case_duplicates(bind, layout)
    oauth_duplicates: list[tuple[str, str]] = []
    for table in layout.oauth_accounts:
        if inspector.has_table(table.name) and not _has_oauth_unique(bind, table.name):
            oauth_duplicates += _oauth_duplicates(bind, table.name)
    if email_groups or oauth_duplicates:
        raise AdoptionConflictError(email_groups, oauth_duplicates)


def _is_uuid(type_: Any) -> bool:
    if isinstance(type_, sa.Uuid):
        return True
    return isinstance(type_, sa.String) and type_.length == 36


def _index_column_sets(bind: Connection, table: str, unique: bool) -> list[list[str]]:
    inspector = sa.inspect(bind)
    sets = [
        [str(name) for name in index["column_names"]]
        for index in inspector.get_indexes(table)
        if index.get("unique") or not unique
    ]
    if unique:
        sets += [
            [str(name) for name in constraint["column_names"]]
            for constraint in inspector.get_unique_constraints(table)
        ]
    return sets


def _has_unique_email_index(bind: Connection, layout: Layout) -> bool:
    return ["email_normalized"] in _index_column_sets(bind, layout.user, unique=True)


def _has_oauth_unique(bind: Connection, table: str) -> bool:
    wanted = {"oauth_name", "account_id"}
    return any(set(columns) == wanted for columns in _index_column_sets(bind, table, True))


def _has_index(bind: Connection, table: str, name: str) -> bool:
    # By name: MySQL/MariaDB index every foreign key column by themselves.
    return name in {index["name"] for index in sa.inspect(bind).get_indexes(table)}


def _pages(bind: Connection, layout: Layout) -> Iterator[list[tuple[Any, str]]]:
    """(id, email) of every user, in pages of `BATCH_SIZE`, by id (keyset pagination)."""
    user = _user_table(layout)
    last: Any = None
    while True:
        statement = sa.select(user.c.id, user.c.email).order_by(user.c.id).limit(BATCH_SIZE)
        if last is not None:
            statement = statement.where(user.c.id > last)
        rows = [(row[0], row[1]) for row in bind.execute(statement)]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _case_duplicates(bind: Connection, layout: Layout) -> list[list[str]]:
    accounts: dict[str, list[str]] = {}
    for page in _pages(bind, layout):
        for _, email in page:
            accounts.setdefault(normalize_email(email), []).append(email)
    return sorted(sorted(emails) for emails in accounts.values() if len(emails) > 1)


def _oauth_duplicates(bind: Connection, table: str) -> list[tuple[str, str]]:
    oauth_account = sa.table(table, sa.column("oauth_name"), sa.column("account_id"))
    name, account = oauth_account.c.oauth_name, oauth_account.c.account_id
    statement = (
        sa.select(name, account)
        .group_by(name, account)
        .having(sa.func.count() > 1)
        .order_by(name, account)
    )
    return [(row[0], row[1]) for row in bind.execute(statement)]


def adopt_fastapi_users(bind: Connection, layout: Layout = DEFAULT_LAYOUT) -> list[str]:
    """Turn FastAPI Users' tables into Doorkeeper's; `check_fastapi_users` ran first.

    Idempotent: what exists already is left alone. Returns what was done, one line each.
    """
    done: list[str] = []
    inspector = sa.inspect(bind)
    present = _column_names(bind, layout.user)
    adopting = "email_normalized" not in present
    to_add = [name for name in layout.column_types if name not in present]
    if to_add:
        with op.batch_alter_table(layout.user) as batch:
            for name in to_add:
                batch.add_column(sa.Column(name, layout.column_types[name], nullable=True))
        done.append(f"added {', '.join(to_add)} to `{layout.user}`")
    if adopting:
        count = _backfill_normalized_emails(bind, layout)
        done.append(f"filled `{layout.user}.email_normalized` for {count} user(s)")
        with op.batch_alter_table(layout.user) as batch:
            batch.alter_column(
                "email_normalized",
                existing_type=layout.column_types["email_normalized"],
                nullable=False,
            )
    if not _has_unique_email_index(bind, layout):
        with op.batch_alter_table(layout.user) as batch:
            batch.create_index(layout.email_index, ["email_normalized"], unique=True)
        done.append(f"created the unique index {layout.email_index}")
    for table in layout.oauth_accounts:
        if not inspector.has_table(table.name):
            continue
        unique = table.unique is not None and not _has_oauth_unique(bind, table.name)
        index = table.user_index is not None and not _has_index(bind, table.name, table.user_index)
        if unique or index:
            with op.batch_alter_table(table.name) as batch:
                if unique:
                    assert table.unique is not None
                    batch.create_unique_constraint(table.unique, ["oauth_name", "account_id"])
                    done.append(f"created the unique constraint {table.unique}")
                if index:
                    assert table.user_index is not None
                    batch.create_index(table.user_index, ["user_id"])
                    done.append(f"created the index {table.user_index}")
    for table in layout.access_tokens:
        if not inspector.has_table(table.name):
            continue
        if adopting:
            # FastAPI Users stored these tokens in clear: no digest can ever match them.
            deleted = bind.execute(sa.table(table.name, sa.column("token")).delete()).rowcount
            done.append(f"deleted the {deleted} clear-text token(s) of `{table.name}`")
        widen = adopting and layout.widen_created_at and bind.dialect.name != "postgresql"
        index = table.user_index is not None and not _has_index(bind, table.name, table.user_index)
        if widen or index:
            with op.batch_alter_table(table.name) as batch:
                if widen:  # timestamptz on PostgreSQL already
                    batch.alter_column(
                        "created_at",
                        existing_type=sa.TIMESTAMP(),
                        type_=timestamp(),
                        existing_nullable=False,
                    )
                if index:
                    assert table.user_index is not None
                    batch.create_index(table.user_index, ["user_id"])
                    done.append(f"created the index {table.user_index}")
    return done


def _backfill_normalized_emails(bind: Connection, layout: Layout) -> int:
    user = _user_table(layout)
    statement = (
        user.update()
        .where(user.c.id == sa.bindparam("user_id"))
        .values(email_normalized=sa.bindparam("normalized"))
    )
    count = 0
    for page in _pages(bind, layout):
        values = [{"user_id": id, "normalized": normalize_email(email)} for id, email in page]
        bind.execute(statement, values)
        count += len(values)
    return count


def mark_adopted(source: str) -> None:
    """Record that the first revision took over existing tables (`source` says whose)."""
    marker = op.create_table(
        MARKER_TABLE,
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("adopted_at", timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=f"{MARKER_TABLE}_pkey"),
    )
    op.execute(marker.insert().values(source=source, adopted_at=sa.func.current_timestamp()))


def adopted_from(bind: Connection) -> str | None:
    """Whose tables the first revision took over, or `None` if it created them."""
    if not sa.inspect(bind).has_table(MARKER_TABLE):
        return None
    marker = sa.table(MARKER_TABLE, sa.column("source"))
    source: str | None = bind.execute(sa.select(marker.c.source)).scalar()
    return source or "unknown"
