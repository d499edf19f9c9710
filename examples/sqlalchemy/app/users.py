import os
import uuid

from fastapi import Depends, Request

from app.db import User, get_user_db
from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin, models
from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    JWTStrategy,
)
from doorkeeper.db import SQLAlchemyUserDatabase

# Signs the JWTs and the verify / reset-password tokens. The default only suits a local
# try-out: production MUST set the SECRET environment variable (32+ random bytes, e.g.
# `python -c "import secrets; print(secrets.token_urlsafe(32))"`).
SECRET = os.environ.get("SECRET", "change-me-this-default-is-for-local-development-only")


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


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


async def get_jwt_strategy() -> JWTStrategy[models.UP, models.ID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="jwt",
    transport=bearer_transport,
    get_strategy=get_jwt_strategy,
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

current_active_user = fastapi_users.current_user(active=True)
