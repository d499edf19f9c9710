"""Library changes tried from the outside, before they are made in src/doorkeeper.

`BENCH_EXPERIMENTS=a,b` (Doorkeeper's server only; `profiling.py --experiment a`)
applies them to bench_app's objects at import. They are never part of the comparison of
`run.py`: they show what a recommended change would buy, measured the same way.

* `nice-hash-threads`: password hashing in a dedicated pool of `cpu_limit()` threads
  running at the lowest CPU priority (nice 19), instead of anyio's shared worker threads:
  the event loop thread then preempts hashing whenever it has a request to serve.
* `user-cache`: `BaseUserManager.get` answers from a per-process cache of 5 seconds
  (the upper bound of what skipping the database per request buys; revocation would
  then take effect after up to 5 seconds unless the cache is invalidated). Doorkeeper's
  own `AuthCache` is measured by `run.py` itself (the "Doorkeeper + AuthCache" rows).

(`async-strategy`, the strategy getters called without FastAPI's thread pool, is gone:
bench_app's getters are `async def` for both libraries since.)
"""

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _lower_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def nice_hash_threads() -> None:
    import doorkeeper.manager
    from doorkeeper.concurrency import cpu_limit

    executor = ThreadPoolExecutor(
        max_workers=cpu_limit(), thread_name_prefix="hash", initializer=_lower_priority
    )

    async def run_cpu_bound(func: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, func, *args)

    doorkeeper.manager.run_cpu_bound = run_cpu_bound  # type: ignore[assignment]


def user_cache(app_module: Any, ttl: float = 5.0) -> None:
    manager_class = app_module.UserManager
    original = manager_class.get
    cache: dict[Any, tuple[float, Any]] = {}

    async def get(self: Any, id: Any) -> Any:
        hit = cache.get(id)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        user = await original(self, id)
        cache[id] = (now + ttl, user)
        return user

    manager_class.get = get


def apply(app_module: Any, names: str) -> None:
    for name in filter(None, (part.strip() for part in names.split(","))):
        if name == "nice-hash-threads":
            nice_hash_threads()
        elif name == "user-cache":
            user_cache(app_module)
        else:
            raise RuntimeError(f"unknown experiment {name!r}")
