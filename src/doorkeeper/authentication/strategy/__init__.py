"""Strategies: how tokens are issued, checked and ended."""

import contextlib

from doorkeeper.authentication.strategy.base import (
    Strategy,
    StrategyDestroyNotSupportedError,
    destroy_token_id,
    get_token_id,
    write_session_token,
)
from doorkeeper.authentication.strategy.db import (
    AP,
    AccessTokenDatabase,
    AccessTokenProtocol,
    DatabaseStrategy,
)
from doorkeeper.authentication.strategy.jwt import InsecureSecretWarning, JWTStrategy

with contextlib.suppress(ImportError):  # the `redis` extra may not be installed
    from doorkeeper.authentication.strategy.redis import RedisStrategy

__all__ = [
    "AP",
    "AccessTokenDatabase",
    "AccessTokenProtocol",
    "DatabaseStrategy",
    "InsecureSecretWarning",
    "JWTStrategy",
    "RedisStrategy",
    "Strategy",
    "StrategyDestroyNotSupportedError",
    "destroy_token_id",
    "get_token_id",
    "write_session_token",
]
