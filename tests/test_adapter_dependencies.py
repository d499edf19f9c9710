"""`SQLAlchemyAdapter`'s FastAPI dependencies: one session per request, shared by the user
and access token databases, driving `FastAPIUsers` with the database strategy."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.adapter.models import AccessToken, OAuthAccount, User
from doorkeeper.authentication import AuthenticationBackend, BearerTransport
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from tests.conftest import cheap_password_helper


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = "a-test-secret-that-is-long-enough-0123456789"
    verification_token_secret = "a-test-secret-that-is-long-enough-0123456789"


async def test_dependencies_share_the_request_session(database_url: str) -> None:
    adapter = SQLAlchemyAdapter(database_url)
    await adapter.create_tables()
    app = FastAPI()

    @app.get("/sessions")
    async def sessions(
        session: AsyncSession = Depends(adapter.get_session),
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(adapter.get_user_db),
        token_db: SQLAlchemyAccessTokenDatabase[User] = Depends(adapter.get_access_token_db),
    ) -> dict[str, Any]:
        return {
            "shared": user_db.session is session and token_db.session is session,
            "user_table": user_db.user_table is User,
            "oauth_table": user_db.oauth_account_table is OAuthAccount,
            "token_table": token_db.access_token_table is AccessToken,
        }

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/sessions")
    assert response.json() == dict.fromkeys(
        ("shared", "user_table", "oauth_table", "token_table"), True
    )
    await adapter.dispose()


async def test_fastapi_users_on_the_adapter_with_the_database_strategy(database_url: str) -> None:
    adapter = SQLAlchemyAdapter(database_url)
    await adapter.create_tables()

    async def get_user_manager(
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(adapter.get_user_db),
    ) -> AsyncIterator[UserManager]:
        yield UserManager(user_db, cheap_password_helper())

    def get_database_strategy(
        access_token_db: SQLAlchemyAccessTokenDatabase[User] = Depends(adapter.get_access_token_db),
    ) -> DatabaseStrategy[User, uuid.UUID, AccessToken]:
        return DatabaseStrategy(access_token_db, lifetime_seconds=3600)

    backend = AuthenticationBackend(
        name="database",
        transport=BearerTransport(tokenUrl="auth/login"),
        get_strategy=get_database_strategy,
    )
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth")
    app.include_router(
        fastapi_users.get_register_router(schemas.BaseUser[uuid.UUID], schemas.BaseUserCreate),
        prefix="/auth",
    )
    app.include_router(
        fastapi_users.get_users_router(schemas.BaseUser[uuid.UUID], schemas.BaseUserUpdate),
        prefix="/users",
    )
    password = "correct-horse-battery-staple-42"
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/auth/register", json={"email": "Ann@Example.com", "password": password}
            )
            assert response.status_code == 201, response.text
            response = await client.post(
                "/auth/login", data={"username": "ann@example.com", "password": password}
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["email"] == "Ann@example.com"
        user = await adapter.user.get_by_email("ann@example.com")
        assert user is not None
        sessions = await adapter.session.list_for_user(user.id)
        assert len(sessions) == 1 and sessions[0].token != token  # a digest, not the token
    finally:
        await adapter.dispose()
