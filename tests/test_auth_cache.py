"""The opt-in authentication cache: answers from memory, revocation still at once.

Every test on SQLite, PostgreSQL and MariaDB goes through HTTP with the app of FastAPI
Users' documentation plus `auth_cache=`; the Redis channel tests use a real Redis.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.authentication import AuthCache
from doorkeeper.db import SQLAlchemyUserDatabase
from tests.apps import NEW_PASSWORD, PASSWORD, App, build_app, make_manager
from tests.models import OAuthAccount, User


@pytest.fixture
async def cache() -> AsyncIterator[AuthCache]:
    cache = AuthCache(ttl_seconds=30, single_process=True)
    yield cache
    await cache.aclose()


@pytest.fixture
def statements(session_maker: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = session_maker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def loaded_user(app: App, email: str) -> User:
    """A new user as a request would have loaded it (columns and relationships)."""
    await app.create_user(email)
    user = await app.get_user(email)
    assert user is not None
    return user


def make_app(
    session_maker: async_sessionmaker[AsyncSession],
    cache: AuthCache,
    strategy: str = "jwt",
    redis: Any = None,
    **kwargs: Any,
) -> App:
    if strategy == "redis" and redis is None:
        pytest.skip("the Redis strategy runs in its own test with the redis fixture")
    return build_app(session_maker, strategy=strategy, redis=redis, auth_cache=cache, **kwargs)


async def test_a_second_request_reads_nothing(
    session_maker: async_sessionmaker[AsyncSession],
    cache: AuthCache,
    statements: list[str],
) -> None:
    for strategy in ("jwt", "database"):
        app = make_app(session_maker, cache, strategy)
        async with app.client() as client:
            await app.create_user(f"{strategy}@example.com")
            token = await app.login(client, f"{strategy}@example.com")
            statements.clear()
            first = await client.get("/users/me", headers=app.auth(token))
            assert first.status_code == 200
            assert statements, "the first request reads storage"
            statements.clear()
            second = await client.get("/users/me", headers=app.auth(token))
            assert second.status_code == 200
            assert second.json() == first.json()
            assert statements == []


async def test_redis_strategy_answers_from_memory(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache, redis: Any
) -> None:
    app = make_app(session_maker, cache, "redis", redis)
    async with app.client() as client:
        await app.create_user("r@example.com")
        token = await app.login(client, "r@example.com")
        assert (await client.get("/users/me", headers=app.auth(token))).status_code == 200
        # Deleting the key behind Doorkeeper's back (not a Doorkeeper change) shows the
        # second answer came from memory...
        keys = [key async for key in redis.scan_iter(match=redis.test_prefix + "*")]
        await redis.delete(*keys)
        assert (await client.get("/users/me", headers=app.auth(token))).status_code == 200
        # ...and a fresh cache reads Redis again.
        cache.clear()
        assert (await client.get("/users/me", headers=app.auth(token))).status_code == 401


async def logout_ends_the_cached_token(app: App, cache: AuthCache) -> None:
    async with app.client() as client:
        await app.create_user("out@example.com")
        token = await app.login(client, "out@example.com")
        assert (await client.get("/users/me", headers=app.auth(token))).status_code == 200
        assert len(cache) == 1
        logout = await client.post(f"{app.prefix}/logout", headers=app.auth(token))
        assert logout.status_code in (200, 204)
        assert (await client.get("/users/me", headers=app.auth(token))).status_code == 401


@pytest.mark.parametrize("strategy", ["jwt", "database"])
async def test_logout_ends_the_cached_token_at_once(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache, strategy: str
) -> None:
    await logout_ends_the_cached_token(make_app(session_maker, cache, strategy), cache)


async def test_logout_ends_the_cached_redis_token_at_once(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache, redis: Any
) -> None:
    await logout_ends_the_cached_token(make_app(session_maker, cache, "redis", redis), cache)


async def test_password_change_deactivation_and_deletion_apply_at_once(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache)
    async with app.client() as client:
        await app.create_user("root@example.com", is_superuser=True)
        user = await app.create_user("u@example.com")
        root = app.auth(await app.login(client, "root@example.com"))
        other = app.auth(await app.login(client, "u@example.com"))
        mine = app.auth(await app.login(client, "u@example.com"))
        for headers in (other, mine):
            assert (await client.get("/users/me", headers=headers)).status_code == 200

        change = {"password": NEW_PASSWORD, "current_password": PASSWORD}
        assert (await client.patch("/users/me", json=change, headers=mine)).status_code == 200
        assert (await client.get("/users/me", headers=other)).status_code == 401
        assert (await client.get("/users/me", headers=mine)).status_code == 200

        deactivate = await client.patch(
            f"/users/{user.id}", json={"is_active": False}, headers=root
        )
        assert deactivate.status_code == 200
        assert (await client.get("/users/me", headers=mine)).status_code == 401

        assert (await client.delete(f"/users/{user.id}", headers=root)).status_code == 204
        assert (await client.get("/users/me", headers=mine)).status_code == 401


async def test_a_cached_user_can_be_changed_and_saved(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache)
    async with app.client() as client:
        await app.create_user("patch@example.com")
        token = app.auth(await app.login(client, "patch@example.com"))
        assert (await client.get("/users/me", headers=token)).status_code == 200
        response = await client.patch("/users/me", json={"first_name": "Lancelot"}, headers=token)
        assert response.status_code == 200
        assert response.json()["first_name"] == "Lancelot"
        stored = await app.get_user("patch@example.com")
        assert stored is not None and stored.first_name == "Lancelot"
        # The change ended the cached answer; the next one is read again, then cached.
        again = await client.get("/users/me", headers=token)
        assert again.json()["first_name"] == "Lancelot"


async def test_refresh_ends_the_previous_access_token_at_once(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache, sessions=True, refresh=True)
    async with app.client() as client:
        await app.create_user("s@example.com")
        login = await client.post(
            f"{app.prefix}/login", data={"username": "s@example.com", "password": PASSWORD}
        )
        body = login.json()
        old = app.auth(body["access_token"])
        assert (await client.get("/users/me", headers=old)).status_code == 200
        refreshed = await client.post(
            f"{app.prefix}/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert (await client.get("/users/me", headers=old)).status_code == 401
        new = app.auth(refreshed.json()["access_token"])
        assert (await client.get("/users/me", headers=new)).status_code == 200
        sessions = await client.get("/users/me/sessions", headers=new)
        (session,) = sessions.json()
        ended = await client.delete(f"/users/me/sessions/{session['id']}", headers=new)
        assert ended.status_code == 204
        assert (await client.get("/users/me", headers=new)).status_code == 401


async def test_users_with_oauth_accounts_are_rebuilt_with_them(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache)
    await app.create_user("o@example.com")
    async with session_maker() as session:
        user_db = SQLAlchemyUserDatabase(session, User, OAuthAccount)
        user = await user_db.get_by_email("o@example.com")
        assert user is not None
        create = {"oauth_name": "g", "access_token": "t", "account_id": "1", "account_email": "o"}
        await user_db.add_oauth_account(user, create)
    async with app.client() as client:
        token = await app.login(client, "o@example.com")
    backend = app.backend
    async with session_maker() as session:
        manager = make_manager(session, app.mailbox)
        loaded = await manager.get_by_email("o@example.com")
        cache.put(backend, token, loaded, None, None, cache.epoch)
    async with session_maker() as session:
        manager = make_manager(session, app.mailbox)
        hit = cache.get(backend, token, manager)
        assert hit is not None
        rebuilt, _ = hit
        assert [account.account_id for account in rebuilt.oauth_accounts] == ["1"]
        assert rebuilt in session  # attached, as if loaded by this request
        rebuilt.first_name = "Gawain"
        await session.commit()
    stored = await app.get_user("o@example.com")
    assert stored is not None and stored.first_name == "Gawain"


async def test_a_user_loaded_earlier_in_the_request_is_the_one_returned(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache)
    user = await app.create_user("e@example.com")
    async with session_maker() as session:
        loaded = await make_manager(session, app.mailbox).get(user.id)
        cache.put(app.backend, "tok", loaded, "id-1", None, cache.epoch)
    async with session_maker() as session:
        manager = make_manager(session, app.mailbox)
        loaded = await manager.get(user.id)
        assert cache.get(app.backend, "tok", manager) == (loaded, "id-1")
        assert cache.get(app.backend, "tok", manager)[0] is loaded  # type: ignore[index]
    # Without a session (a user database of another kind), a detached copy.
    hit = cache.get(app.backend, "tok", object())
    assert hit is not None and hit[0].email == "e@example.com"


async def test_what_is_not_cached(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache)
    user = await loaded_user(app, "n@example.com")
    epoch = cache.epoch
    # Not a mapped object; an object whose columns are not all loaded; a token that
    # has expired; an answer read while the user changed.
    cache.put(app.backend, "a", object(), None, None, epoch)
    async with session_maker() as session:
        loaded = await make_manager(session, app.mailbox).get(user.id)
        session.expire(loaded, ["email"])
        cache.put(app.backend, "b", loaded, None, None, epoch)
        session.expire(loaded)  # the relationship too
        cache.put(app.backend, "b2", loaded, None, None, epoch)
    cache.put(app.backend, "c", user, None, time.time() - 1, epoch)
    cache.forget_user("someone-else")
    cache.put(app.backend, "d", user, None, None, epoch)
    assert len(cache) == 0
    cache.put(app.backend, "e", user, None, None, cache.epoch)
    assert len(cache) == 1
    # Another backend's token is a different entry.
    assert cache.get(object(), "e", None) is None


async def test_lifetimes_and_bound(session_maker: async_sessionmaker[AsyncSession]) -> None:
    app = build_app(session_maker)
    user = await loaded_user(app, "t@example.com")
    short = AuthCache(ttl_seconds=0.05, single_process=True, max_entries=2)
    try:
        short.put(app.backend, "a", user, None, None, short.epoch)
        assert short.get(app.backend, "a", None) is not None
        await asyncio.sleep(0.06)
        assert short.get(app.backend, "a", None) is None
        assert len(short) == 0
        for token in ("x", "y", "z"):
            short.put(app.backend, token, user, None, time.time() + 60, short.epoch)
        assert len(short) == 2
        assert short.get(app.backend, "x", None) is None  # the oldest went first
        short.put(app.backend, "y", user, None, None, short.epoch)  # replaced, not added
        assert len(short) == 2
    finally:
        await short.aclose()
    token_bound = AuthCache(ttl_seconds=60, single_process=True)
    try:
        token_bound.put(app.backend, "a", user, None, time.time() + 0.05, token_bound.epoch)
        await asyncio.sleep(0.06)
        assert token_bound.get(app.backend, "a", None) is None  # never past the token's exp
    finally:
        await token_bound.aclose()


def test_refused_settings() -> None:
    with pytest.raises(ValueError, match="redis="):
        AuthCache()
    with pytest.raises(ValueError, match="ttl_seconds"):
        AuthCache(0, single_process=True)
    with pytest.raises(ValueError, match="max_entries"):
        AuthCache(single_process=True, max_entries=0)


async def test_a_stale_answer_is_not_kept_for_a_token_read_during_a_change(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    app = make_app(session_maker, cache)
    user = await loaded_user(app, "race@example.com")
    epoch = cache.epoch
    async with session_maker() as session:
        manager = make_manager(session, app.mailbox)
        await manager.user_db.update(await manager.get(user.id), {"first_name": "x"})
    cache.put(app.backend, "tok", user, None, None, epoch)
    assert len(cache) == 0


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)  # Redis is what goes away
async def test_a_storage_outage_empties_the_cache(
    session_maker: async_sessionmaker[AsyncSession], cache: AuthCache
) -> None:
    down = redis.asyncio.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    down.test_prefix = "dk-test:down:"
    app = make_app(session_maker, cache, "redis", down)
    user = await loaded_user(app, "outage@example.com")
    cache.put(app.backend, "remembered", user, None, None, cache.epoch)
    try:
        async with app.client() as client:
            response = await client.get("/users/me", headers=app.auth("not-remembered"))
            assert response.status_code == 503
            assert len(cache) == 0
            response = await client.get("/users/me", headers=app.auth("remembered"))
            assert response.status_code == 503
    finally:
        await down.aclose()
