"""Storage adapters: the protocol, and the SQLAlchemy implementation."""

from doorkeeper.db.base import BaseUserDatabase, UserDatabaseDependency
from doorkeeper.db.sqlalchemy import (
    SQLAlchemyBaseOAuthAccountTable,
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTable,
    SQLAlchemyBaseUserTableUUID,
    SQLAlchemyUserDatabase,
)

__all__ = [
    "BaseUserDatabase",
    "SQLAlchemyBaseOAuthAccountTable",
    "SQLAlchemyBaseOAuthAccountTableUUID",
    "SQLAlchemyBaseUserTable",
    "SQLAlchemyBaseUserTableUUID",
    "SQLAlchemyUserDatabase",
    "UserDatabaseDependency",
]
