"""Ending an OAuth sign-in on the front end (SECURITY 33): redirect targets checked
against an allow-list; a cookie backend's cookie set on the redirect, a bearer
backend's one-time code (no token in any URL) exchanged at `POST /exchange`."""

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import NoMatchFound

from doorkeeper.router.oauth_exchange import ExchangeCodes
from doorkeeper.router.oauth_redirect import RedirectPolicy, check_redirect_url, with_query
from doorkeeper.singleuse import MemorySingleUseStore, single_use_key
from tests.oauth_apps import FRONTEND, build_oauth_app, sql_store
from tests.oidc_provider import OIDCProvider, oidc_provider_fixture  # noqa: F401

ADMIN = "https://admin.example.com"

OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "%252F%252Fevil.example",
    "/%5Cevil.example",
    "/%255Cevil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:x=y",
    " /welcome",
    "/welcome ",
    "\t//evil.example",
    "/\t/evil.example",
    "/\u3000/evil.example",
    "https://evil.example",
    "https://evil.example/https://app.example.com",
    "https://app.example.com@evil.example",
    "https://app.example.com%40evil.example",
    "https://app.example.com.evil.example",
    "https://evil.example#@app.example.com",
    "http://app.example.com/",
    "https://app.example.com:8443/",
    "ftp://app.example.com/",
    "https://app.example.com:99999/",
    "welcome",
    "",
    "/" + "a" * 2048,
]


@pytest.fixture
def policy() -> RedirectPolicy:
    return RedirectPolicy(f"{FRONTEND}/home", [ADMIN])


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)  # refused before any storage
@pytest.mark.parametrize("target", OPEN_REDIRECTS)
async def test_security_33_open_redirects_are_refused(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider, target: str
) -> None:
    app = build_oauth_app(
        session_maker,
        oidc_provider,
        frontend_url=f"{FRONTEND}/home",
        allowed_redirect_origins=[ADMIN],
    )
    async with app.client() as http:
        answer = await http.get("/auth/oidc/authorize", params={"next": target})
    assert answer.status_code == 400
    assert answer.json() == {"detail": "OAUTH_INVALID_REDIRECT"}
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    ("target", "resolved"),
    [
        (None, f"{FRONTEND}/home"),
        ("/welcome", f"{FRONTEND}/welcome"),
        ("/search?q=a%20b#top", f"{FRONTEND}/search?q=a%20b#top"),
        ("/a?next=%2F%2Fevil.example", f"{FRONTEND}/a?next=%2F%2Fevil.example"),
        (f"{FRONTEND}/done", f"{FRONTEND}/done"),
        ("HTTPS://APP.EXAMPLE.COM:443/x", "HTTPS://APP.EXAMPLE.COM:443/x"),
        (f"{ADMIN}/users", f"{ADMIN}/users"),
        ("/%25252541", f"{FRONTEND}/%25252541"),
    ],
)
def test_security_33_allowed_targets(policy: RedirectPolicy, target: Any, resolved: str) -> None:
    assert policy.resolve(target) == resolved


def test_security_33_configured_urls_are_checked() -> None:
    for bad in ("javascript:alert(1)", "/relative", "https://app@evil.example", "https:evil"):
        with pytest.raises(ValueError):
            check_redirect_url(bad)
    with pytest.raises(ValueError, match="allowed origin"):
        check_redirect_url("https://api.example.com/cb", [FRONTEND])
    assert check_redirect_url("https://api.example.com/cb", ["https://api.example.com"])
    with pytest.raises(ValueError, match="origin"):
        RedirectPolicy(FRONTEND, ["not an origin"])
    assert with_query(f"{FRONTEND}/x?code=old&a=1#f", code="new") == f"{FRONTEND}/x?a=1&code=new#f"


