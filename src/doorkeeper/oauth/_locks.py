"""An asyncio lock per event loop: a client built at import time may serve several loops
(one per test, or per worker thread), and an asyncio.Lock belongs to a single loop."""

import asyncio
import weakref


class PerLoopLock:
    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock
