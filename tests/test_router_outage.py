"""A database or Redis that cannot be reached: 503 with a fixed body on every route,
never a 500 or a trace; the 202 routes stay 202 and log the skipped work."""

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from doorkeeper.authentication.errors import is_unavailable_error
from tests.apps import NEW_PASSWORD, PASSWORD, UserManager, build_app, unreachable_url

UNAVAILABLE = {"detail": "SERVICE_UNAVAILABLE"}


@pytest.fixture
async def down_session_maker(
    database_url: str, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(unreachable_url(database_url, tmp_path))
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.method, response.request.url)
    assert response.json() == UNAVAILABLE
    assert "Traceback" not in response.text


async def test_database_down(
    session_maker: async_sessionmaker[AsyncSession],
    down_session_maker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = build_app(session_maker)
    down = build_app(down_session_maker, mailbox=up.mailbox)
    user = await up.create_user("alice@example.com")
    async with up.client() as client:
        token = await up.login(client, "alice@example.com")
        await client.post("/auth/request-verify-token", json={"email": "alice@example.com"})
        await client.post("/auth/forgot-password", json={"email": "alice@example.com"})
    verify_token = up.mailbox.last_verify_token("alice@example.com")
    reset_token = up.mailbox.last_reset_token("alice@example.com")
    headers = down.auth(token)
    path = f"/users/{user.id}"

    async with down.client() as client:
        for response in [
            await client.post(
                "/auth/jwt/login", data={"username": "alice@example.com", "password": PASSWORD}
            ),
            await client.post("/auth/jwt/logout", headers=headers),
            await client.post(
                "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
            ),
            await client.post("/auth/verify", json={"token": verify_token}),
            await client.post(
                "/auth/reset-password", json={"token": reset_token, "password": NEW_PASSWORD}
            ),
            await client.get("/users/me", headers=headers),
            await client.patch("/users/me", json={"first_name": "A"}, headers=headers),
            await client.get(path, headers=headers),
            await client.patch(path, json={"first_name": "A"}, headers=headers),
            await client.delete(path, headers=headers),
        ]:
            assert_unavailable(response)

        with caplog.at_level(logging.WARNING, logger="doorkeeper"):
            caplog.clear()
            for route in ["/auth/forgot-password", "/auth/request-verify-token"]:
                response = await client.post(route, json={"email": "alice@example.com"})
                assert response.status_code == 202
                assert response.json() is None
        skipped = [r.getMessage() for r in caplog.records if r.name == "doorkeeper"]
        assert len(skipped) == 2
        assert skipped[0].startswith("forgot-password skipped: storage unavailable (")
        assert skipped[1].startswith("request-verify-token skipped: storage unavailable (")


async def test_redis_down(session_maker: async_sessionmaker[AsyncSession]) -> None:
    client = redis.asyncio.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    client.test_prefix = "dk-test:down:"
    up = build_app(session_maker)
    down = build_app(session_maker, strategy="redis", redis=client, mailbox=up.mailbox)
    await up.create_user("alice@example.com")
    try:
        async with down.client() as http:
            response = await http.post(
                "/auth/redis/login", data={"username": "alice@example.com", "password": PASSWORD}
            )
            assert_unavailable(response)
            headers = down.auth("some-opaque-token-value")
            assert_unavailable(await http.post("/auth/redis/logout", headers=headers))
            assert_unavailable(await http.get("/users/me", headers=headers))
            assert_unavailable(await http.patch("/users/me", json={}, headers=headers))
            # Routes that need no token still work: the database is up.
            response = await http.post(
                "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
            )
            assert response.status_code == 201
    finally:
        await client.aclose()


async def test_other_errors_are_not_turned_into_503(
    session_maker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an outage becomes 503: a bug still surfaces as one."""

    async def buggy(self: UserManager, *args: object, **kwargs: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(UserManager, "create", buggy)
    assert not is_unavailable_error(ValueError("a bug"))
    dk = build_app(session_maker)
    transport = httpx.ASGITransport(app=dk.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        response = await client.post(
            "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
        )
    assert response.status_code == 500