async def test_security_33_bad_redirect_url_at_build(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    with pytest.raises(ValueError):
        build_oauth_app(session_maker, oidc_provider, redirect_url="javascript:alert(1)//")
    with pytest.raises(ValueError):
        build_oauth_app(
            session_maker,
            oidc_provider,
            redirect_url="https://evil.example/cb",
            allowed_redirect_origins=[FRONTEND],
        )


async def test_next_needs_a_front_end(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        answer = await http.get("/auth/oidc/authorize", params={"next": "/welcome"})
    assert answer.json() == {"detail": "OAUTH_INVALID_REDIRECT"}


async def test_a_redirect_url_of_the_front_end(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    """FastAPI Users' `redirect_url`: the provider sends the browser to a front-end page,
    which passes `code` and `state` on to the API's callback."""
    app = build_oauth_app(session_maker, oidc_provider, redirect_url=f"{FRONTEND}/oauth/callback")
    async with app.client() as http:
        location = await app.approve(await app.authorize(http))
        assert location.startswith(f"{FRONTEND}/oauth/callback?")
        answer = await http.get(f"/auth/oidc/callback?{urlsplit(location).query}")
    assert answer.status_code == 200
    assert oidc_provider.token_requests[0]["redirect_uri"] == f"{FRONTEND}/oauth/callback"


async def test_cookie_backend_redirects_with_its_cookie(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, transport="cookie", frontend_url=FRONTEND)
    async with app.client() as http:
        answer = await app.sign_in(http, next="/dashboard")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{FRONTEND}/dashboard"
        assert answer.headers["cache-control"] == "no-store"
        cookie = answer.cookies.get("fastapiusersauth")
        assert cookie and cookie not in answer.headers["location"]
        assert (await http.get("/users/me")).json()["email"] == "alice@example.com"
    assert app.app.url_path_for("oauth:oidc.jwt.callback")
    with pytest.raises(NoMatchFound):  # a cookie needs no exchange
        app.app.url_path_for("oauth:oidc.jwt.exchange")


async def test_bearer_backend_hands_over_a_one_time_code(
    db_kind: str,
    engine: AsyncEngine,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
) -> None:
    store = await sql_store(engine)
    app = build_oauth_app(session_maker, oidc_provider, store=store, frontend_url=FRONTEND)
    async with app.client() as http:
        answer = await app.sign_in(http, next=f"{FRONTEND}/done?tab=1")
        assert answer.status_code == 303
        location = answer.headers["location"]
        assert location.startswith(f"{FRONTEND}/done?tab=1&code=")
        code = parse_qs(urlsplit(location).query)["code"][0]
        assert "access_token" not in location and len(code) == 43
        exchanged = await http.post("/auth/oidc/exchange", json={"code": code})
        assert exchanged.status_code == 200 and exchanged.json()["token_type"] == "bearer"
        assert exchanged.headers["cache-control"] == "no-store"
        auth = {"Authorization": f"Bearer {exchanged.json()['access_token']}"}
        assert (await http.get("/users/me", headers=auth)).status_code == 200
        again = await http.post("/auth/oidc/exchange", json={"code": code})
        assert again.json() == {"detail": "OAUTH_EXCHANGE_CODE_INVALID"}
        forged = await http.post("/auth/oidc/exchange", json={"code": "x" * 43})
        assert forged.json() == {"detail": "OAUTH_EXCHANGE_CODE_INVALID"}
        assert (await http.post("/auth/oidc/exchange", json={})).status_code == 422
    assert app.app.url_path_for("oauth:oidc.jwt.exchange") == "/auth/oidc/exchange"


async def test_exchange_codes_expire_and_die_with_their_user(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = build_oauth_app(
        session_maker, oidc_provider, frontend_url=FRONTEND, exchange_code_lifetime_seconds=30
    )
    async with app.client() as http:
        first = parse_qs(urlsplit((await app.sign_in(http)).headers["location"]).query)["code"][0]
        second = parse_qs(urlsplit((await app.sign_in(http)).headers["location"]).query)["code"][0]
        user = await app.base.get_user("alice@example.com")
        assert user is not None
        async with app.base.session_maker() as session:
            await session.merge(user)
            merged = await session.get(type(user), user.id)
            assert merged is not None
            merged.is_active = False
            await session.commit()
        inactive = await http.post("/auth/oidc/exchange", json={"code": first})
        assert inactive.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
        monkeypatch.setattr("doorkeeper.singleuse.store.time.time", lambda: 2**40)
        expired = await http.post("/auth/oidc/exchange", json={"code": second})
    assert expired.json() == {"detail": "OAUTH_EXCHANGE_CODE_INVALID"}


def test_exchange_code_lifetime_must_be_positive(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    with pytest.raises(ValueError, match="exchange_code_lifetime_seconds"):
        build_oauth_app(session_maker, oidc_provider, exchange_code_lifetime_seconds=0)
    with pytest.raises(ValueError, match="state_lifetime_seconds"):
        build_oauth_app(session_maker, oidc_provider, state_lifetime_seconds=0)


async def test_exchange_codes_that_do_not_hold_together() -> None:
    store = MemorySingleUseStore()
    codes = ExchangeCodes(store, route="oauth:oidc.jwt.callback", lifetime_seconds=60)
    later = datetime.now(timezone.utc) + timedelta(seconds=60)
    for value in ("not json", "[1, 2]", '{"route": "oauth:other.jwt.callback", "user_id": "1"}'):
        await store.put(single_use_key("oauth-exchange", value[:3]), value, later)
        assert await codes.redeem(value[:3]) is None
    await store.put(
        single_use_key("oauth-exchange", "n"), '{"route": "oauth:oidc.jwt.callback"}', later
    )
    assert await codes.redeem("n") is None


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
async def test_exchange_for_a_user_that_is_gone(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider, user_id: str
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, frontend_url=FRONTEND)
    later = datetime.now(timezone.utc) + timedelta(seconds=60)
    value = json.dumps({"user_id": user_id, "route": "oauth:oidc.jwt.callback"})
    await app.store.put(single_use_key("oauth-exchange", "gone"), value, later)
    async with app.client() as http:
        answer = await http.post("/auth/oidc/exchange", json={"code": "gone"})
    assert answer.json() == {"detail": "OAUTH_EXCHANGE_CODE_INVALID"}
