"""Login sessions and refresh tokens.

Revision ID: dk0002
Revises: dk0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from doorkeeper.migrations.initial_schema import guid, timestamp

__all__ = ["downgrade", "upgrade"]

revision = "dk0002"
down_revision: str | None = "dk0001"
branch_labels: str | None = None
depends_on: str | None = None

SESSION = "doorkeeper_session"
REFRESH_TOKEN = "doorkeeper_refresh_token"  # noqa: S105 - a table name


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if SESSION not in existing:  # create_tables() may have made it already
        op.create_table(
            SESSION,
            sa.Column("user_id", guid(), nullable=False),
            sa.Column("id", sa.String(43), nullable=False),
            sa.Column("backend", sa.String(64), nullable=False),
            sa.Column("created_at", timestamp(), nullable=False),
            sa.Column("last_seen_at", timestamp(), nullable=False),
            sa.Column("expires_at", timestamp(), nullable=False),
            sa.Column("ip_address", sa.String(45), nullable=True),
            sa.Column("user_agent", sa.String(255), nullable=True),
            sa.Column("access_token_id", sa.String(64), nullable=True),
            sa.Column("revoked_at", timestamp(), nullable=True),
            sa.PrimaryKeyConstraint("id", name=f"{SESSION}_pkey"),
            sa.ForeignKeyConstraint(
                ["user_id"], ["user.id"], name=f"{SESSION}_user_id_fkey", ondelete="cascade"
            ),
        )
        op.create_index(f"ix_{SESSION}_user_id", SESSION, ["user_id"])
        op.create_index(f"ix_{SESSION}_access_token_id", SESSION, ["access_token_id"])
    if REFRESH_TOKEN not in existing:
        op.create_table(
            REFRESH_TOKEN,
            sa.Column("digest", sa.String(43), nullable=False),
            sa.Column("created_at", timestamp(), nullable=False),
            sa.Column("expires_at", timestamp(), nullable=False),
            sa.Column("used_at", timestamp(), nullable=True),
            sa.Column("session_id", sa.String(43), nullable=False),
            sa.PrimaryKeyConstraint("digest", name=f"{REFRESH_TOKEN}_pkey"),
            sa.ForeignKeyConstraint(
                ["session_id"],
                [f"{SESSION}.id"],
                name=f"{REFRESH_TOKEN}_session_id_fkey",
                ondelete="cascade",
            ),
        )
        op.create_index(f"ix_{REFRESH_TOKEN}_session_id", REFRESH_TOKEN, ["session_id"])


def downgrade() -> None:
    op.drop_table(REFRESH_TOKEN)
    op.drop_table(SESSION)
