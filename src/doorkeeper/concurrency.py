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
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


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
