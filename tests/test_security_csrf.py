"""SECURITY.md section G over HTTP: cookie defaults (29), and the origin and token checks
of CSRF protection (30); see also test_security_csrf_scope.py."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.authentication import (
    CookieTransport,
    CSRFProtection,
)
from doorkeeper.router import ErrorCode
from tests.csrf_apps import (
    AUTH_COOKIE,
    CSRF_COOKIE,
    CSRF_SECRET,
    EMAIL,
    EVIL,
    ORIGIN,
    TRUSTED,
    CSRFApp,
    assert_refused,
    build,
    cookie_login,
    form,
    get_csrf_token,
    headers,
    protected_transport,
    set_cookies,
)


@pytest.fixture
def db_kind() -> str:
    return "sqlite"  # nothing here depends on the database


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> CSRFApp:
    return build(session_maker, protected_transport())


# 29. Cookie transport defaults


async def test_security_29_cookie_defaults_over_http(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build(session_maker, CookieTransport())
    await dk.create_user()
    async with dk.client() as client:
        response = await client.post("/auth/cookie/login", data=form())
    assert response.status_code == 204
    cookie = set_cookies(response)["fastapiusersauth"]
    assert cookie["value"]
    assert "httponly" in cookie
    assert "secure" in cookie
    assert cookie["samesite"] == "lax"
    assert cookie["path"] == "/"
    assert "domain" not in cookie


async def test_security_29_host_prefixed_cookie_over_http(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build(session_maker, CookieTransport(cookie_name="__Host-auth"))
    await dk.create_user()
    async with dk.client() as client:
        response = await client.post("/auth/cookie/login", data=form())
        assert response.status_code == 204
        cookie = set_cookies(response)["__Host-auth"]
        client.cookies.clear()
        me = await client.get("/users/me", headers={"Cookie": f"__Host-auth={cookie['value']}"})
    assert me.status_code == 200
    assert me.json()["email"] == EMAIL
    assert cookie["path"] == "/"
    assert "secure" in cookie
    assert "domain" not in cookie
    with pytest.raises(ValueError, match="__Host-"):
        CookieTransport(cookie_name="__Host-auth", cookie_domain="example.com")


async def test_security_29_logout_expires_the_cookie(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build(session_maker, CookieTransport(cookie_name=AUTH_COOKIE))
    await dk.create_user()
    async with dk.client() as client:
        login = await client.post("/auth/cookie/login", data=form())
        token = set_cookies(login)[AUTH_COOKIE]["value"]
        client.cookies.clear()
        logout = await client.post("/auth/cookie/logout", headers=headers(auth=token))
        assert logout.status_code == 204
        cookie = set_cookies(logout)[AUTH_COOKIE]
        client.cookies.clear()
        me = await client.get("/users/me", headers=headers(auth=token))
    assert cookie["value"] == '""'
    assert cookie["max-age"] == "0"
    assert cookie["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert cookie["path"] == "/"
    assert "httponly" in cookie
    assert "secure" in cookie
    assert me.status_code == 401


async def test_security_29_csrf_cookie_is_readable_but_otherwise_strict(dk: CSRFApp) -> None:
    async with dk.client() as client:
        response = await client.get("/auth/cookie/csrf")
    cookie = set_cookies(response)[CSRF_COOKIE]
    assert cookie["value"] == response.json()["csrf_token"]
    assert "httponly" not in cookie  # the page's script sends it back in the header
    assert "secure" in cookie
    assert cookie["samesite"] == "lax"
    assert cookie["path"] == "/"
    assert "domain" not in cookie
    assert "max-age" not in cookie
    assert response.headers["cache-control"] == "no-store"


# 30. CSRF: the origin check


async def test_security_30_cross_site_origin_is_refused(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        refused = await client.post("/notes", headers=headers(auth, csrf, Origin=EVIL))
        accepted = await client.post("/notes", headers=headers(auth, csrf, Origin=ORIGIN))
    assert_refused(refused, ErrorCode.CSRF_ORIGIN_MISMATCH)
    assert accepted.status_code == 200
    assert accepted.json() == {"owner": EMAIL}


async def test_security_30_sec_fetch_site_cross_site_is_refused(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        refused = await client.post(
            "/notes", headers=headers(auth, csrf, Sec_Fetch_Site="cross-site")
        )
        same_origin = await client.post(
            "/notes", headers=headers(auth, csrf, Sec_Fetch_Site="same-origin")
        )
    assert_refused(refused, ErrorCode.CSRF_ORIGIN_MISMATCH)
    assert same_origin.status_code == 200


@pytest.mark.parametrize(
    "origin_headers",
    [
        {"Referer": "https://evil.example/page"},  # no Origin: the Referer's origin counts
        {"Origin": "null"},  # sandboxed frames and some redirects
        {"Origin": "http://test"},  # another scheme is another origin
        {"Origin": "https://test:8443"},  # so is another port
        {"Origin": "https://test:bad-port"},
        {"Origin": "https://sub.test"},  # same site, other origin
        {"Origin": EVIL, "Referer": "https://test/page"},  # Origin wins over Referer
    ],
    ids=["referer", "null", "scheme", "port", "bad-port", "subdomain", "origin-first"],
)
async def test_security_30_other_origins_are_refused(
    dk: CSRFApp, origin_headers: dict[str, str]
) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        response = await client.post("/notes", headers=headers(auth, csrf) | origin_headers)
    assert_refused(response, ErrorCode.CSRF_ORIGIN_MISMATCH)


@pytest.mark.parametrize(
    "origin_headers",
    [
        {},  # no Origin, no Referer (not a browser, or stripped): the token decides
        {"Origin": "https://TEST:443"},  # the default port, any case
        {"Referer": "https://test/some/page?q=1"},
        {"Origin": TRUSTED},
        {"Origin": TRUSTED, "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},  # typed in by the user
    ],
    ids=["none", "default-port", "referer", "trusted", "trusted-same-site", "user-initiated"],
)
async def test_security_30_own_and_trusted_origins_pass(
    dk: CSRFApp, origin_headers: dict[str, str]
) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        response = await client.post("/notes", headers=headers(auth, csrf) | origin_headers)
    assert response.status_code == 200, response.text


# 30. CSRF: the signed double-submit token


async def test_security_30_missing_token_is_refused(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        no_token = await client.post("/notes", headers=headers(auth, Origin=ORIGIN))
        no_header = await client.post(
            "/notes", headers={"Cookie": f"{AUTH_COOKIE}={auth}; {CSRF_COOKIE}={csrf}"}
        )
        no_cookie = await client.post("/notes", headers=headers(auth, header=csrf))
    for response in (no_token, no_header, no_cookie):
        assert_refused(response, ErrorCode.CSRF_TOKEN_MISSING)


async def test_security_30_wrong_token_is_refused(dk: CSRFApp) -> None:
    await dk.create_user()
    other = CSRFProtection(CSRF_SECRET)
    async with dk.client() as client:
        auth, csrf = await cookie_login(dk, client)
        another_valid = other.generate_token()
        assert another_valid != csrf
        different = await client.post("/notes", headers=headers(auth, csrf, header=another_valid))
        malformed = await client.post("/notes", headers=headers(auth, csrf, header="not-a-token"))
        non_ascii_cookie = await client.post(
            "/notes",
            headers=[
                (b"X-CSRF-Token", csrf.encode()),
                (b"Cookie", f"{AUTH_COOKIE}={auth}; {CSRF_COOKIE}=\xe9".encode()),
            ],
        )
    for response in (different, malformed, non_ascii_cookie):
        assert_refused(response, ErrorCode.CSRF_TOKEN_INVALID)


@pytest.mark.parametrize(
    "forged",
    [
        "A" * 43 + "." + "B" * 43,  # the right shape, no valid signature
        "just-a-value-the-attacker-chose",
        CSRFProtection("another-secret-that-is-long-enough-987654321").generate_token(),
    ],
    ids=["unsigned", "arbitrary", "other-secret"],
)
async def test_security_30_tossed_cookie_with_matching_header_is_refused(
    dk: CSRFApp, forged: str
) -> None:
    """Cookie tossing: a sibling subdomain forces its own CSRF cookie upon the browser
    and sends the same value in the header; the signature gives it away."""
    await dk.create_user()
    async with dk.client() as client:
        auth, _ = await cookie_login(dk, client)
        response = await client.post("/notes", headers=headers(auth, forged, Origin=ORIGIN))
    assert_refused(response, ErrorCode.CSRF_TOKEN_INVALID)


async def test_security_30_other_tokens_signed_with_the_secret_are_refused(dk: CSRFApp) -> None:
    """A token of another purpose signed with the same secret (the session JWT itself)
    does not pass for a CSRF token."""
    await dk.create_user()
    async with dk.client() as client:
        auth, _ = await cookie_login(dk, client)
        response = await client.post("/notes", headers=headers(auth, auth))
    assert_refused(response, ErrorCode.CSRF_TOKEN_INVALID)


async def test_security_30_token_from_the_csrf_route_works(dk: CSRFApp) -> None:
    await dk.create_user()
    async with dk.client() as client:
        auth, _ = await cookie_login(dk, client)
        csrf = await get_csrf_token(client)
        response = await client.post("/notes", headers=headers(auth, csrf, Origin=ORIGIN))
    assert response.status_code == 200


async def test_security_30_csrf_route_keeps_a_valid_token_and_replaces_a_bad_one(
    dk: CSRFApp,
) -> None:
    async with dk.client() as client:
        first = await get_csrf_token(client)
        again = await client.get("/auth/cookie/csrf", headers=headers(csrf=first))
        forged = "A" * 43 + "." + "B" * 43
        replaced = await client.get("/auth/cookie/csrf", headers=headers(csrf=forged))
    assert again.json() == {"csrf_token": first}  # several tabs share one token
    assert set_cookies(again)[CSRF_COOKIE]["value"] == first
    assert replaced.json()["csrf_token"] not in (first, forged)


async def test_security_30_browser_flow_with_the_readable_cookie(dk: CSRFApp) -> None:
    """A page that keeps the cookie jar and copies the CSRF cookie into the header."""
    await dk.create_user()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dk.app), base_url="https://test.example"
    ) as client:
        client.headers["Origin"] = "https://test.example"
        await client.get("/auth/cookie/csrf")
        login = await client.post(
            "/auth/cookie/login",
            data=form(),
            headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]},
        )
        assert login.status_code == 204
        note = await client.post("/notes", headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
        assert note.status_code == 200
        assert (await client.post("/notes")).status_code == 403
        logout = await client.post(
            "/auth/cookie/logout", headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]}
        )
        assert logout.status_code == 204
        assert (await client.get("/notes")).status_code == 401
