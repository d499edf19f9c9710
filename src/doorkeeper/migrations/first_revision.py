"""What revision dk0001 does: create Doorkeeper's tables, or take over existing ones.

* No `user` table: create the four tables, unless a FastAPI Users user table has
  another name (`users`): that is refused, pointing at `doorkeeper db upgrade --metadata`.
* FastAPI Users' `user` table (no `email_normalized`): check, then adopt it in place
  (`doorkeeper.migrations.adoption`), and create the tables it lacks.
* Doorkeeper's own tables (made by `create_tables()`): create the tables it lacks.

Taking over existing tables is recorded (`adoption.MARKER_TABLE`); the downgrade then
refuses to drop them.
"""

import sqlalchemy as sa
from alembic import op

from doorkeeper.migrations import adoption, initial_schema
from doorkeeper.migrations.errors import DowngradeRefusedError

__all__ = ["REVISION", "downgrade", "upgrade"]

REVISION = "dk0001"


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table("user"):
        adoption.refuse_other_user_tables(bind)  # never a second user table
        initial_schema.create_missing(set(inspector.get_table_names()))
        return
    if adoption.needs_adoption(bind):
        config = op.get_context().config
        if config is None or not config.attributes.get(adoption.CHECKED):
            adoption.check_fastapi_users(bind)  # raises before anything changes
        adoption.adopt_fastapi_users(bind)
        source = "fastapi-users"
    else:
        source = "doorkeeper"  # made by create_tables() or Doorkeeper's mixins
    initial_schema.create_missing(set(sa.inspect(bind).get_table_names()))
    adoption.mark_adopted(source)


def downgrade() -> None:
    bind = op.get_bind()
    source = adoption.adopted_from(bind)
    if source is not None:
        raise DowngradeRefusedError(
            f"Cannot downgrade below {REVISION}: its tables existed before Doorkeeper's "
            f"migrations ({source}), and downgrading would drop them with their users. "
            "Restore a backup taken before the first `doorkeeper db upgrade` instead."
        )
    for table in reversed(initial_schema.TABLES):
        op.drop_table(table)
