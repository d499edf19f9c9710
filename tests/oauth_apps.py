"""The apps of the OAuth tests (SECURITY 31-35): FastAPI Users' documented app
(`tests.apps.build_app`) plus the OAuth sign-in, associate and linked-accounts routers,
driven over HTTP through the local OpenID Connect provider (`tests.oidc_provider`) or
the GitHub stand-in, as a browser would."""

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.singleuse import MemorySingleUseStore, SingleUseStore
from doorkeeper.singleuse.sqlalchemy import SQLAlchemyBaseSingleUseTable, SQLAlchemySingleUseStore
from tests.apps import App, UserRead, build_app
from tests.local_server import browser
from tests.models import OAuthAccount, User

STATE_SECRET = "an-oauth-state-secret-that-is-long-enough-0123456789"
FRONTEND = "https://app.example.com"
STATE_COOKIE = "fastapiusersoauthcsrf"


class SingleUseBase(DeclarativeBase):
    pass


class SingleUse(SQLAlchemyBaseSingleUseTable, SingleUseBase):
    pass


async def sql_store(engine: AsyncEngine) -> SQLAlchemySingleUseStore:
    """A single-use store on the test's database (its table created)."""
    async with engine.begin() as connection:
        await connection.run_sync(SingleUseBase.metadata.create_all)
    return SQLAlchemySingleUseStore(async_sessionmaker(engine, expire_on_commit=False), SingleUse)


@dataclass
class OAuthApp:
    """An app with one provider, and the helpers that drive its flows."""

    base: App
    provider: Any
    name: str
    store: SingleUseStore

    @property
    def prefix(self) -> str:
        return f"/auth/{self.name}"

    @property
    def app(self) -> Any:
        return self.base.app

    def client(self) -> httpx.AsyncClient:
        return self.base.client()

    async def authorize(self, http: httpx.AsyncClient, **params: Any) -> str:
        """GET /authorize; the authorization URL."""
        response = await http.get(f"{self.prefix}/authorize", params=params)
        assert response.status_code == 200, response.text
        url = response.json()["authorization_url"]
        assert isinstance(url, str)
        return url

    async def approve(self, url: str) -> str:
        """The provider's redirect back to the callback, once the user approved."""
        async with browser() as provider_browser:
            response = await provider_browser.get(url)
        assert response.status_code == 302, response.text
        return str(response.headers["location"])

    async def follow(self, http: httpx.AsyncClient, location: str) -> httpx.Response:
        """Open the callback URL the provider redirected to."""
        parts = urlsplit(location)
        return await http.get(f"{parts.path}?{parts.query}")

    async def sign_in(self, http: httpx.AsyncClient, **params: Any) -> httpx.Response:
        """The whole flow: authorize, approve at the provider, callback."""
        location = await self.approve(await self.authorize(http, **params))
        return await self.follow(http, location)

    async def accounts(self, email: str) -> list[OAuthAccount]:
        async with self.base.session_maker() as session:
            db = SQLAlchemyUserDatabase(session, User, OAuthAccount)
            user = await db.get_by_email(email)
            return [] if user is None else list(user.oauth_accounts)


def callback_query(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def build_oauth_app(
    session_maker: async_sessionmaker[AsyncSession],
    provider: Any,
    *,
    client: Any = None,
    transport: str = "bearer",
    store: SingleUseStore | None = None,
    sessions: bool = False,
    refresh: bool = False,
    associate_by_email: bool = False,
    is_verified_by_default: bool = False,
    associate_options: dict[str, Any] | None = None,
    **options: Any,
) -> OAuthApp:
    """FastAPI Users' app, with the provider's sign-in router at `/auth/{name}`, its
    associate router at `/auth/{name}/associate` and the linked accounts under `/users`."""
    base = build_app(session_maker, transport=transport, sessions=sessions, refresh=refresh)
    client = client if client is not None else provider.client(name="oidc")
    store = store if store is not None else MemorySingleUseStore()
    users = base.fastapi_users
    if refresh:
        options.setdefault("refresh", True)
    base.app.include_router(
        users.get_oauth_router(
            client,
            base.backend,
            STATE_SECRET,
            associate_by_email=associate_by_email,
            is_verified_by_default=is_verified_by_default,
            state_store=store,
            **options,
        ),
        prefix=f"/auth/{client.name}",
    )
    base.app.include_router(
        users.get_oauth_associate_router(
            client, UserRead, STATE_SECRET, state_store=store, **(associate_options or {})
        ),
        prefix=f"/auth/{client.name}/associate",
    )
    base.app.include_router(users.get_oauth_accounts_router(), prefix="/users")
    return OAuthApp(base=base, provider=provider, name=client.name, store=store)


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"
