"""Doorkeeper's shipped Alembic migrations (`doorkeeper db upgrade`), and their errors.

The first revision creates Doorkeeper's tables, or adopts an existing FastAPI Users
database in place; `adopt_app_tables` adopts an app's own tables (named by its models)
instead. See `doorkeeper.migrations.api` and docs/adapter.md.
"""

from doorkeeper.db.sqlalchemy.autogenerate import register as _register_autogenerate
from doorkeeper.migrations.api import (
    VERSION_TABLE,
    adopt_app_tables,
    adopt_app_tables_async,
    current,
    current_async,
    downgrade,
    downgrade_async,
    history,
    upgrade,
    upgrade_async,
)
from doorkeeper.migrations.errors import (
    AdoptionConflictError,
    AdoptionError,
    DowngradeRefusedError,
    MigrationError,
)

_register_autogenerate()  # an app's own autogenerate renders Doorkeeper's types right

__all__ = [
    "VERSION_TABLE",
    "AdoptionConflictError",
    "AdoptionError",
    "DowngradeRefusedError",
    "MigrationError",
    "adopt_app_tables",
    "adopt_app_tables_async",
    "current",
    "current_async",
    "downgrade",
    "downgrade_async",
    "history",
    "upgrade",
    "upgrade_async",
]
