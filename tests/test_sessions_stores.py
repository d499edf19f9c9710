"""The session stores and the session service through their own API: the cases the
HTTP tests of tests/test_sessions.py do not reach (bytes from Redis, unknown ids, a
session revoked between the use of a refresh token and its rotation...)."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.authentication import BearerTransport, CookieTransport
from doorkeeper.authentication.backend import sibling_path
from doorkeeper.authentication.sessions import SessionService
from doorkeeper.authentication.transport.refresh import refresh_cookie_name, with_refresh_token
from doorkeeper.sessions.records import RefreshTokenRecord, RefreshUseStatus, SessionRecord
from doorkeeper.sessions.redis import RedisSessionStore
from doorkeeper.sessions.sqlalchemy import SQLAlchemySessionStore
from tests.models import RefreshToken, Session, User
from tests.services import REDIS_URL

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def record(user_id: str, session_id: str = "s1", **changes: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "id": session_id,
        "user_id": user_id,
        "backend": "jwt",
        "created_at": NOW,
        "last_seen_at": NOW,
        "expires_at": NOW + timedelta(days=1),
        "access_token_id": f"access-{session_id}",
    }
    values.update(changes)
    return SessionRecord(**values)


def refresh_record(session_id: str, digest: str, **changes: Any) -> RefreshTokenRecord:
    values: dict[str, Any] = {
        "digest": digest,
        "session_id": session_id,
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=1),
    }
    values.update(changes)
    return RefreshTokenRecord(**values)


@pytest.fixture
async def raw_redis(redis: Any) -> AsyncIterator[Any]:
    """A client without `decode_responses`: Redis answers come back as bytes."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(REDIS_URL)
    client.test_prefix = redis.test_prefix
    yield client
    await client.aclose()


@pytest.fixture(params=["sql", "redis-text", "redis-bytes"])
def store(request: pytest.FixtureRequest, session_maker: async_sessionmaker[AsyncSession]) -> Any:
    if request.param == "sql":
        return SQLAlchemySessionStore(session_maker, Session, RefreshToken, User)
    client = request.getfixturevalue("redis" if request.param == "redis-text" else "raw_redis")
    return RedisSessionStore(client, key_prefix=client.test_prefix)


@pytest.fixture
async def user_id(user: User) -> str:
    return str(user.id)


async def test_unknown_ids_are_none_or_empty(store: Any, user_id: str) -> None:
    assert await store.get("nope") is None
    assert await store.get_with_user("nope") is None
    assert await store.find_by_access_token("nope") is None
    assert await store.list_for_user(user_id) == []
    assert await store.revoke("nope", NOW) is None
    assert await store.revoke_all(user_id, NOW) == []
    assert (await store.use_refresh_token("nope", NOW)).status is RefreshUseStatus.INVALID
    assert await store.rotate("nope", NOW, "a", None) is False


async def test_create_find_list_revoke_and_rotate(store: Any, user_id: str) -> None:
    await store.create(record(user_id, "s1"), refresh_record("s1", "d1"))
    await store.create(record(user_id, "s2", created_at=NOW + timedelta(seconds=1)), None)
    assert (await store.find_by_access_token("access-s1")).id == "s1"
    assert [s.id for s in await store.list_for_user(user_id)] == ["s2", "s1"]
    found = await store.get_with_user("s1")
    assert found is not None and found[0].user_id == user_id

    use = await store.use_refresh_token("d1", NOW)
    assert (use.status, use.session_id) == (RefreshUseStatus.OK, "s1")
    assert (await store.use_refresh_token("d1", NOW)).status is RefreshUseStatus.REUSED
    assert await store.rotate("s1", NOW, None, refresh_record("s1", "d2")) is True
    assert (await store.get("s1")).access_token_id is None

    ended = await store.revoke_all(user_id, NOW, except_session_id="s2")
    assert [s.id for s in ended] == ["s1"]
    assert await store.rotate("s1", NOW, "a", None) is False  # revoked meanwhile
    assert (await store.revoke("s1", NOW)).revoked_at is not None  # as it was: revoked
    assert (await store.get("s2")).revoked_at is None


