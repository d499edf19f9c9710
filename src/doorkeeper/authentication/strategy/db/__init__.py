"""Database strategy: opaque tokens stored (hashed) in a table."""

from doorkeeper.authentication.strategy.db.adapter import AccessTokenDatabase
from doorkeeper.authentication.strategy.db.models import AP, AccessTokenProtocol
from doorkeeper.authentication.strategy.db.strategy import DatabaseStrategy

__all__ = ["AP", "AccessTokenDatabase", "AccessTokenProtocol", "DatabaseStrategy"]
