"""Building FastAPI apps with the compatible API, as an app following FastAPI Users'
documentation would, for the router and flow tests."""

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from doorkeeper.authentication import (
    AuthCache,
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
    RedisStrategy,
    Strategy,
    Transport,
)
from doorkeeper.authentication.sessions import SessionService
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from doorkeeper.sessions.redis import RedisSessionStore
from doorkeeper.sessions.sqlalchemy import SQLAlchemySessionStore
from tests.conftest import cheap_password_helper
from tests.models import AccessToken, OAuthAccount, RefreshToken, Session, User

SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"
PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-long-passphrase-for-tests-77"
COOKIE_NAME = "fastapiusersauth"
TRANSPORTS = ["bearer", "cookie"]
STRATEGIES = ["jwt", "database", "redis"]


class UserRead(schemas.BaseUser[uuid.UUID]):
    first_name: str | None = None


class UserCreate(schemas.BaseUserCreate):
    first_name: str | None = None


class UserUpdate(schemas.BaseUserUpdate):
    first_name: str | None = None


@dataclass
class Mailbox:
    """What the hooks would have mailed: (address, token) pairs."""

    verify: list[tuple[str, str]] = field(default_factory=list)
    reset: list[tuple[str, str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @staticmethod
    def _last(items: list[tuple[str, str]], email: str) -> str:
        tokens = [token for address, token in items if address.lower() == email.lower()]
        assert tokens, f"no token was sent to {email}"
        return tokens[-1]

    def last_verify_token(self, email: str) -> str:
        return self._last(self.verify, email)

    def last_reset_token(self, email: str) -> str:
        return self._last(self.reset, email)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET
    mailbox: Mailbox

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        self.mailbox.verify.append((user.email, token))
        self.mailbox.events.append("verify token")

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        self.mailbox.reset.append((user.email, token))
        self.mailbox.events.append("reset token")

    async def on_after_login(
        self, user: User, request: Request | None = None, response: Any = None
    ) -> None:
        self.mailbox.logins.append(user.email)


DEPENDENCY_SCOPES = "scope" in inspect.signature(Depends).parameters
"""Whether this FastAPI has `Depends(..., scope=...)` (0.121 and later)."""


def scoped(dependency: Callable[..., Any], scope: Literal["function", "request"] | None) -> Any:
    """`Depends(dependency, scope=scope)`, or plain `Depends(dependency)` for no scope."""
    if scope is None:
        return Depends(dependency)
    return Depends(dependency, scope=scope)


@dataclass
class App:
    """An app and what the tests need to drive it."""

    app: FastAPI
    fastapi_users: FastAPIUsers[User, uuid.UUID]
    backend: AuthenticationBackend[User, uuid.UUID]
    mailbox: Mailbox
    session_maker: async_sessionmaker[AsyncSession]
    transport: str

    @property
    def prefix(self) -> str:
        return f"/auth/{self.backend.name}"

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://test"
        )

    def auth(self, token: str) -> dict[str, str]:
        """The headers that present `token` through this app's transport."""
        if self.transport == "cookie":
            return {"Cookie": f"{COOKIE_NAME}={token}"}
        return {"Authorization": f"Bearer {token}"}

    async def login(self, client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
        """Log in and return the token (the cookie jar is left empty)."""
        response = await client.post(
            f"{self.prefix}/login", data={"username": email, "password": password}
        )
        assert response.status_code in (200, 204), response.text
        client.cookies.clear()
        if self.transport == "cookie":
            assert response.status_code == 204
            token = response.cookies.get(COOKIE_NAME)
            assert token
            return token
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        token = body["access_token"]
        assert isinstance(token, str)
        return token

    async def create_user(self, email: str, password: str = PASSWORD, **flags: Any) -> User:
        """Create a user directly through the manager (privileged flags allowed)."""
        async with self.session_maker() as session:
            manager = make_manager(session, self.mailbox)
            return await manager.create(
                UserCreate(email=email, password=password, **flags), safe=False
            )

    async def get_user(self, email: str) -> User | None:
        async with self.session_maker() as session:
            return await SQLAlchemyUserDatabase(session, User, OAuthAccount).get_by_email(email)


def make_manager(session: AsyncSession, mailbox: Mailbox) -> UserManager:
    manager = UserManager(
        SQLAlchemyUserDatabase(session, User, OAuthAccount), cheap_password_helper()
    )
    manager.mailbox = mailbox
    return manager


def make_transport(kind: str) -> Transport:
    if kind == "cookie":
        return CookieTransport(cookie_name=COOKIE_NAME, cookie_max_age=3600)
    return BearerTransport(tokenUrl="auth/jwt/login")


def build_app(
    session_maker: async_sessionmaker[AsyncSession],
    *,
    transport: str = "bearer",
    strategy: str = "jwt",
    redis: Any = None,
    requires_verification: bool = False,
    mailbox: Mailbox | None = None,
    dependency_scope: Literal["function", "request"] | None = None,
    sessions: bool = False,
    refresh: bool = False,
    backend_kwargs: dict[str, Any] | None = None,
    session_service: SessionService | None = None,
    email_change: bool = False,
    auth_cache: AuthCache | None = None,
) -> App:
    """The app of FastAPI Users' documentation: one backend, every router.

    `dependency_scope="function"` closes the session (and its dependants) before the
    response is sent, so before background tasks run.
    """
    if dependency_scope is not None and not DEPENDENCY_SCOPES:
        pytest.skip("dependency scopes need FastAPI 0.121 or later")
    mailbox = mailbox if mailbox is not None else Mailbox()

    async def get_async_session() -> AsyncIterator[AsyncSession]:
        async with session_maker() as session:
            yield session
        mailbox.events.append("session closed")

    async def get_user_db(
        session: AsyncSession = scoped(get_async_session, dependency_scope),
    ) -> AsyncIterator[SQLAlchemyUserDatabase[User, uuid.UUID]]:
        yield SQLAlchemyUserDatabase(session, User, OAuthAccount)

    def new_manager(user_db: SQLAlchemyUserDatabase[User, uuid.UUID]) -> UserManager:
        manager = UserManager(user_db, cheap_password_helper())
        manager.mailbox = mailbox
        return manager

    async def yield_user_manager(
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = scoped(get_user_db, dependency_scope),
    ) -> AsyncIterator[UserManager]:
        yield new_manager(user_db)

    async def return_user_manager(
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = scoped(get_user_db, dependency_scope),
    ) -> UserManager:
        return new_manager(user_db)

    # FastAPI refuses a yield dependency of the default ("request") scope depending on a
    # "function"-scoped one: with function scope, the manager dependency returns.
    get_user_manager = return_user_manager if dependency_scope == "function" else yield_user_manager

    if sessions and session_service is None:
        session_service = make_session_service(session_maker, strategy, redis)

    def get_jwt_strategy() -> Strategy[User, uuid.UUID]:
        return JWTStrategy(secret=SECRET, lifetime_seconds=3600, sessions=session_service)

    def get_database_strategy(
        session: AsyncSession = scoped(get_async_session, dependency_scope),
    ) -> Strategy[User, uuid.UUID]:
        return DatabaseStrategy(
            SQLAlchemyAccessTokenDatabase(session, AccessToken), lifetime_seconds=3600
        )

    def get_redis_strategy() -> Strategy[User, uuid.UUID]:
        assert redis is not None, "the redis strategy needs the redis fixture"
        return RedisStrategy(redis, lifetime_seconds=3600, key_prefix=redis.test_prefix)

    get_strategy = {
        "jwt": get_jwt_strategy,
        "database": get_database_strategy,
        "redis": get_redis_strategy,
    }[strategy]
    backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        name=strategy,
        transport=make_transport(transport),
        get_strategy=get_strategy,
        sessions=session_service,
        **(backend_kwargs or {}),
    )
    fastapi_users = FastAPIUsers[User, uuid.UUID](
        get_user_manager, [backend], auth_cache=auth_cache
    )

    app = FastAPI()
    app.include_router(
        fastapi_users.get_auth_router(
            backend, requires_verification=requires_verification, refresh=refresh
        ),
        prefix=f"/auth/{backend.name}",
        tags=["auth"],
    )
    if sessions:
        app.include_router(fastapi_users.get_sessions_router(), prefix="/users", tags=["users"])
    app.include_router(
        fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"]
    )
    app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth", tags=["auth"])
    app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
    app.include_router(
        fastapi_users.get_users_router(
            UserRead,
            UserUpdate,
            requires_verification=requires_verification,
            email_change=email_change,
        ),
        prefix="/users",
        tags=["users"],
    )
    return App(
        app=app,
        fastapi_users=fastapi_users,
        backend=backend,
        mailbox=mailbox,
        session_maker=session_maker,
        transport=transport,
    )


def make_session_service(
    session_maker: async_sessionmaker[AsyncSession], strategy: str, redis: Any = None
) -> SessionService:
    """Sessions in Redis for the Redis strategy, in the database otherwise."""
    store: Any
    if strategy == "redis":
        store = RedisSessionStore(redis, key_prefix=redis.test_prefix + "session:")
    else:
        store = SQLAlchemySessionStore(session_maker, Session, RefreshToken, User)
    return SessionService(store)


def unreachable_url(database_url: str, tmp_path: Path) -> str:
    """A URL of the same kind as `database_url` where no database answers."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'missing-directory' / 'nothing.db'}"
    return url.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)


async def post_raw(
    app: FastAPI, path: str, json_body: Any, on_response_sent: Callable[[], None]
) -> int:
    """POST through the bare ASGI interface; `on_response_sent` runs the moment the last
    byte of the response is handed to the server, before background tasks go on."""
    body = json.dumps(json_body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 443),
    }
    request_sent = False
    response_complete = asyncio.Event()
    status_code = 0

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await response_complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status_code
        if message["type"] == "http.response.start":
            status_code = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            on_response_sent()
            response_complete.set()

    await app(scope, receive, send)
    return status_code


PAIRS = [(transport, strategy) for strategy in STRATEGIES for transport in TRANSPORTS]
"""Every (transport, strategy) pair, for `pytest.fixture(params=PAIRS, ids=pair_id)`."""


def pair_id(pair: tuple[str, str]) -> str:
    return "-".join(pair)


def build_pair_app(
    request: pytest.FixtureRequest,
    session_maker: async_sessionmaker[AsyncSession],
    **options: Any,
) -> App:
    """The app of the fixture's (transport, strategy) pair, from a sync fixture (the
    Redis fixture is only set up for the Redis strategy)."""
    transport, strategy = request.param
    redis = request.getfixturevalue("redis") if strategy == "redis" else None
    return build_app(session_maker, transport=transport, strategy=strategy, redis=redis, **options)
