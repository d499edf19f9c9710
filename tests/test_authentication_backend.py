"""AuthenticationBackend: login hands a new token over; logout ends it server-side for
every strategy (JWT through the manager's revocation) and drops it client-side."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
    RedisStrategy,
)
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from tests.managers import UserManager
from tests.models import AccessToken, User

SECRET = "a-jwt-secret-for-the-tests-that-is-long-enough"


@pytest.fixture
def db_kind() -> str:
    return "sqlite"


def backend_of(transport: Any, strategy: Any) -> AuthenticationBackend[User, uuid.UUID]:
    return AuthenticationBackend("backend", transport, lambda: strategy)


def test_attributes() -> None:
    transport = BearerTransport("login")

    def get_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, 60)

    backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        "jwt", transport, get_strategy
    )
    assert backend.name == "jwt"
    assert backend.transport is transport
    assert backend.get_strategy is get_strategy


async def test_bearer_jwt_login_and_logout(user: User, user_manager: UserManager) -> None:
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 60)
    backend = backend_of(BearerTransport("login"), strategy)
    response = await backend.login(strategy, user)
    assert response.status_code == 200
    token = response.body.decode().split('"access_token":"')[1].split('"')[0]
    assert await strategy.read_token(token, user_manager) is not None
    other = await strategy.write_token(user)

    logout = await backend.logout(strategy, user, token, user_manager)
    assert logout.status_code == 204
    assert logout.body == b""
    assert await strategy.read_token(token, user_manager) is None
    assert await strategy.read_token(other, user_manager) is None  # coarse: all of them
    assert await strategy.read_token(await strategy.write_token(user), user_manager) is not None


async def test_jwt_logout_without_a_manager_cannot_revoke(
    user: User, user_manager: UserManager
) -> None:
    """FastAPI Users' call shape (no manager): the JWT stays valid until it expires."""
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 60)
    backend = backend_of(BearerTransport("login"), strategy)
    token = await strategy.write_token(user)
    logout = await backend.logout(strategy, user, token)
    assert logout.status_code == 204
    assert await strategy.read_token(token, user_manager) is not None


async def test_cookie_database_login_and_logout(
    user: User, user_manager: UserManager, session: AsyncSession
) -> None:
    strategy: DatabaseStrategy[User, uuid.UUID, AccessToken] = DatabaseStrategy(
        SQLAlchemyAccessTokenDatabase(session, AccessToken)
    )
    backend = backend_of(CookieTransport(), strategy)
    response = await backend.login(strategy, user)
    assert response.status_code == 204
    token = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert await strategy.read_token(token, user_manager) is not None
    other = await strategy.write_token(user)

    logout = await backend.logout(strategy, user, token, user_manager)
    assert logout.status_code == 204
    assert "Max-Age=0" in logout.headers["set-cookie"]
    assert await strategy.read_token(token, user_manager) is None
    assert await strategy.read_token(other, user_manager) is not None  # only this one
    assert len((await session.execute(select(AccessToken))).scalars().all()) == 1
    assert user.tokens_valid_after is None  # no user-wide revocation was needed


async def test_bearer_redis_logout(user: User, user_manager: UserManager, redis: Any) -> None:
    strategy: RedisStrategy[User, uuid.UUID] = RedisStrategy(
        redis, 60, key_prefix=redis.test_prefix
    )
    backend = backend_of(BearerTransport("login"), strategy)
    token = await strategy.write_token(user)
    logout = await backend.logout(strategy, user, token, user_manager)
    assert logout.status_code == 204
    assert await strategy.read_token(token, user_manager) is None
