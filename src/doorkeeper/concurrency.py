"""Running CPU-bound work (password hashing) off the event loop.

Work goes to a worker thread through a capacity limiter sized to the CPU count, so a
burst of logins queues hashing instead of stalling every other request. Limiters are
kept per event loop (an anyio limiter belongs to the loop that created it).
"""

import asyncio
import os
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")

_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter]" = (
    weakref.WeakKeyDictionary()
)


def cpu_limit() -> int:
    """How many hashes may run at once: the CPUs this process may use."""
    affinity = getattr(os, "sched_getaffinity", None)  # absent on macOS and Windows
    count = len(affinity(0)) if affinity is not None else os.cpu_count()
    return max(1, count or 1)


def get_cpu_limiter() -> anyio.CapacityLimiter:
    """The limiter of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = anyio.CapacityLimiter(cpu_limit())
        _limiters[loop] = limiter
    return limiter


async def run_cpu_bound(func: Callable[..., T], *args: object) -> T:
    """Run `func(*args)` in a worker thread, bounded by the CPU limiter."""
    return await anyio.to_thread.run_sync(func, *args, limiter=get_cpu_limiter())
