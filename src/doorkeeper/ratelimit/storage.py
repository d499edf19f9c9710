"""Where the counters live: Redis when configured (every app instance shares them),
the process's memory otherwise."""

from typing import Any

from limits.aio.storage import MemoryStorage, RedisStorage, Storage

__all__ = ["close_storage", "make_storage"]


def _limits_uri(redis_url: str) -> str:
    """`redis_url` as `limits` expects it (it reads `unix://` as a Valkey URL)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def make_storage(redis_url: str | None, key_prefix: str, timeout: float) -> Storage:
    """A Redis storage on `redis_url` (no connection is made yet), or a memory one.

    `timeout` bounds connecting and each command, so that an unreachable Redis answers
    quickly (with 503) instead of holding requests.
    """
    if redis_url is None:
        return MemoryStorage()
    return RedisStorage(
        _limits_uri(redis_url),
        implementation="redispy",
        key_prefix=key_prefix,
        wrap_exceptions=True,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )


async def close_storage(storage: Storage) -> None:
    """Close the Redis connection pool of `storage`, if it has one."""
    client: Any = getattr(getattr(storage, "bridge", None), "storage", None)
    if client is not None:
        await client.aclose()
