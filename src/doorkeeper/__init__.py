"""Doorkeeper: ready-to-use, secure user management for FastAPI.

The public API keeps FastAPI Users' shape: an app migrates by renaming its imports
from `fastapi_users` to `doorkeeper`.
"""

__version__ = "0.1.0"

from doorkeeper import models, schemas
from doorkeeper.exceptions import InvalidID, InvalidPasswordException
from doorkeeper.fastapi_users import FastAPIUsers
from doorkeeper.manager import BaseUserManager, IntegerIDMixin, UUIDIDMixin

__all__ = [
    "BaseUserManager",
    "FastAPIUsers",
    "IntegerIDMixin",
    "InvalidID",
    "InvalidPasswordException",
    "UUIDIDMixin",
    "models",
    "schemas",
]
