"""Social sign-in: single-use keys (spent OAuth states, one-time codes), and provider
tokens in `TEXT` columns (they are stored encrypted, and some providers' are long).

Revision ID: dk0004
Revises: dk0003
Create Date: 2026-12-02
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from doorkeeper.migrations.initial_schema import timestamp

__all__ = ["downgrade", "upgrade"]

revision = "dk0004"
down_revision: str | None = "dk0003"
branch_labels: str | None = None
depends_on: str | None = None

SINGLE_USE = "doorkeeper_single_use"
OAUTH_ACCOUNT = "oauth_account"
TOKEN_LENGTH = 1024  # FastAPI Users' columns


def exact_string(length: int) -> sa.types.TypeEngine[Any]:
    """Compared byte for byte: ASCII with a binary collation on MySQL/MariaDB."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def _token_columns(new: sa.types.TypeEngine[Any], old: sa.types.TypeEngine[Any]) -> None:
    with op.batch_alter_table(OAUTH_ACCOUNT) as batch:
        batch.alter_column("access_token", existing_type=old, type_=new, existing_nullable=False)
        batch.alter_column("refresh_token", existing_type=old, type_=new, existing_nullable=True)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if SINGLE_USE not in existing:  # create_tables() may have made it already
        op.create_table(
            SINGLE_USE,
            sa.Column("key", exact_string(64), nullable=False),
            sa.Column("value", sa.String(1024), nullable=True),
            sa.Column("expires_at", timestamp(), nullable=False),
            sa.Column("used_at", timestamp(), nullable=True),
            sa.PrimaryKeyConstraint("key", name=f"{SINGLE_USE}_pkey"),
        )
        op.create_index(f"ix_{SINGLE_USE}_expires_at", SINGLE_USE, ["expires_at"])
    _token_columns(sa.Text(), sa.String(TOKEN_LENGTH))


def downgrade() -> None:
    _token_columns(sa.String(TOKEN_LENGTH), sa.Text())
    op.drop_table(SINGLE_USE)
