"""Doorkeeper: ready-to-use, secure user management for FastAPI.

The public API keeps FastAPI Users' shape: an app migrates by renaming its imports
from `fastapi_users` to `doorkeeper`.
"""

__version__ = "0.1.0"

from doorkeeper import models, schemas
from doorkeeper.exceptions import InvalidID, InvalidPasswordException
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


def __getattr__(name: str) -> object:
    # FastAPIUsers sits on the top floor; importing it lazily keeps `import doorkeeper`
    # from pulling in the routers (and lets lower floors import this package).
    if name == "FastAPIUsers":
        from doorkeeper.fastapi_users import FastAPIUsers

        return FastAPIUsers
    raise AttributeError(f"module 'doorkeeper' has no attribute {name!r}")
