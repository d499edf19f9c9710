"""Roles, the permissions they grant and the users holding them.

Revision ID: dk0003
Revises: dk0002
Create Date: 2026-12-01
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from doorkeeper.migrations.initial_schema import guid, timestamp

__all__ = ["downgrade", "upgrade"]

revision = "dk0003"
down_revision: str | None = "dk0002"
branch_labels: str | None = None
depends_on: str | None = None

ROLE = "doorkeeper_role"
ROLE_PERMISSION = "doorkeeper_role_permission"
USER_ROLE = "doorkeeper_user_role"


def exact_string(length: int) -> sa.types.TypeEngine[Any]:
    """Compared byte for byte: ASCII with a binary collation on MySQL/MariaDB."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def _role_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["role_id"], [f"{ROLE}.id"], name=f"{table}_role_id_fkey", ondelete="cascade"
    )


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if ROLE not in existing:  # create_tables() may have made them already
        op.create_table(
            ROLE,
            sa.Column("id", guid(), nullable=False),
            sa.Column("name", exact_string(64), nullable=False),
            sa.Column("created_at", timestamp(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"{ROLE}_pkey"),
        )
        op.create_index(f"ix_{ROLE}_name", ROLE, ["name"], unique=True)
    if ROLE_PERMISSION not in existing:
        op.create_table(
            ROLE_PERMISSION,
            sa.Column("role_id", guid(), nullable=False),
            sa.Column("permission", exact_string(128), nullable=False),
            sa.PrimaryKeyConstraint("role_id", "permission", name=f"{ROLE_PERMISSION}_pkey"),
            _role_foreign_key(ROLE_PERMISSION),
        )
    if USER_ROLE not in existing:
        op.create_table(
            USER_ROLE,
            sa.Column("user_id", guid(), nullable=False),
            sa.Column("role_id", guid(), nullable=False),
            sa.Column("created_at", timestamp(), nullable=False),
            sa.PrimaryKeyConstraint("user_id", "role_id", name=f"{USER_ROLE}_pkey"),
            sa.ForeignKeyConstraint(
                ["user_id"], ["user.id"], name=f"{USER_ROLE}_user_id_fkey", ondelete="cascade"
            ),
            _role_foreign_key(USER_ROLE),
        )
        op.create_index(f"ix_{USER_ROLE}_role_id", USER_ROLE, ["role_id"])


def downgrade() -> None:
    op.drop_table(USER_ROLE)
    op.drop_table(ROLE_PERMISSION)
    op.drop_table(ROLE)
