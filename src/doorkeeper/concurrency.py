"""Running CPU-bound work (password hashing) off the event loop.

Hashes run in a dedicated pool of worker threads, as many as the CPUs this process may
use, so a burst of logins queues hashing instead of stalling other requests. On Linux
the pool's threads run at a lower scheduling priority (nice +10): when the event loop
thread has work, the kernel gives it the CPU first, so requests that do not hash keep
their latency while logins use every idle cycle. The pool is separate from the
thread pool FastAPI runs sync code in, which keeps its normal priority.
"""

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

HASHING_THREAD_NICENESS = 10
"""How much lower than the event loop the hashing threads are scheduled (Linux)."""

logger = logging.getLogger("doorkeeper")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def cpu_limit() -> int:
    """How many hashes may run at once: the CPUs this process may use."""
    affinity = getattr(os, "sched_getaffinity", None)  # absent on macOS and Windows
    count = len(affinity(0)) if affinity is not None else os.cpu_count()
    return max(1, count or 1)


def _lower_thread_priority() -> None:
    """Make the calling thread (only it: Linux schedules threads one by one) yield to
    the event loop. Where that is not possible, hashing simply runs at normal priority."""
    setpriority = getattr(os, "setpriority", None)
    native_id = threading.get_native_id()
    if setpriority is None or native_id is None:  # pragma: no cover - not Linux
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, native_id)
        setpriority(os.PRIO_PROCESS, native_id, current + HASHING_THREAD_NICENESS)
    except OSError as error:  # pragma: no cover - a sandbox forbidding it
        logger.debug("Could not lower the hashing thread's priority: %s", error)


def get_cpu_executor() -> ThreadPoolExecutor:
    """The process-wide hashing pool, created on first use."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=cpu_limit(),
                thread_name_prefix="doorkeeper-hash",
                initializer=_lower_thread_priority,
            )
        return _executor


async def run_cpu_bound(func: Callable[..., T], *args: object) -> T:
    """Run `func(*args)` in the hashing pool and wait for it without blocking the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(get_cpu_executor(), functools.partial(func, *args))
