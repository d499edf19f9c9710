"""The routers: login/logout, register, verify, reset password, users and OAuth."""

import contextlib

from doorkeeper.router.auth import get_auth_router
from doorkeeper.router.common import ErrorCode
from doorkeeper.router.register import get_register_router
from doorkeeper.router.reset import get_reset_password_router
from doorkeeper.router.users import get_users_router
from doorkeeper.router.verify import get_verify_router

with contextlib.suppress(ImportError):  # the `oauth` extra (httpx-oauth) may not be installed
    from doorkeeper.router.oauth import get_oauth_associate_router, get_oauth_router

__all__ = [
    "ErrorCode",
    "get_auth_router",
    "get_oauth_associate_router",
    "get_oauth_router",
    "get_register_router",
    "get_reset_password_router",
    "get_users_router",
    "get_verify_router",
]
