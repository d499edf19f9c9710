import os
import uuid

import redis.asyncio
from fastapi import Depends, Request

from app.db import AccessToken, User, get_access_token_db, get_user_db
from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin
from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    RedisStrategy,
)
from doorkeeper.authentication.strategy.db import AccessTokenDatabase, DatabaseStrategy
from doorkeeper.db import SQLAlchemyUserDatabase

# Signs the verify / reset-password tokens. The default only suits a local try-out:
# production MUST set the SECRET environment variable (32+ random bytes, e.g.
# `python -c "import secrets; print(secrets.token_urlsafe(32))"`).
SECRET = os.environ.get("SECRET", "change-me-this-default-is-for-local-development-only")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "fastapi_users_token:")


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    async def on_after_register(self, user: User, request: Request | None = None):
        print(f"User {user.id} has registered.")

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ):
        print(f"User {user.id} has forgot their password. Reset token: {token}")

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None):
        print(f"Verification requested for user {user.id}. Verification token: {token}")


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)):
    yield UserManager(user_db)


# Backend 1: a cookie holding an opaque token, stored (hashed) in the `accesstoken` table.
cookie_transport = CookieTransport(cookie_max_age=3600)


async def get_database_strategy(
    access_token_db: AccessTokenDatabase[AccessToken] = Depends(get_access_token_db),
) -> DatabaseStrategy:
    return DatabaseStrategy(access_token_db, lifetime_seconds=3600)


cookie_backend = AuthenticationBackend(
    name="cookie",
    transport=cookie_transport,
    get_strategy=get_database_strategy,
)

# Backend 2: a bearer header holding an opaque token, stored (hashed) in Redis.
redis = redis.asyncio.from_url(REDIS_URL, decode_responses=True)

bearer_transport = BearerTransport(tokenUrl="auth/redis/login")


async def get_redis_strategy() -> RedisStrategy:
    return RedisStrategy(redis, lifetime_seconds=3600, key_prefix=REDIS_KEY_PREFIX)


redis_backend = AuthenticationBackend(
    name="redis",
    transport=bearer_transport,
    get_strategy=get_redis_strategy,
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [cookie_backend, redis_backend])

current_active_user = fastapi_users.current_user(active=True)
