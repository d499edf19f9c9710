"""An app of the building blocks with roles: `FastAPIUsers` on the adapter's tables, a
JWT backend with sessions, routes guarded by roles and permissions, and the admin
routers; for the tests of role-based access control."""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request

from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.adapter.models import User
from doorkeeper.audit import AuditEvent
from doorkeeper.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from doorkeeper.authentication.sessions import SessionService
from tests.conftest import cheap_password_helper

SECRET = "a-test-secret-for-roles-that-is-long-enough-0123456789"
PASSWORD = "correct-horse-battery-staple-42"


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET
    events: list[AuditEvent]

    async def on_event(self, event: AuditEvent, request: Request | None = None) -> None:
        self.events.append(event)


@dataclass
class RbacApp:
    app: FastAPI
    adapter: SQLAlchemyAdapter
    fastapi_users: FastAPIUsers[User, uuid.UUID]
    events: list[AuditEvent] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://test"
        )

    def manager(self) -> UserManager:
        manager = UserManager(self.adapter.user, cheap_password_helper())
        manager.events = self.events
        return manager

    async def create_user(self, email: str, *, roles: Sequence[str] = (), **flags: Any) -> User:
        user = await self.manager().create(
            schemas.BaseUserCreate(email=email, password=PASSWORD, **flags), safe=False
        )
        for role in roles:
            await self.adapter.role.assign_role(user.id, role)
        return user

    async def login(self, client: httpx.AsyncClient, email: str) -> dict[str, str]:
        """Sign in; the headers carrying the access token."""
        response = await client.post(
            "/auth/jwt/login", data={"username": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def event_types(self) -> list[str]:
        return [event.type for event in self.events]


def build_rbac_app(adapter: SQLAlchemyAdapter) -> RbacApp:
    events: list[AuditEvent] = []

    async def get_user_manager(user_db: Any = Depends(adapter.get_user_db)) -> Any:
        manager = UserManager(user_db, cheap_password_helper())
        manager.events = events
        yield manager

    sessions = SessionService(adapter.login_sessions)
    strategy = JWTStrategy(SECRET, 3600, sessions=sessions)

    async def get_strategy() -> JWTStrategy[User, uuid.UUID]:
        return strategy

    backend = AuthenticationBackend[User, uuid.UUID](
        name="jwt",
        transport=BearerTransport(tokenUrl="auth/jwt/login"),
        get_strategy=get_strategy,
        sessions=sessions,
    )
    fastapi_users = FastAPIUsers[User, uuid.UUID](
        get_user_manager, [backend], role_store=adapter.role
    )
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/jwt")
    app.include_router(
        fastapi_users.get_admin_users_router(UserRead, schemas.BaseUserCreate),
        prefix="/admin/users",
    )
    app.include_router(fastapi_users.get_admin_roles_router(), prefix="/admin/roles")

    @app.get("/articles")
    async def read_articles(
        user: User = Depends(
            fastapi_users.current_user(active=True, permissions=["articles:read"])
        ),
    ) -> dict[str, str]:
        return {"reader": user.email}

    @app.post(
        "/articles", dependencies=[Depends(fastapi_users.require_permission("articles:write"))]
    )
    async def write_article() -> dict[str, bool]:
        return {"written": True}

    @app.get("/editor")
    async def editor(user: User = Depends(fastapi_users.require_role("editor"))) -> dict[str, str]:
        return {"editor": user.email}

    @app.get("/publish")
    async def publish(
        user: User = Depends(
            fastapi_users.current_user(roles=["editor"], permissions="articles:publish")
        ),
    ) -> dict[str, str]:
        return {"publisher": user.email}

    @app.get("/maybe")
    async def maybe(
        user: User | None = Depends(fastapi_users.current_user(optional=True, roles="editor")),
    ) -> dict[str, str | None]:
        return {"editor": None if user is None else user.email}

    @app.get(
        "/twice",
        dependencies=[
            Depends(fastapi_users.require_permission("articles:read")),
            Depends(fastapi_users.require_role("editor")),
        ],
    )
    async def twice() -> dict[str, bool]:
        return {"ok": True}

    return RbacApp(app=app, adapter=adapter, fastapi_users=fastapi_users, events=events)


@asynccontextmanager
async def rbac_app(database_url: str) -> AsyncIterator[RbacApp]:
    """The app on a new database at `database_url` (tables created)."""
    adapter = SQLAlchemyAdapter(database_url)
    try:
        await adapter.create_tables()
        yield build_rbac_app(adapter)
    finally:
        await adapter.dispose()
