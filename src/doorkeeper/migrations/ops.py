"""Helpers for an app's own Alembic revisions (see docs/storage.md).

    from doorkeeper.migrations.ops import fill_email_normalized

    def upgrade() -> None:
        op.add_column("user", sa.Column("email_normalized", sa.String(320), nullable=True))
        fill_email_normalized("user")
        op.alter_column("user", "email_normalized", existing_type=sa.String(320),
                        nullable=False)
        op.create_index("ix_user_email_normalized", "user", ["email_normalized"], unique=True)

`alembic revision --autogenerate` writes these steps itself (`doorkeeper.db.sqlalchemy
.autogenerate`).
"""

import sqlalchemy as sa
from alembic import op

from doorkeeper.normalization import normalize_email

__all__ = ["BATCH_SIZE", "fill_email_normalized"]

BATCH_SIZE = 1000


def fill_email_normalized(
    table: str = "user", schema: str | None = None, batch_size: int = BATCH_SIZE
) -> int:
    """Set `email_normalized` of every row of `table` where it is empty, from `email`,
    with the normalization the application uses (IDNA domains, in Python: no SQL
    function does it). Runs in batches of `batch_size`, by id; returns the rows filled."""
    bind = op.get_bind()
    users = sa.table(
        table, sa.column("id"), sa.column("email"), sa.column("email_normalized"), schema=schema
    )
    update = (
        users.update()
        .where(users.c.id == sa.bindparam("user_id"))
        .values(email_normalized=sa.bindparam("normalized"))
    )
    filled = 0
    last = None
    while True:
        page = (
            sa.select(users.c.id, users.c.email)
            .where(users.c.email_normalized.is_(None))
            .order_by(users.c.id)
            .limit(batch_size)
        )
        if last is not None:
            page = page.where(users.c.id > last)
        rows = bind.execute(page).all()
        if not rows:
            return filled
        bind.execute(
            update, [{"user_id": id, "normalized": normalize_email(email)} for id, email in rows]
        )
        filled += len(rows)
        last = rows[-1][0]
