"""Doorkeeper's tables: create them, or adopt an existing FastAPI Users database.

Revision ID: dk0001
Revises:
Create Date: 2025-01-01
"""

from doorkeeper.migrations.first_revision import REVISION, downgrade, upgrade

__all__ = ["downgrade", "upgrade"]

revision = REVISION
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None
