"""Switching a running FastAPI Users app to Doorkeeper signs nobody out (issue 13.4):
the access tokens FastAPI Users issued (no `iat`, no `jti`) are accepted until they
expire, any revocation after the switch ends them all, and pending reset links (whose
fingerprint is a hash of the password hash) and verify links keep working once.
docs/migration.md#what-survives-the-switch."""

import uuid
from typing import Any

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.authentication import JWTStrategy
from doorkeeper.jwt import generate_jwt
from tests.apps import PASSWORD, SECRET, App, UserManager, build_app
from tests.models import User

NEW_PASSWORD = "a-new-passphrase-after-the-switch-42"


def fastapi_users_access_token(user_id: uuid.UUID, lifetime: int | None = 3600) -> str:
    """What FastAPI Users' `JWTStrategy.write_token` wrote: `sub` and `aud`, plus `exp`."""
    data = {"sub": str(user_id), "aud": ["fastapi-users:auth"]}
    return generate_jwt(data, SECRET, lifetime)


def fastapi_users_reset_token(user: User) -> str:
    """FastAPI Users' `forgot_password`: the fingerprint is a hash of the password hash."""
    fingerprint = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=64),)).hash(
        user.hashed_password
    )
    data = {"sub": str(user.id), "password_fgpt": fingerprint, "aud": "fastapi-users:reset"}
    return generate_jwt(data, SECRET, 3600)


pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


async def me(dk: App, client: Any, token: str) -> int:
    return int((await client.get("/users/me", headers=dk.auth(token))).status_code)


async def test_a_fastapi_users_token_is_accepted_until_it_expires(dk: App) -> None:
    user = await dk.create_user("ada@example.com")
    async with dk.client() as client:
        assert await me(dk, client, fastapi_users_access_token(user.id)) == 200
        assert await me(dk, client, fastapi_users_access_token(user.id, lifetime=-1)) == 401
        # FastAPI Users allowed tokens without `exp`; they are never accepted (E20).
        assert await me(dk, client, fastapi_users_access_token(user.id, lifetime=None)) == 401
        other_audience = generate_jwt({"sub": str(user.id), "aud": "other"}, SECRET, 3600)
        assert await me(dk, client, other_audience) == 401
        forged = generate_jwt({"sub": str(user.id), "aud": ["fastapi-users:auth"]}, "x" * 40, 60)
        assert await me(dk, client, forged) == 401


@pytest.mark.parametrize("sessions", [False, True])
async def test_logging_out_a_pre_switch_token_ends_every_pre_switch_token(
    session_maker: async_sessionmaker[AsyncSession], sessions: bool
) -> None:
    dk = build_app(session_maker, sessions=sessions)
    user = await dk.create_user("bea@example.com")
    first, second = fastapi_users_access_token(user.id), fastapi_users_access_token(user.id, 7200)
    async with dk.client() as client:
        assert await me(dk, client, first) == 200
        assert await me(dk, client, second) == 200
        logout = await client.post(f"{dk.prefix}/logout", headers=dk.auth(first))
        assert logout.status_code == 204
        assert await me(dk, client, first) == 401
        assert await me(dk, client, second) == 401
        fresh = await dk.login(client, "bea@example.com")
        assert await me(dk, client, fresh) == 200


async def test_a_password_change_ends_pre_switch_tokens(dk: App) -> None:
    user = await dk.create_user("cy@example.com")
    token = fastapi_users_access_token(user.id)
    async with dk.client() as client:
        own = await dk.login(client, "cy@example.com")
        changed = await client.patch(
            "/users/me",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=dk.auth(own),
        )
        assert changed.status_code == 200, changed.text
        assert await me(dk, client, token) == 401
        assert await me(dk, client, own) == 200  # the session that made the change


async def test_pre_switch_tokens_can_be_refused(
    session_maker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = JWTStrategy.__init__

    def strict(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs, accept_fastapi_users_tokens=False)

    monkeypatch.setattr(JWTStrategy, "__init__", strict)
    dk = build_app(session_maker)
    user = await dk.create_user("dee@example.com")
    async with dk.client() as client:
        token = fastapi_users_access_token(user.id)
        assert await me(dk, client, token) == 401
        assert await me(dk, client, await dk.login(client, "dee@example.com")) == 200


async def test_a_strict_strategy_ignores_what_a_lenient_one_remembered(db_kind: str) -> None:
    """The verified-claims cache is shared by strategies of one key and audience."""
    lenient: Any = JWTStrategy(SECRET, 3600)
    strict: Any = JWTStrategy(SECRET, 3600, accept_fastapi_users_tokens=False)
    token = fastapi_users_access_token(uuid.uuid4())
    assert lenient._verified_claims(token) is not None
    assert strict._verified_claims(token) is None
    assert strict.token_id(token) is None  # a pre-switch token has no id


async def test_a_pending_fastapi_users_reset_link_works_once(dk: App) -> None:
    user = await dk.create_user("eve@example.com")
    token = fastapi_users_reset_token(user)
    async with dk.client() as client:
        reset = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text
        again = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD + "-2"}
        )
        assert again.status_code == 400
        assert again.json() == {"detail": "RESET_PASSWORD_BAD_TOKEN"}
        assert await dk.login(client, "eve@example.com", NEW_PASSWORD)


async def test_a_fastapi_users_reset_token_of_an_older_password_is_refused(dk: App) -> None:
    user = await dk.create_user("fay@example.com")
    stale = dict(vars(user))
    stale["hashed_password"] = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    token = fastapi_users_reset_token(User(**{k: v for k, v in stale.items() if k[0] != "_"}))
    async with dk.client() as client:
        reset = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert reset.status_code == 400
        assert reset.json() == {"detail": "RESET_PASSWORD_BAD_TOKEN"}


async def test_fastapi_users_reset_tokens_can_be_refused(
    dk: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(UserManager, "accept_fastapi_users_reset_tokens", False)
    user = await dk.create_user("gil@example.com")
    async with dk.client() as client:
        reset = await client.post(
            "/auth/reset-password",
            json={"token": fastapi_users_reset_token(user), "password": NEW_PASSWORD},
        )
        assert reset.status_code == 400


async def test_a_pending_fastapi_users_verify_link_works(dk: App) -> None:
    """FastAPI Users' verify token is the format Doorkeeper writes: it just works."""
    user = await dk.create_user("hal@example.com")
    data = {"sub": str(user.id), "email": user.email, "aud": "fastapi-users:verify"}
    async with dk.client() as client:
        verified = await client.post(
            "/auth/verify", json={"token": generate_jwt(data, SECRET, 3600)}
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["is_verified"] is True
