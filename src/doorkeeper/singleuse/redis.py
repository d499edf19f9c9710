"""Single-use keys in Redis: shared by every instance of the app.

`claim` is one `SET ... NX`, `take` one `GETDEL`: each is atomic, so of two concurrent
callers exactly one wins. Keys expire with what they stand for.
"""

import math
import time
from datetime import datetime, timezone
from typing import Any

from doorkeeper.singleuse.store import SingleUseStore

__all__ = ["DEFAULT_KEY_PREFIX", "RedisSingleUseStore"]

DEFAULT_KEY_PREFIX = "doorkeeper:single-use:"


def _milliseconds_until(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return math.ceil((moment.timestamp() - time.time()) * 1000)


class RedisSingleUseStore(SingleUseStore):
    """:param redis: a `redis.asyncio` client (Redis 6.2 or later, for `GETDEL`).
    :param key_prefix: the namespace of the keys."""

    def __init__(self, redis: Any, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.redis = redis
        self.key_prefix = key_prefix

    async def claim(self, key: str, expires_at: datetime) -> bool:
        lifetime = max(1, _milliseconds_until(expires_at))
        created = await self.redis.set(self.key_prefix + key, "1", nx=True, px=lifetime)
        return bool(created)

    async def put(self, key: str, value: str, expires_at: datetime) -> None:
        lifetime = _milliseconds_until(expires_at)
        if lifetime > 0:  # a value already past its end is never kept
            await self.redis.set(self.key_prefix + key, value, px=lifetime)

    async def take(self, key: str) -> str | None:
        value = await self.redis.getdel(self.key_prefix + key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
