"""Doorkeeper: ready-to-use, secure user management for FastAPI.

The public API keeps FastAPI Users' shape: an app migrates by renaming its imports
from `fastapi_users` to `doorkeeper`.
"""

__version__ = "0.1.0"

from doorkeeper import models, schemas
from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.doorkeeper import Doorkeeper
from doorkeeper.exceptions import InvalidID, InvalidPasswordException
from doorkeeper.fastapi_users import FastAPIUsers
from doorkeeper.manager import BaseUserManager, IntegerIDMixin, UUIDIDMixin
from doorkeeper.settings import DoorkeeperSettings

__all__ = [
    "BaseUserManager",
    "Doorkeeper",
    "DoorkeeperSettings",
    "FastAPIUsers",
    "IntegerIDMixin",
    "InvalidID",
    "InvalidPasswordException",
    "SQLAlchemyAdapter",
    "UUIDIDMixin",
    "models",
    "schemas",
]
