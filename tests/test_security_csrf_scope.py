"""SECURITY.md item 30 over HTTP: what CSRF protection covers (login, logout, every
cookie-authenticated route of the app) and what it exempts (bearer, GET), and its setup."""

import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    CSRFProtection,
    JWTStrategy,
    Strategy,
)
from doorkeeper.authentication.csrf import parse_origin
from doorkeeper.router import ErrorCode
from doorkeeper.router.csrf import csrf_protect, get_csrf_router
from tests.apps import SECRET
from tests.csrf_apps import (
    AUTH_COOKIE,
    CSRF_COOKIE,
    CSRF_SECRET,
    EVIL,
    CSRFApp,
    assert_refused,
    bearer_login,
    build,
    cookie_login,
    form,
    get_csrf_token,
    headers,
    protected_transport,
    set_cookies,
)
from tests.models import User


@pytest.fixture
def db_kind() -> str:
    return "sqlite"  # nothing here depends on the database


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> CSRFApp:
    return build(session_maker, protected_transport())


# 30. Login and logout included


async def test_security_30_login_needs_the_token(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        csrf = await get_csrf_token(client)
        missing = await client.post("/auth/cookie/login", data=form())
        forged = "A" * 43 + "." + "B" * 43
        invalid = await client.post("/auth/cookie/login", data=form(), headers=headers(csrf=forged))
        cross_site = await client.post(
            "/auth/cookie/login", data=form(), headers=headers(csrf=csrf, Origin=EVIL)
        )
        fetch_cross_site = await client.post(
            "/auth/cookie/login",
            data=form(),
            headers=headers(csrf=csrf, Sec_Fetch_Site="cross-site"),
        )
        accepted = await client.post("/auth/cookie/login", data=form(), headers=headers(csrf=csrf))
    assert_refused(missing, ErrorCode.CSRF_TOKEN_MISSING)
    assert_refused(invalid, ErrorCode.CSRF_TOKEN_INVALID)
    assert_refused(cross_site, ErrorCode.CSRF_ORIGIN_MISMATCH)
    assert_refused(fetch_cross_site, ErrorCode.CSRF_ORIGIN_MISMATCH)
    for refused in (missing, invalid, cross_site, fetch_cross_site):
        assert "set-cookie" not in refused.headers
    assert accepted.status_code == 204


async def test_security_30_login_and_logout_rotate_the_token(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        before = await get_csrf_token(client)
        login = await client.post("/auth/cookie/login", data=form(), headers=headers(csrf=before))
        cookies = set_cookies(login)
        auth, after_login = cookies[AUTH_COOKIE]["value"], cookies[CSRF_COOKIE]["value"]
        client.cookies.clear()
        logout = await client.post("/auth/cookie/logout", headers=headers(auth, after_login))
        cookies = set_cookies(logout)
    after_logout = cookies[CSRF_COOKIE]["value"]
    assert logout.status_code == 204
    assert cookies[AUTH_COOKIE]["max-age"] == "0"
    assert len({before, after_login, after_logout}) == 3
    assert "httponly" not in cookies[CSRF_COOKIE]


async def test_security_30_logout_needs_the_token(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        missing = await client.post("/auth/cookie/logout", headers=headers(auth))
        cross_site = await client.post(
            "/auth/cookie/logout", headers=headers(auth, csrf, Origin=EVIL)
        )
        still_signed_in = await client.get("/users/me", headers=headers(auth))
    assert_refused(missing, ErrorCode.CSRF_TOKEN_MISSING)
    assert_refused(cross_site, ErrorCode.CSRF_ORIGIN_MISMATCH)
    assert "set-cookie" not in missing.headers
    assert still_signed_in.status_code == 200


# 30. Every cookie-authenticated state change, not only Doorkeeper's routes


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/notes", None),
        ("DELETE", "/notes", None),
        ("PATCH", "/users/me", {"first_name": "Alice"}),
        ("POST", "/guestbook", None),  # `current_user(optional=True)` too
    ],
)
async def test_security_30_app_routes_are_protected(
    dk: CSRFApp, method: str, path: str, body: dict[str, str] | None
) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        refused = await client.request(method, path, json=body, headers=headers(auth))
        accepted = await client.request(method, path, json=body, headers=headers(auth, csrf))
    assert_refused(refused, ErrorCode.CSRF_TOKEN_MISSING)
    assert accepted.status_code == 200, accepted.text


async def test_security_30_get_never_needs_a_token(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, _ = await cookie_login(dk, client)
        cross_site = headers(auth, Origin=EVIL, Sec_Fetch_Site="cross-site")
        me = await client.get("/users/me", headers=cross_site)
        notes = await client.get("/notes", headers=cross_site)
        head = await client.head("/notes", headers=cross_site)
        options = await client.options("/notes", headers=cross_site)
    assert me.status_code == 200
    assert notes.status_code == 200
    assert head.status_code != 403
    assert options.status_code != 403


async def test_security_30_anonymous_requests_are_not_checked(dk: CSRFApp) -> None:
    """With no cookie that authenticates, there is nothing to forge: 401, or anonymous."""
    async with dk.client() as client:
        notes = await client.post("/notes", headers={"Origin": EVIL})
        stale = await client.post("/notes", headers=headers("stale-token", Origin=EVIL))
        guest = await client.post("/guestbook", headers={"Origin": EVIL})
    assert notes.status_code == 401
    assert stale.status_code == 401
    assert guest.json() == {"owner": None}


# 30. Bearer requests are exempt


async def test_security_30_bearer_requests_are_exempt(dk: CSRFApp) -> None:
    await dk.create_user()
    cross_site = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    async with dk.client() as client:
        login = await client.post("/auth/jwt/login", data=form(), headers=cross_site)
        assert login.status_code == 200
        bearer = login.json()["access_token"]
        authorization = {"Authorization": f"Bearer {bearer}"} | cross_site
        note = await client.post("/notes", headers=authorization)
        patch = await client.patch("/users/me", json={"first_name": "A"}, headers=authorization)
        # A cookie that does not authenticate the request changes nothing.
        stale = await client.post("/notes", headers=authorization | headers("stale-token"))
        logout = await client.post("/auth/jwt/logout", headers=authorization)
    assert note.status_code == 200
    assert patch.status_code == 200
    assert stale.status_code == 200
    assert logout.status_code == 204


async def test_security_30_only_the_backend_that_accepted_the_token_counts(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """Bearer tried first: a valid session cookie beside it is not what authenticates."""
    dk = build(session_maker, protected_transport(), cookie_first=False)
    await dk.create_user()
    async with dk.client() as client:
        auth, _ = await cookie_login(dk, client)
        bearer = await bearer_login(client)
        both = headers(auth, Origin=EVIL) | {"Authorization": f"Bearer {bearer}"}
        bearer_wins = await client.post("/notes", headers=both)
        cookie_only = await client.post("/notes", headers=headers(auth, Origin=EVIL))
        # A route that only looks at the bearer backend ignores the cookie.
        cookie_ignored = await client.post("/bearer-only", headers=headers(auth, Origin=EVIL))
    assert bearer_wins.status_code == 200
    assert_refused(cookie_only, ErrorCode.CSRF_ORIGIN_MISMATCH)
    assert cookie_ignored.status_code == 401


# Opt-in: an app that does not configure it behaves as before


async def test_without_csrf_protection_nothing_changes(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build(session_maker, CookieTransport(cookie_name=AUTH_COOKIE))
    await dk.create_user()
    async with dk.client() as client:
        login = await client.post("/auth/cookie/login", data=form(), headers={"Origin": EVIL})
        assert set(set_cookies(login)) == {AUTH_COOKIE}
        auth = set_cookies(login)[AUTH_COOKIE]["value"]
        client.cookies.clear()
        note = await client.post("/notes", headers=headers(auth, Origin=EVIL))
        route = await client.get("/auth/cookie/csrf")
    assert login.status_code == 204
    assert note.status_code == 200
    assert route.status_code == 404
    openapi = dk.app.openapi()
    assert "403" not in openapi["paths"]["/auth/cookie/login"]["post"]["responses"]


def test_openapi_documents_the_csrf_route_and_answers(dk: CSRFApp) -> None:
    openapi = dk.app.openapi()
    route = openapi["paths"]["/auth/cookie/csrf"]["get"]
    schema = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CSRFTokenResponse"}
    for path in ("/auth/cookie/login", "/auth/cookie/logout"):
        examples = openapi["paths"][path]["post"]["responses"]["403"]["content"][
            "application/json"
        ]["examples"]
        assert set(examples) == {
            "CSRF_ORIGIN_MISMATCH",
            "CSRF_TOKEN_MISSING",
            "CSRF_TOKEN_INVALID",
        }
    assert "403" not in openapi["paths"]["/auth/jwt/login"]["post"]["responses"]
    assert dk.app.url_path_for("auth:cookie.csrf") == "/auth/cookie/csrf"


# Configuration


def test_csrf_protection_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        CSRFProtection("short")
    with pytest.raises(ValueError, match="at least 32"):
        CSRFProtection(b"x" * 31)
    for secret in (CSRF_SECRET, SecretStr(CSRF_SECRET), CSRF_SECRET.encode()):
        token = CSRFProtection(secret).generate_token()
        assert CSRFProtection(CSRF_SECRET).verify_token(token)
    assert not CSRFProtection(CSRF_SECRET + "x").verify_token(token)
    assert not CSRFProtection(CSRF_SECRET).verify_token("garbage")


@pytest.mark.parametrize("origin", ["app.example.com", "https://app.example.com/path", "null"])
def test_csrf_protection_refuses_a_bad_trusted_origin(origin: str) -> None:
    with pytest.raises(ValueError, match="trusted origin"):
        CSRFProtection(CSRF_SECRET, trusted_origins=[origin])


def test_csrf_cookie_prefixes_are_checked() -> None:
    CSRFProtection(CSRF_SECRET, cookie_name="__Host-csrf")
    with pytest.raises(ValueError, match="__Host-"):
        CSRFProtection(CSRF_SECRET, cookie_name="__Host-csrf", cookie_path="/app")
    with pytest.raises(ValueError, match="__Secure-"):
        CSRFProtection(CSRF_SECRET, cookie_name="__Secure-csrf", cookie_secure=False)


def test_csrf_routes_need_a_protected_cookie_backend() -> None:
    def get_strategy() -> Strategy[User, uuid.UUID]:
        return JWTStrategy(secret=SECRET, lifetime_seconds=60)

    for transport in (CookieTransport(), BearerTransport(tokenUrl="login")):
        backend = AuthenticationBackend[User, uuid.UUID]("plain", transport, get_strategy)
        with pytest.raises(ValueError, match="no CSRF protection"):
            get_csrf_router(backend)
        with pytest.raises(ValueError, match="no CSRF protection"):
            csrf_protect(backend)


def test_parse_origin() -> None:
    assert parse_origin("https://Example.COM") == ("https", "example.com", 443)
    assert parse_origin("http://example.com:8080/x") == ("http", "example.com", 8080)
    assert parse_origin("wss://example.com") == ("wss", "example.com", None)
    assert parse_origin("null") is None
    assert parse_origin("https://example.com:99999") is None
    assert parse_origin("/relative") is None