async def test_an_expired_refresh_token_is_told_apart(store: Any, user_id: str) -> None:
    await store.create(record(user_id, "s3"), refresh_record("s3", "d3"))
    later = NOW + timedelta(days=2)
    assert (await store.use_refresh_token("d3", later)).status is RefreshUseStatus.EXPIRED


async def test_redis_store_skips_values_that_are_not_sessions(redis: Any, user_id: str) -> None:
    store = RedisSessionStore(redis, key_prefix=redis.test_prefix)
    await redis.set(f"{redis.test_prefix}s:bad", "not json")
    await redis.zadd(f"{redis.test_prefix}u:{user_id}", {"bad": 1, "gone": 2})
    await redis.set(f"{redis.test_prefix}r:odd", "garbage")
    assert await store.get("bad") is None
    assert await store.list_for_user(user_id) == []
    assert (await store.use_refresh_token("odd", NOW)).status is RefreshUseStatus.INVALID


async def test_sql_store_without_the_user_model_loads_the_session_alone(
    session_maker: async_sessionmaker[AsyncSession], user_id: str
) -> None:
    store = SQLAlchemySessionStore(session_maker, Session, RefreshToken)
    await store.create(record(user_id, "s4"), None)
    found = await store.get_with_user("s4")
    assert found is not None and found[1] is None
    assert await store.get_with_user("nope") is None


async def test_the_service_refuses_bad_timeouts() -> None:
    store: Any = object()
    with pytest.raises(ValueError, match="absolute"):
        SessionService(store, absolute_lifetime_seconds=0)
    with pytest.raises(ValueError, match="idle"):
        SessionService(store, idle_timeout_seconds=0)
    assert SessionService(store, idle_timeout_seconds=None).idle_timeout is None


async def test_a_session_of_another_user_or_token_is_refused(
    session_maker: async_sessionmaker[AsyncSession], user_id: str, user_manager: Any
) -> None:
    service = SessionService(SQLAlchemySessionStore(session_maker, Session, RefreshToken))
    await service.store.create(record(user_id, "s5"), None)
    assert await service.check("s5", user_id, "access-s5", user_manager) is not None
    assert await service.check("s5", str(uuid.uuid4()), "access-s5", user_manager) is None
    assert await service.check("s5", user_id, "other", user_manager) is None
    assert await service.check("nope", user_id, "access-s5", user_manager) is None
    started = await service.start(
        await user_manager.get(uuid.UUID(user_id)),
        session_id="s6",
        backend="jwt",
        access_token_id="x",
    )
    assert started is None  # no refresh token asked for
    assert (await service.store.get("s6")).ip_address is None  # no request: no client


async def test_a_deleted_user_has_no_session(
    session_maker: async_sessionmaker[AsyncSession], user_manager: Any, redis: Any
) -> None:
    service = SessionService(RedisSessionStore(redis, key_prefix=redis.test_prefix))
    ghost = str(uuid.uuid4())
    await service.store.create(record(ghost, "s7"), None)
    assert await service.check("s7", ghost, "access-s7", user_manager) is None


def test_refresh_cookie_names_and_paths() -> None:
    host = CookieTransport(cookie_name="__Host-auth")
    assert refresh_cookie_name(host) == "__Secure-auth_refresh"
    assert refresh_cookie_name(CookieTransport(cookie_name="auth")) == "auth_refresh"
    assert sibling_path(None, "refresh", "/") == "/"


async def test_a_custom_login_response_is_left_as_it_is() -> None:
    response = Response(b"<html>", media_type="text/html")
    assert with_refresh_token(BearerTransport("t"), response, "r", path="/", max_age=1) is response
    listed = Response(b"[1, 2]", media_type="application/json")
    assert with_refresh_token(BearerTransport("t"), listed, "r", path="/", max_age=1) is listed


async def test_sibling_path_honours_the_root_path() -> None:
    seen: list[str] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        seen.append(sibling_path(Request(scope), "refresh", "/"))
        await Response(b"")(scope, receive, send)

    transport = httpx.ASGITransport(app=asgi, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/auth/jwt/login")
    assert seen == ["/api/auth/jwt/refresh"]
