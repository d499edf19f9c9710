"""Login sessions and refresh tokens over HTTP (SECURITY 17-24), on every strategy and
database: listing and ending sessions, rotation, replay, revocation, timeouts."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from doorkeeper.authentication import JWTStrategy
from tests.apps import NEW_PASSWORD, PASSWORD, SECRET, STRATEGIES, App, build_app
from tests.models import RefreshToken, Session


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_for(request: pytest.FixtureRequest, strategy: str) -> Any:
    return request.getfixturevalue("redis") if strategy == "redis" else None


@pytest.fixture
def app(session_maker: async_sessionmaker[AsyncSession], strategy: str, redis_for: Any) -> App:
    return build_app(session_maker, strategy=strategy, redis=redis_for, sessions=True, refresh=True)


async def login(
    app: App, client: httpx.AsyncClient, email: str, password: str = PASSWORD, agent: str = "t"
) -> dict[str, str]:
    response = await client.post(
        f"{app.prefix}/login",
        data={"username": email, "password": password},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "refresh_token"}
    return {"access": body["access_token"], "refresh": body["refresh_token"]}


async def me(app: App, client: httpx.AsyncClient, access: str) -> int:
    return (await client.get("/users/me", headers=app.auth(access))).status_code


async def refresh(app: App, client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{app.prefix}/refresh", json={"refresh_token": token})


async def test_security_17_each_login_is_a_new_session_listed_with_its_client(app: App) -> None:
    await app.create_user("lena@example.com")
    async with app.client() as client:
        first = await login(app, client, "lena@example.com", agent="Firefox")
        second = await login(app, client, "lena@example.com", agent="Curl")
        assert first["access"] != second["access"] and first["refresh"] != second["refresh"]
        response = await client.get("/users/me/sessions", headers=app.auth(second["access"]))
    assert response.status_code == 200
    sessions = response.json()
    assert [s["user_agent"] for s in sessions] == ["Curl", "Firefox"]
    assert [s["current"] for s in sessions] == [True, False]
    assert all(s["ip_address"] == "127.0.0.1" for s in sessions)
    assert all(s["backend"] == app.backend.name for s in sessions)
    assert not any("token" in key for key in sessions[0])


async def test_security_18_logout_ends_the_session_and_its_refresh_token(app: App) -> None:
    await app.create_user("max@example.com")
    async with app.client() as client:
        kept = await login(app, client, "max@example.com")
        ended = await login(app, client, "max@example.com")
        response = await client.post(f"{app.prefix}/logout", headers=app.auth(ended["access"]))
        assert response.status_code == 204
        assert await me(app, client, ended["access"]) == 401
        refused = await refresh(app, client, ended["refresh"])
        assert refused.status_code == 401
        assert refused.json()["detail"] == "REFRESH_TOKEN_REVOKED"
        # Only that session ended (a JWT logout no longer ends every JWT of the user).
        assert await me(app, client, kept["access"]) == 200
        assert (await refresh(app, client, kept["refresh"])).status_code == 200


async def test_ending_one_session_ends_its_tokens_at_once(app: App) -> None:
    await app.create_user("nora@example.com")
    async with app.client() as client:
        mine = await login(app, client, "nora@example.com")
        other = await login(app, client, "nora@example.com")
        listed = (await client.get("/users/me/sessions", headers=app.auth(mine["access"]))).json()
        other_id = next(s["id"] for s in listed if not s["current"])
        response = await client.delete(
            f"/users/me/sessions/{other_id}", headers=app.auth(mine["access"])
        )
        assert response.status_code == 204
        assert await me(app, client, other["access"]) == 401
        assert (await refresh(app, client, other["refresh"])).status_code == 401
        assert await me(app, client, mine["access"]) == 200
        again = await client.delete(
            f"/users/me/sessions/{other_id}", headers=app.auth(mine["access"])
        )
        assert again.status_code == 404 and again.json()["detail"] == "SESSION_NOT_FOUND"
        missing = await client.delete("/users/me/sessions/nope", headers=app.auth(mine["access"]))
        assert missing.status_code == 404


async def test_a_user_cannot_end_another_users_session(app: App) -> None:
    await app.create_user("olga@example.com")
    await app.create_user("paul@example.com")
    async with app.client() as client:
        olga = await login(app, client, "olga@example.com")
        paul = await login(app, client, "paul@example.com")
        listed = (await client.get("/users/me/sessions", headers=app.auth(paul["access"]))).json()
        response = await client.delete(
            f"/users/me/sessions/{listed[0]['id']}", headers=app.auth(olga["access"])
        )
        assert response.status_code == 404
        assert await me(app, client, paul["access"]) == 200


async def test_ending_all_other_sessions_keeps_the_current_one(app: App) -> None:
    await app.create_user("quinn@example.com")
    async with app.client() as client:
        mine = await login(app, client, "quinn@example.com")
        others = [await login(app, client, "quinn@example.com") for _ in range(2)]
        response = await client.delete("/users/me/sessions", headers=app.auth(mine["access"]))
        assert response.status_code == 204
        for other in others:
            assert await me(app, client, other["access"]) == 401
            assert (await refresh(app, client, other["refresh"])).status_code == 401
        assert await me(app, client, mine["access"]) == 200
        listed = (await client.get("/users/me/sessions", headers=app.auth(mine["access"]))).json()
        assert [s["current"] for s in listed] == [True]
        assert (await refresh(app, client, mine["refresh"])).status_code == 200


async def test_superuser_lists_and_ends_any_users_sessions(app: App) -> None:
    await app.create_user("root@example.com", is_superuser=True)
    target = await app.create_user("rita@example.com")
    async with app.client() as client:
        root = await login(app, client, "root@example.com")
        rita = await login(app, client, "rita@example.com")
        path = f"/users/{target.id}/sessions"
        assert (await client.get(path, headers=app.auth(rita["access"]))).status_code == 403
        assert (
            await client.get(f"/users/{uuid.uuid4()}/sessions", headers=app.auth(rita["access"]))
        ).status_code == 403
        listed = await client.get(path, headers=app.auth(root["access"]))
        assert listed.status_code == 200 and len(listed.json()) == 1
        missing = await client.get(
            f"/users/{uuid.uuid4()}/sessions", headers=app.auth(root["access"])
        )
        assert missing.status_code == 404
        session_id = listed.json()[0]["id"]
        ended = await client.delete(f"{path}/{session_id}", headers=app.auth(root["access"]))
        assert ended.status_code == 204
        assert await me(app, client, rita["access"]) == 401
        assert (
            await client.delete(f"{path}/{session_id}", headers=app.auth(root["access"]))
        ).status_code == 404
        rita = await login(app, client, "rita@example.com")
        assert (await client.delete(path, headers=app.auth(root["access"]))).status_code == 204
        assert await me(app, client, rita["access"]) == 401
        assert (await refresh(app, client, rita["refresh"])).status_code == 401
        assert await me(app, client, root["access"]) == 200


async def test_security_21_refresh_rotates_and_a_replay_ends_the_family(app: App) -> None:
    await app.create_user("sam@example.com")
    async with app.client() as client:
        first = await login(app, client, "sam@example.com")
        response = await refresh(app, client, first["refresh"])
        assert response.status_code == 200
        second = response.json()
        assert second["refresh_token"] != first["refresh"]
        assert second["access_token"] != first["access"]
        assert await me(app, client, second["access_token"]) == 200
        # The session moved on: the access token it had is refused.
        assert await me(app, client, first["access"]) == 401
        replay = await refresh(app, client, first["refresh"])
        assert replay.status_code == 401 and replay.json()["detail"] == "REFRESH_TOKEN_REUSED"
        # The whole family ends: the descendant tokens too.
        assert await me(app, client, second["access_token"]) == 401
        after = await refresh(app, client, second["refresh_token"])
        assert after.status_code == 401


async def test_security_21_concurrent_uses_of_one_refresh_token_succeed_at_most_once(
    app: App,
) -> None:
    await app.create_user("tess@example.com")
    async with app.client() as client:
        tokens = await login(app, client, "tess@example.com")
        responses = await asyncio.gather(
            *(refresh(app, client, tokens["refresh"]) for _ in range(5))
        )
    codes = sorted(response.status_code for response in responses)
    assert codes.count(200) <= 1
    assert set(codes) <= {200, 401}


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)  # input checks: no storage
@pytest.mark.parametrize("token", ["", "x", "not-a-token" * 3, "A" * 9000, "..", "\u00e9" * 43])
async def test_bad_refresh_tokens_get_401_with_a_stable_code(app: App, token: str) -> None:
    async with app.client() as client:
        response = await refresh(app, client, token)
    assert response.status_code == 401
    assert response.json() == {"detail": "REFRESH_TOKEN_INVALID"}


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)  # input checks: no storage
async def test_refresh_without_a_token_or_with_a_bad_body(app: App) -> None:
    async with app.client() as client:
        missing = await client.post(f"{app.prefix}/refresh")
        wrong_type = await client.post(f"{app.prefix}/refresh", json={"refresh_token": 5})
        not_json = await client.post(
            f"{app.prefix}/refresh",
            content=b"\xff\xfe",
            headers={"Content-Type": "application/json"},
        )
    assert missing.status_code == 401 and missing.json()["detail"] == "REFRESH_TOKEN_INVALID"
    assert wrong_type.status_code == 422
    assert 400 <= not_json.status_code < 500


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)  # input checks: no storage
async def test_security_22_tokens_are_not_accepted_as_one_another(app: App) -> None:
    await app.create_user("uma@example.com")
    async with app.client() as client:
        tokens = await login(app, client, "uma@example.com")
        assert await me(app, client, tokens["refresh"]) == 401
        assert (await refresh(app, client, tokens["access"])).status_code == 401
        assert await me(app, client, tokens["access"]) == 200


async def test_security_19_password_change_ends_other_sessions_and_refresh_tokens(
    app: App,
) -> None:
    await app.create_user("vera@example.com")
    async with app.client() as client:
        mine = await login(app, client, "vera@example.com")
        other = await login(app, client, "vera@example.com")
        response = await client.patch(
            "/users/me",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=app.auth(mine["access"]),
        )
        assert response.status_code == 200, response.text
        assert await me(app, client, other["access"]) == 401
        assert (await refresh(app, client, other["refresh"])).status_code == 401
        assert await me(app, client, mine["access"]) == 200
        listed = (await client.get("/users/me/sessions", headers=app.auth(mine["access"]))).json()
        assert [s["current"] for s in listed] == [True]
        renewed = await refresh(app, client, mine["refresh"])
        assert renewed.status_code == 200
        assert await me(app, client, renewed.json()["access_token"]) == 200


async def test_security_19_reset_deactivation_and_deletion_end_every_session(app: App) -> None:
    await app.create_user("root@example.com", is_superuser=True)
    target = await app.create_user("wade@example.com")
    async with app.client() as client:
        root = await login(app, client, "root@example.com")
        before_reset = await login(app, client, "wade@example.com")
        await client.post("/auth/forgot-password", json={"email": "wade@example.com"})
        token = app.mailbox.last_reset_token("wade@example.com")
        reset = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert reset.status_code == 200
        assert (await refresh(app, client, before_reset["refresh"])).status_code == 401
        assert await me(app, client, before_reset["access"]) == 401

        before_deactivation = await login(app, client, "wade@example.com", NEW_PASSWORD)
        response = await client.patch(
            f"/users/{target.id}", json={"is_active": False}, headers=app.auth(root["access"])
        )
        assert response.status_code == 200
        assert (await refresh(app, client, before_deactivation["refresh"])).status_code == 401

        response = await client.patch(
            f"/users/{target.id}", json={"is_active": True}, headers=app.auth(root["access"])
        )
        before_deletion = await login(app, client, "wade@example.com", NEW_PASSWORD)
        deleted = await client.delete(f"/users/{target.id}", headers=app.auth(root["access"]))
        assert deleted.status_code == 204
        assert (await refresh(app, client, before_deletion["refresh"])).status_code == 401
        assert await me(app, client, before_deletion["access"]) == 401


async def test_security_20_sessions_have_an_absolute_lifetime(
    session_maker: async_sessionmaker[AsyncSession], strategy: str, redis_for: Any
) -> None:
    app = build_app(session_maker, strategy=strategy, redis=redis_for, sessions=True, refresh=True)
    assert app.backend.sessions is not None
    app.backend.sessions.absolute_lifetime = __import__("datetime").timedelta(seconds=1)
    await app.create_user("xena@example.com")
    async with app.client() as client:
        tokens = await login(app, client, "xena@example.com")
        await asyncio.sleep(1.2)
        response = await refresh(app, client, tokens["refresh"])
        assert response.status_code == 401
        assert response.json()["detail"] == "REFRESH_TOKEN_EXPIRED"
        if strategy == "jwt":  # the JWT is read with its session
            assert await me(app, client, tokens["access"]) == 401


async def test_security_20_sessions_have_an_idle_timeout(
    session_maker: async_sessionmaker[AsyncSession], strategy: str, redis_for: Any
) -> None:
    app = build_app(session_maker, strategy=strategy, redis=redis_for, sessions=True, refresh=True)
    assert app.backend.sessions is not None
    app.backend.sessions.idle_timeout = __import__("datetime").timedelta(seconds=1)
    await app.create_user("yann@example.com")
    async with app.client() as client:
        tokens = await login(app, client, "yann@example.com")
        await asyncio.sleep(1.2)
        response = await refresh(app, client, tokens["refresh"])
    assert response.status_code == 401
    assert response.json()["detail"] == "REFRESH_TOKEN_EXPIRED"


async def test_security_23_refresh_tokens_are_stored_as_digests(
    session_maker: async_sessionmaker[AsyncSession], strategy: str, redis_for: Any
) -> None:
    app = build_app(session_maker, strategy=strategy, redis=redis_for, sessions=True, refresh=True)
    await app.create_user("zoe@example.com")
    async with app.client() as client:
        tokens = await login(app, client, "zoe@example.com")
    if strategy == "redis":
        keys = [key async for key in redis_for.scan_iter(match=redis_for.test_prefix + "*")]
        values = [await redis_for.get(key) for key in keys if await redis_for.type(key) == "string"]
        dump = " ".join(keys + [value for value in values if value])
    else:
        async with session_maker() as session:
            rows = (await session.scalars(select(RefreshToken))).all()
            sessions = (await session.scalars(select(Session))).all()
        assert len(rows) == 1 and len(sessions) == 1
        dump = " ".join(str(vars(row)) for row in [*rows, *sessions])
    assert tokens["refresh"] not in dump and tokens["access"] not in dump


async def test_cookie_transport_carries_the_refresh_token_in_a_scoped_cookie(
    session_maker: async_sessionmaker[AsyncSession], strategy: str, redis_for: Any
) -> None:
    app = build_app(
        session_maker,
        strategy=strategy,
        redis=redis_for,
        transport="cookie",
        sessions=True,
        refresh=True,
    )
    await app.create_user("cora@example.com")
    async with app.client() as client:
        response = await client.post(
            f"{app.prefix}/login", data={"username": "cora@example.com", "password": PASSWORD}
        )
        assert response.status_code == 204
        cookies = response.headers.get_list("set-cookie")
        refresh_cookie = next(c for c in cookies if c.startswith("fastapiusersauth_refresh="))
        assert f"Path={app.prefix}/refresh" in refresh_cookie
        assert "HttpOnly" in refresh_cookie and "SameSite=strict" in refresh_cookie
        assert "Secure" in refresh_cookie
        old_access = response.cookies["fastapiusersauth"]
        renewed = await client.post(f"{app.prefix}/refresh")
        assert renewed.status_code == 204
        new_access = renewed.cookies["fastapiusersauth"]
        assert new_access != old_access
        client.cookies.delete("fastapiusersauth")
        assert await me(app, client, new_access) == 200
        logout = await client.post(f"{app.prefix}/logout", headers=app.auth(new_access))
        assert logout.status_code == 204
        cleared = [c for c in logout.headers.get_list("set-cookie") if "_refresh=" in c]
        assert cleared and "Max-Age=0" in cleared[0]
        refused = await client.post(f"{app.prefix}/refresh")
        assert refused.status_code == 401


async def test_refresh_needs_sessions(session_maker: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(ValueError, match="sessions"):
        build_app(session_maker, strategy="jwt", refresh=True)
    with pytest.raises(ValueError, match="sessions"):
        build_app(session_maker, strategy="jwt").fastapi_users.get_sessions_router()


async def test_a_second_app_instance_sees_a_revocation_made_through_the_first(
    session_maker: async_sessionmaker[AsyncSession], strategy: str, redis_for: Any
) -> None:
    first = build_app(
        session_maker, strategy=strategy, redis=redis_for, sessions=True, refresh=True
    )
    second = build_app(
        session_maker, strategy=strategy, redis=redis_for, sessions=True, refresh=True
    )
    await first.create_user("ines@example.com")
    async with first.client() as one, second.client() as two:
        mine = await login(first, one, "ines@example.com")
        other = await login(second, two, "ines@example.com")
        assert await me(second, two, mine["access"]) == 200
        listed = (await one.get("/users/me/sessions", headers=first.auth(mine["access"]))).json()
        other_id = next(s["id"] for s in listed if not s["current"])
        await one.delete(f"/users/me/sessions/{other_id}", headers=first.auth(mine["access"]))
        assert await me(second, two, other["access"]) == 401
        assert (await refresh(second, two, other["refresh"])).status_code == 401


async def test_authenticating_a_jwt_of_a_session_is_one_query(
    session_maker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    app = build_app(session_maker, strategy="jwt", sessions=True, refresh=True)
    await app.create_user("omar@example.com")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    async with app.client() as client:
        tokens = await login(app, client, "omar@example.com")
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            assert await me(app, client, tokens["access"]) == 200
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
    assert "doorkeeper_session" in selects[0] and "user" in selects[0]


async def test_security_24_session_storage_down_fails_closed(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    import redis.asyncio

    from doorkeeper.authentication.sessions import SessionService
    from doorkeeper.sessions.redis import RedisSessionStore

    unreachable = redis.asyncio.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    service = SessionService(RedisSessionStore(unreachable))
    app = build_app(
        session_maker, strategy="jwt", sessions=True, refresh=True, session_service=service
    )
    await app.create_user("ivan@example.com")
    token = await JWTStrategy(SECRET, 3600, sessions=service).write_session_token(
        await app.get_user("ivan@example.com"), "some-session"
    )
    async with app.client() as client:
        login_response = await client.post(
            f"{app.prefix}/login", data={"username": "ivan@example.com", "password": PASSWORD}
        )
        me_response = await client.get("/users/me", headers=app.auth(token))
        refresh_response = await refresh(app, client, "x" * 43)
    await unreachable.aclose()
    for response in (login_response, me_response, refresh_response):
        assert response.status_code == 503, response.text
        assert "redis" not in response.text.lower() and "127.0.0.1" not in response.text


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)  # input checks: no storage
async def test_security_17_tokens_never_issued_are_refused_and_opaque_ones_carry_256_bits(
    app: App, strategy: str
) -> None:
    import base64
    import secrets

    await app.create_user("ken@example.com")
    async with app.client() as client:
        tokens = await login(app, client, "ken@example.com")
        for forged in (secrets.token_urlsafe(32), tokens["access"][:-2] + "xx", "", "a.b.c"):
            assert await me(app, client, forged) == 401
    if strategy != "jwt":
        assert len(base64.urlsafe_b64decode(tokens["access"] + "=")) >= 32
    assert len(base64.urlsafe_b64decode(tokens["refresh"] + "=")) >= 32


async def test_refresh_of_an_unverified_user_is_refused_when_verification_is_required(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    app = build_app(session_maker, strategy="jwt", sessions=True, refresh=True)
    strict = build_app(
        session_maker, strategy="jwt", sessions=True, refresh=True, requires_verification=True
    )
    await app.create_user("hugo@example.com")
    async with app.client() as client, strict.client() as other:
        tokens = await login(app, client, "hugo@example.com")
        response = await refresh(strict, other, tokens["refresh"])
    assert response.status_code == 401 and response.json()["detail"] == "REFRESH_TOKEN_REVOKED"


def test_the_refresh_route_needs_a_backend_with_sessions(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    from fastapi import APIRouter

    from doorkeeper.router.refresh import add_refresh_route

    app = build_app(session_maker, strategy="jwt")
    with pytest.raises(ValueError, match="sessions"):
        add_refresh_route(APIRouter(), app.backend, app.fastapi_users.get_user_manager)


async def test_database_tokens_end_by_id_without_a_bulk_delete(user: Any) -> None:
    from doorkeeper.authentication.strategy.db import DatabaseStrategy

    class Tokens:
        def __init__(self) -> None:
            self.rows = {"digest": object()}

        async def get_by_token(self, token: str, max_age: Any = None) -> Any:
            return self.rows.get(token)

        async def delete(self, access_token: Any) -> None:
            self.rows = {k: v for k, v in self.rows.items() if v is not access_token}

    tokens = Tokens()
    strategy: Any = DatabaseStrategy(tokens)  # type: ignore[arg-type]
    await strategy.destroy_token_id("missing")
    await strategy.destroy_token_id("digest")
    assert tokens.rows == {}
