"""The authentication cache across processes: invalidations over a real Redis channel,
and no answer from memory while that channel is not trusted."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from doorkeeper import invalidation
from doorkeeper.authentication import AuthCache, cache_bus
from tests.models import User
from tests.services import REDIS_URL
from tests.test_server import TCPProxy


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.02)


@pytest.fixture
def channel(redis: Any) -> str:
    return f"{redis.test_prefix}auth-cache"


@pytest.fixture
def user() -> User:
    """A user as if loaded from a database (these tests are about Redis only)."""
    loaded = User(
        id=uuid.uuid4(),
        email="bus@example.com",
        email_normalized="bus@example.com",
        hashed_password="x",
        is_active=True,
        is_superuser=False,
        is_verified=False,
        first_name=None,
        tokens_valid_after=None,
        tokens_valid_except=None,
    )
    set_committed_value(loaded, "oauth_accounts", [])
    make_transient_to_detached(loaded)
    return loaded


@pytest.fixture
async def cache(redis: Any, channel: str) -> AsyncIterator[AuthCache]:
    cache = AuthCache(ttl_seconds=30, redis=redis, channel=channel)
    yield cache
    await cache.aclose()


BACKEND = object()


async def test_nothing_is_answered_before_the_channel_is_confirmed(
    cache: AuthCache, user: User
) -> None:
    assert not cache.usable()  # subscribing has just started
    cache.put(BACKEND, "tok", user, None, None, cache.epoch)
    assert len(cache) == 0
    await until(cache.usable)
    cache.put(BACKEND, "tok", user, None, None, cache.epoch)
    assert cache.get(BACKEND, "tok", None) is not None


async def test_a_change_published_by_another_process_is_heard(
    cache: AuthCache, user: User, redis: Any, channel: str
) -> None:
    await until(cache.usable)
    cache.put(BACKEND, "tok", user, None, None, cache.epoch)
    await redis.publish(channel, "someone-else")
    await redis.publish(channel, str(user.id))
    await until(lambda: len(cache) == 0, timeout=5)


async def test_a_change_made_here_is_published(cache: AuthCache, user: User, channel: str) -> None:
    listener = redis.asyncio.from_url(REDIS_URL)  # bytes: as another client would read
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel)
    await until(cache.usable)
    cache.put(BACKEND, "tok", user, None, None, cache.epoch)
    await invalidation.user_changed(user.id)
    assert len(cache) == 0  # forgotten here at once
    received = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not received:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            received.append(message["data"])
    assert received == [str(user.id).encode()]
    await pubsub.aclose()
    await listener.aclose()


async def test_a_lost_channel_stops_the_cache_until_it_is_back(
    user: User, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_bus, "RETRY_FIRST_SECONDS", 0.05)
    proxy = TCPProxy("127.0.0.1", 6379)
    await proxy.open()
    client = redis.asyncio.from_url(f"redis://127.0.0.1:{proxy.port}")
    cache = AuthCache(ttl_seconds=30, redis=client, channel=channel)
    try:
        await until(cache.usable)
        cache.put(BACKEND, "tok", user, None, None, cache.epoch)
        assert len(cache) == 1
        await proxy.close()
        await until(lambda: not cache.usable())
        assert len(cache) == 0  # whatever it held may have missed an invalidation
        cache.put(BACKEND, "tok", user, None, None, cache.epoch)
        assert len(cache) == 0
        await proxy.open()
        await until(cache.usable)
        cache.put(BACKEND, "tok", user, None, None, cache.epoch)
        assert len(cache) == 1
    finally:
        await cache.aclose()
        await client.aclose()
        if proxy.server is not None:
            await proxy.close()


async def test_a_silent_channel_counts_as_lost(
    cache: AuthCache, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_bus, "PING_EVERY_SECONDS", 0.1)
    await until(cache.usable)
    cache.put(BACKEND, "tok", user, None, None, cache.epoch)
    # Pings keep a quiet channel trusted...
    await asyncio.sleep(1.3)
    assert cache.usable() and len(cache) == 1
    # ...and with no answer for too long, it is not.
    monkeypatch.setattr(cache_bus, "PING_EVERY_SECONDS", 1000.0)
    monkeypatch.setattr(cache_bus, "DEAD_AFTER_SECONDS", 0.2)
    await until(lambda: len(cache) == 0)


async def test_a_failed_publication_is_logged_not_raised(
    user: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.asyncio.from_url("redis://127.0.0.1:1")
    cache = AuthCache(ttl_seconds=30, redis=client, channel=f"nowhere-{uuid.uuid4().hex}")
    try:
        with caplog.at_level(logging.WARNING, logger="doorkeeper.authentication"):
            await cache.user_changed(str(user.id))
            assert not cache.usable()
            await asyncio.sleep(0.1)  # the subscription fails and is retried
        assert "Could not publish" in caplog.text
        assert "lost its invalidation channel" in caplog.text
    finally:
        await cache.aclose()
        await client.aclose()


async def test_a_failing_listener_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[str] = []

    class Broken:
        async def user_changed(self, user_id: str) -> None:
            raise RuntimeError("boom")

    class Good:
        async def user_changed(self, user_id: str) -> None:
            heard.append(user_id)

    broken, good = Broken(), Good()
    invalidation.add_listener(broken)
    invalidation.add_listener(good)
    try:
        assert invalidation.has_listeners()
        with caplog.at_level(logging.ERROR, logger="doorkeeper.authentication"):
            await invalidation.user_changed(42)
        assert heard == ["42"]
        assert "listener failed" in caplog.text
    finally:
        invalidation.remove_listener(broken)
        invalidation.remove_listener(good)


async def test_closing_stops_listening(cache: AuthCache) -> None:
    await until(cache.usable)
    await cache.aclose()
    assert cache.bus is not None and not cache.bus.ready
    await cache.aclose()  # twice is fine
    assert not invalidation.has_listeners() or cache not in list(invalidation._listeners)
