"""Doorkeeper's shipped Alembic migrations (`doorkeeper db upgrade`), and their errors.

The first revision creates Doorkeeper's tables, or adopts an existing FastAPI Users
database in place. See `doorkeeper.migrations.api` and docs/adapter.md.
"""

from doorkeeper.migrations.api import (
    VERSION_TABLE,
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

__all__ = [
    "VERSION_TABLE",
    "AdoptionConflictError",
    "AdoptionError",
    "DowngradeRefusedError",
    "MigrationError",
    "current",
    "current_async",
    "downgrade",
    "downgrade_async",
    "history",
    "upgrade",
    "upgrade_async",
]
