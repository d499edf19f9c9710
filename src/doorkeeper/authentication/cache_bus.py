"""Redis pub/sub carrying "forget this user" between the app's processes.

Each process subscribes to one channel; a process that changes a user publishes the
user's id there after its change is committed. While the subscription is not
confirmed, or after it breaks, the owner is told (`on_reset`) and must not answer from
its cache: an invalidation may have been missed. A subscription that stays silent for
`DEAD_AFTER_SECONDS` (no reply to our pings: a half-open connection) counts as broken.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the `redis` extra
    import redis.asyncio

logger = logging.getLogger("doorkeeper.authentication")

PING_EVERY_SECONDS = 3.0
DEAD_AFTER_SECONDS = 10.0
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


class RedisInvalidationBus:
    """:param redis: The app's asyncio Redis client (a connection of its pool is held
        for the subscription).
    :param channel: The channel every process of the app shares.
    :param on_message: Called with each user id published by any process.
    :param on_reset: Called whenever the subscription starts or stops being trusted.
    """

    def __init__(
        self,
        redis: "redis.asyncio.Redis",
        channel: str,
        on_message: Callable[[str], None],
        on_reset: Callable[[], None],
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.on_message = on_message
        self.on_reset = on_reset
        self.ready = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def ensure_started(self) -> bool:
        """Start listening in this event loop if not yet; whether the subscription is
        confirmed and alive (only then may the cache answer)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self.ready = False
            self._loop = loop
            self._task = loop.create_task(self._run(), name="doorkeeper-auth-cache-bus")
        return self.ready

    async def publish(self, user_id: str) -> None:
        try:
            await self.redis.publish(self.channel, user_id)
        except Exception as error:
            logger.warning(
                "Could not publish an authentication cache invalidation (%s): other "
                "processes keep their cached answer for this user until it expires",
                type(error).__name__,
            )

    async def aclose(self) -> None:
        task, self._task = self._task, None
        self.ready = False
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning(
                    "The authentication cache lost its invalidation channel (%s); "
                    "answers are read from storage until it is back",
                    type(error).__name__,
                )
            finally:
                self._untrust()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _untrust(self) -> None:
        self.ready = False
        self.on_reset()

    async def _listen(self) -> None:
        pubsub: Any = self.redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            heard = pinged = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=1.0)
                now = time.monotonic()
                if message is not None:
                    heard = now
                    self._handle(message)
                if now - heard > DEAD_AFTER_SECONDS:
                    raise ConnectionError("no answer on the invalidation channel")
                if now - pinged >= PING_EVERY_SECONDS:
                    pinged = now
                    await pubsub.ping()
        finally:
            try:
                await pubsub.aclose()
            except Exception:  # the connection is broken already
                logger.debug("Closing the invalidation subscription failed", exc_info=True)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self.on_reset()  # whatever was cached before we listened is suspect
            self.ready = True
        elif kind == "message":
            data = message.get("data")
            if isinstance(data, bytes):
                data = data.decode("utf-8", "replace")
            if isinstance(data, str):
                self.on_message(data)
