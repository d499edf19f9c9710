"""The app of the CSRF tests (SECURITY 29-30) and the helpers that drive it over HTTP."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import FastAPIUsers
from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    CSRFProtection,
    JWTStrategy,
    Strategy,
)
from doorkeeper.router import ErrorCode
from tests.apps import PASSWORD, SECRET, Mailbox, UserCreate, UserRead, UserUpdate, make_manager
from tests.models import User

CSRF_SECRET = "a-csrf-secret-that-is-long-enough-0123456789"
AUTH_COOKIE = "auth"
CSRF_COOKIE = "doorkeeper_csrf"
ORIGIN = "https://test"
EVIL = "https://evil.example"
TRUSTED = "https://app.example.com"
EMAIL = "alice@example.com"


@dataclass
class CSRFApp:
    app: FastAPI
    session_maker: async_sessionmaker[AsyncSession]
    auth_cookie: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=ORIGIN)

    async def create_user(self, email: str = EMAIL) -> User:
        async with self.session_maker() as session:
            manager = make_manager(session, Mailbox())
            return await manager.create(UserCreate(email=email, password=PASSWORD), safe=False)


def build(
    session_maker: async_sessionmaker[AsyncSession],
    cookie_transport: CookieTransport,
    *,
    cookie_first: bool = True,
) -> CSRFApp:
    """An app with a cookie backend and a bearer backend (JWT), every auth and users
    route, and app routes of its own guarded by `current_user`."""

    async def get_user_manager() -> AsyncIterator[object]:
        async with session_maker() as session:
            yield make_manager(session, Mailbox())

    def get_strategy() -> Strategy[User, uuid.UUID]:
        return JWTStrategy(secret=SECRET, lifetime_seconds=3600)

    cookie = AuthenticationBackend[User, uuid.UUID]("cookie", cookie_transport, get_strategy)
    bearer = AuthenticationBackend[User, uuid.UUID](
        "jwt", BearerTransport(tokenUrl="auth/jwt/login"), get_strategy
    )
    backends = [cookie, bearer] if cookie_first else [bearer, cookie]
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, backends)  # type: ignore[arg-type]
    app = FastAPI()
    for backend in backends:
        app.include_router(fastapi_users.get_auth_router(backend), prefix=f"/auth/{backend.name}")
    app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users")
    current_user = fastapi_users.current_user(active=True)
    maybe_user = fastapi_users.current_user(optional=True)

    def only_bearer() -> Sequence[AuthenticationBackend[User, uuid.UUID]]:
        return [bearer]

    bearer_user = fastapi_users.current_user(get_enabled_backends=only_bearer)

    @app.get("/notes")
    async def list_notes(user: User = Depends(current_user)) -> dict[str, str]:
        return {"owner": user.email}

    @app.post("/notes")
    async def add_note(user: User = Depends(current_user)) -> dict[str, str]:
        return {"owner": user.email}

    @app.delete("/notes")
    async def delete_notes(user: User = Depends(current_user)) -> dict[str, str]:
        return {"owner": user.email}

    @app.post("/guestbook")
    async def sign(user: User | None = Depends(maybe_user)) -> dict[str, str | None]:
        return {"owner": user.email if user else None}

    @app.post("/bearer-only")
    async def bearer_only(user: User = Depends(bearer_user)) -> dict[str, str]:
        return {"owner": user.email}

    return CSRFApp(app, session_maker, cookie_transport.cookie_name)


def protected_transport() -> CookieTransport:
    """A cookie transport with CSRF protection (default settings, one trusted origin)."""
    csrf = CSRFProtection(CSRF_SECRET, trusted_origins=[TRUSTED])
    return CookieTransport(cookie_name=AUTH_COOKIE, csrf=csrf)


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie header of the response: name → attributes (lower-cased names;
    the value under "value")."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        attributes = {"value": value}
        for part in rest:
            key, _, attribute = part.partition("=")
            attributes[key.lower()] = attribute
        cookies[name] = attributes
    return cookies


def form(email: str = EMAIL) -> dict[str, str]:
    return {"username": email, "password": PASSWORD}


async def get_csrf_token(client: httpx.AsyncClient) -> str:
    response = await client.get("/auth/cookie/csrf")
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert isinstance(token, str)
    client.cookies.clear()
    return token


def headers(
    auth: str | None = None, csrf: str | None = None, header: str | None = None, **extra: str
) -> dict[str, str]:
    """Request headers: the auth cookie, the CSRF cookie, the CSRF header (the cookie's
    value unless given), and any other header (underscores become dashes)."""
    cookies = []
    if auth is not None:
        cookies.append(f"{AUTH_COOKIE}={auth}")
    if csrf is not None:
        cookies.append(f"{CSRF_COOKIE}={csrf}")
    result = {name.replace("_", "-"): value for name, value in extra.items()}
    if cookies:
        result["Cookie"] = "; ".join(cookies)
    header = header if header is not None else csrf
    if header is not None:
        result["X-CSRF-Token"] = header
    return result


async def cookie_login(dk: CSRFApp, client: httpx.AsyncClient) -> tuple[str, str]:
    """Log in through the cookie backend, the way a page would: the auth token and the
    fresh CSRF token the login response set."""
    csrf = await get_csrf_token(client)
    response = await client.post(
        "/auth/cookie/login", data=form(), headers=headers(csrf=csrf, Origin=ORIGIN)
    )
    assert response.status_code == 204, response.text
    cookies = set_cookies(response)
    client.cookies.clear()
    return cookies[dk.auth_cookie]["value"], cookies[CSRF_COOKIE]["value"]


async def bearer_login(client: httpx.AsyncClient) -> str:
    response = await client.post("/auth/jwt/login", data=form())
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def assert_refused(response: httpx.Response, code: ErrorCode) -> None:
    assert response.status_code == 403, response.text
    assert response.json() == {"detail": code.value}
