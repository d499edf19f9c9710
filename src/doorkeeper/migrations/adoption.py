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
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from doorkeeper.migrations.errors import AdoptionConflictError, AdoptionError
from doorkeeper.migrations.initial_schema import timestamp
from doorkeeper.normalization import normalize_email

__all__ = [
    "CHECKED",
    "MARKER_TABLE",
    "adopt_fastapi_users",
    "adopted_from",
    "check_adoptable",
    "check_fastapi_users",
    "mark_adopted",
    "needs_adoption",
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

_user = sa.table("user", sa.column("id"), sa.column("email"), sa.column("email_normalized"))
_oauth_account = sa.table("oauth_account", sa.column("oauth_name"), sa.column("account_id"))
_accesstoken = sa.table("accesstoken", sa.column("token"))


def needs_adoption(bind: Connection) -> bool:
    """Whether `user` exists without Doorkeeper's columns (FastAPI Users' table)."""
    inspector = sa.inspect(bind)
    if not inspector.has_table("user"):
        return False
    return "email_normalized" not in {column["name"] for column in inspector.get_columns("user")}


def check_adoptable(bind: Connection) -> None:
    """`check_fastapi_users` if the database holds FastAPI Users' tables."""
    if needs_adoption(bind):
        check_fastapi_users(bind)


def check_fastapi_users(bind: Connection) -> None:
    """Raise `AdoptionError` if the tables cannot be adopted as they are; change nothing."""
    inspector = sa.inspect(bind)
    columns = {column["name"]: column for column in inspector.get_columns("user")}
    missing = [name for name in FASTAPI_USERS_COLUMNS if name not in columns]
    if missing:
        raise AdoptionError(
            "The table `user` exists but is not FastAPI Users' (it has no column "
            f"{', '.join(missing)}): Doorkeeper cannot adopt it. Use another database."
        )
    id_type = columns["id"]["type"]
    if not _is_uuid(id_type):
        raise AdoptionError(
            f"The column `user.id` is {id_type}: Doorkeeper's tables use UUID ids "
            "(FastAPI Users' SQLAlchemyBaseUserTableUUID), so it cannot adopt this table."
        )
    email_groups = _case_duplicates(bind)
    oauth_duplicates: list[tuple[str, str]] = []
    if inspector.has_table("oauth_account"):
        oauth_duplicates = _oauth_duplicates(bind)
    if email_groups or oauth_duplicates:
        raise AdoptionConflictError(email_groups, oauth_duplicates)


def _is_uuid(type_: Any) -> bool:
    if isinstance(type_, sa.Uuid):
        return True
    return isinstance(type_, sa.String) and type_.length == 36


def _pages(bind: Connection) -> Iterator[list[tuple[Any, str]]]:
    """(id, email) of every user, in pages of `BATCH_SIZE`, by id (keyset pagination)."""
    last: Any = None
    while True:
        statement = sa.select(_user.c.id, _user.c.email).order_by(_user.c.id).limit(BATCH_SIZE)
        if last is not None:
            statement = statement.where(_user.c.id > last)
        rows = [(row[0], row[1]) for row in bind.execute(statement)]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _case_duplicates(bind: Connection) -> list[list[str]]:
    accounts: dict[str, list[str]] = {}
    for page in _pages(bind):
        for _, email in page:
            accounts.setdefault(normalize_email(email), []).append(email)
    return sorted(sorted(emails) for emails in accounts.values() if len(emails) > 1)


def _oauth_duplicates(bind: Connection) -> list[tuple[str, str]]:
    name, account = _oauth_account.c.oauth_name, _oauth_account.c.account_id
    statement = (
        sa.select(name, account)
        .group_by(name, account)
        .having(sa.func.count() > 1)
        .order_by(name, account)
    )
    return [(row[0], row[1]) for row in bind.execute(statement)]


def adopt_fastapi_users(bind: Connection) -> None:
    """Turn FastAPI Users' tables into Doorkeeper's; `check_fastapi_users` ran first."""
    inspector = sa.inspect(bind)
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("email_normalized", sa.String(320), nullable=True))
        batch.add_column(sa.Column("tokens_valid_after", timestamp(), nullable=True))
        batch.add_column(sa.Column("tokens_valid_except", sa.String(64), nullable=True))
    _backfill_normalized_emails(bind)
    with op.batch_alter_table("user") as batch:
        batch.alter_column("email_normalized", existing_type=sa.String(320), nullable=False)
        batch.create_index("ix_user_email_normalized", ["email_normalized"], unique=True)
    if inspector.has_table("oauth_account"):
        with op.batch_alter_table("oauth_account") as batch:
            batch.create_unique_constraint(
                "uq_oauth_account_name_account_id", ["oauth_name", "account_id"]
            )
            batch.create_index("ix_oauth_account_user_id", ["user_id"])
    if inspector.has_table("accesstoken"):
        bind.execute(_accesstoken.delete())
        with op.batch_alter_table("accesstoken") as batch:
            if bind.dialect.name != "postgresql":  # timestamptz there already
                batch.alter_column(
                    "created_at",
                    existing_type=sa.TIMESTAMP(),
                    type_=timestamp(),
                    existing_nullable=False,
                )
            batch.create_index("ix_accesstoken_user_id", ["user_id"])


def _backfill_normalized_emails(bind: Connection) -> None:
    statement = (
        _user.update()
        .where(_user.c.id == sa.bindparam("user_id"))
        .values(email_normalized=sa.bindparam("normalized"))
    )
    for page in _pages(bind):
        values = [{"user_id": id, "normalized": normalize_email(email)} for id, email in page]
        bind.execute(statement, values)


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
