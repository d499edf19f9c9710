"""Authentication: transports carry tokens, strategies issue and check them, backends
pair the two, and the authenticator resolves the current user over every backend."""

import contextlib

from doorkeeper.authentication.authenticator import Authenticator, DuplicateBackendNamesError
from doorkeeper.authentication.backend import AuthenticationBackend
from doorkeeper.authentication.cache import AuthCache
from doorkeeper.authentication.csrf import CSRFProtection
from doorkeeper.authentication.strategy import (
    InsecureSecretWarning,
    JWTStrategy,
    Strategy,
    StrategyDestroyNotSupportedError,
)

with contextlib.suppress(ImportError):  # the `redis` extra may not be installed
    from doorkeeper.authentication.strategy import RedisStrategy

from doorkeeper.authentication.transport import (
    BearerTransport,
    CookieTransport,
    Transport,
    TransportLogoutNotSupportedError,
)

__all__ = [
    "AuthCache",
    "AuthenticationBackend",
    "Authenticator",
    "BearerTransport",
    "CSRFProtection",
    "CookieTransport",
    "DuplicateBackendNamesError",
    "InsecureSecretWarning",
    "JWTStrategy",
    "RedisStrategy",
    "Strategy",
    "StrategyDestroyNotSupportedError",
    "Transport",
    "TransportLogoutNotSupportedError",
]
