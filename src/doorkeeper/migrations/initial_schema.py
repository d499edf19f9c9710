"""The tables of revision dk0001, frozen: later changes to the models go in new revisions.

Names follow `doorkeeper.adapter.models.NAMING_CONVENTION`, so these tables equal those
`SQLAlchemyAdapter.create_tables()` makes (a test compares them on every database).
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

__all__ = ["TABLES", "create_missing", "guid", "timestamp"]


def guid() -> sa.types.TypeEngine[Any]:
    """A UUID: native on PostgreSQL, CHAR(36) elsewhere."""
    return sa.CHAR(36).with_variant(postgresql.UUID(as_uuid=True), "postgresql")


def timestamp() -> sa.types.TypeEngine[Any]:
    """A UTC timestamp with microseconds: timestamptz, DATETIME(6) on MySQL/MariaDB."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _user_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["user.id"], name=f"{table}_user_id_fkey", ondelete="cascade"
    )


def create_user() -> None:
    op.create_table(
        "user",
        sa.Column("id", guid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_normalized", sa.String(320), nullable=False),
        sa.Column("hashed_password", sa.String(1024), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("tokens_valid_after", timestamp(), nullable=True),
        sa.Column("tokens_valid_except", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="user_pkey"),
    )
    op.create_index("ix_user_email", "user", ["email"], unique=True)
    op.create_index("ix_user_email_normalized", "user", ["email_normalized"], unique=True)


def create_oauth_account() -> None:
    op.create_table(
        "oauth_account",
        sa.Column("id", guid(), nullable=False),
        sa.Column("user_id", guid(), nullable=False),
        sa.Column("oauth_name", sa.String(100), nullable=False),
        sa.Column("access_token", sa.String(1024), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=True),
        sa.Column("refresh_token", sa.String(1024), nullable=True),
        sa.Column("account_id", sa.String(320), nullable=False),
        sa.Column("account_email", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="oauth_account_pkey"),
        sa.UniqueConstraint("oauth_name", "account_id", name="uq_oauth_account_name_account_id"),
        _user_foreign_key("oauth_account"),
    )
    op.create_index("ix_oauth_account_account_id", "oauth_account", ["account_id"])
    op.create_index("ix_oauth_account_oauth_name", "oauth_account", ["oauth_name"])
    op.create_index("ix_oauth_account_user_id", "oauth_account", ["user_id"])


def create_accesstoken() -> None:
    op.create_table(
        "accesstoken",
        sa.Column("user_id", guid(), nullable=False),
        sa.Column("token", sa.String(43), nullable=False),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("token", name="accesstoken_pkey"),
        _user_foreign_key("accesstoken"),
    )
    op.create_index("ix_accesstoken_created_at", "accesstoken", ["created_at"])
    op.create_index("ix_accesstoken_user_id", "accesstoken", ["user_id"])


def create_one_time_token() -> None:
    table = "doorkeeper_one_time_token"
    op.create_table(
        table,
        sa.Column("digest", sa.String(43), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("user_id", guid(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("expires_at", timestamp(), nullable=False),
        sa.Column("used_at", timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("digest", name=f"{table}_pkey"),
        _user_foreign_key(table),
    )
    op.create_index(f"ix_{table}_expires_at", table, ["expires_at"])
    op.create_index(f"ix_{table}_user_id", table, ["user_id"])


TABLES: dict[str, Callable[[], None]] = {
    "user": create_user,
    "oauth_account": create_oauth_account,
    "accesstoken": create_accesstoken,
    "doorkeeper_one_time_token": create_one_time_token,
}
"""Doorkeeper's tables, in creation order (`user` first: the others refer to it)."""


def create_missing(existing: set[str]) -> None:
    """Create the tables of `TABLES` not in `existing`."""
    for name, create in TABLES.items():
        if name not in existing:
            create()
