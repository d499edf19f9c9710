"""OAuth sign-in through FastAPI Users' API (`get_oauth_router`): routes, route names and
answers, sign-up, sign-in, association by e-mail and the pre-hijacking defence
(SECURITY 34), over HTTP against the local OpenID Connect provider."""

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.oauth_flows import has_usable_password
from doorkeeper.singleuse import MemorySingleUseStore
from tests.apps import PASSWORD, UserManager, build_app
from tests.oauth_apps import STATE_COOKIE, STATE_SECRET, OAuthApp, build_oauth_app, new_email
from tests.oidc_provider import OIDCProvider, ProviderUser, oidc_provider_fixture  # noqa: F401


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_authorize_answers_the_url_and_binds_the_browser(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        response = await http.get("/auth/oidc/authorize")
    assert response.status_code == 200
    assert set(response.json()) == {"authorization_url"}
    assert response.headers["cache-control"] == "no-store"
    query = {
        k: v[0] for k, v in parse_qs(urlsplit(response.json()["authorization_url"]).query).items()
    }
    assert query["redirect_uri"] == "https://test/auth/oidc/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["nonce"] and query["scope"] == "openid email profile"
    claims = jwt.decode(
        query["state"], STATE_SECRET, algorithms=["HS256"], audience="fastapi-users:oauth-state"
    )
    assert claims["route"] == "oauth:oidc.jwt.callback" and claims["jti"] and claims["csrftoken"]
    assert claims["exp"] - claims.get("iat", claims["exp"] - 600) <= 600
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{STATE_COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age=600"):
        assert attribute in cookie
    binding = cookie.split(";")[0].split("=", 1)[1]
    assert binding not in response.text  # the binding never travels in the URL


async def test_route_names_and_scopes(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    assert app.app.url_path_for("oauth:oidc.jwt.authorize") == "/auth/oidc/authorize"
    assert app.app.url_path_for("oauth:oidc.jwt.callback") == "/auth/oidc/callback"
    assert (
        app.app.url_path_for("oauth-associate:oidc.authorize") == "/auth/oidc/associate/authorize"
    )
    assert app.app.url_path_for("oauth-associate:oidc.callback") == "/auth/oidc/associate/callback"
    async with app.client() as http:
        url = await app.authorize(http, scopes=["email", "profile"])
        assert parse_qs(urlsplit(url).query)["scope"] == ["openid email profile"]
        url = await app.authorize(http, scopes=["openid", "email"])
        assert parse_qs(urlsplit(url).query)["scope"] == ["openid email"]
        # A second flow in the same browser reuses its binding: two tabs can sign in.
        first = http.cookies[STATE_COOKIE]
        await app.authorize(http)
        assert http.cookies[STATE_COOKIE] == first


async def test_sign_up_creates_a_user_without_a_usable_password(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    app = build_oauth_app(session_maker, oidc_provider, is_verified_by_default=True)
    async with app.client() as http:
        response = await app.sign_in(http)
        assert response.status_code == 200
        assert response.json()["token_type"] == "bearer"
        me = await http.get("/users/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["email"] == "alice@example.com" and me.json()["is_verified"] is True
    user = await app.base.get_user("alice@example.com")
    assert user is not None and not has_usable_password(user)
    async with app.client() as http:
        login = await http.post(
            "/auth/jwt/login", data={"username": "alice@example.com", "password": "x" * 12}
        )
    assert login.status_code == 400
    events = [r.audit.type for r in caplog.records if hasattr(r, "audit")]
    assert "register" in events and "oauth_login" in events
    assert app.base.mailbox.logins == ["alice@example.com"]


async def test_is_verified_by_default_needs_a_provider_that_did_not_deny(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    oidc_provider.user = ProviderUser(email="bob@example.com", email_verified=False)
    app = build_oauth_app(session_maker, oidc_provider, is_verified_by_default=True)
    async with app.client() as http:
        assert (await app.sign_in(http)).status_code == 200
    user = await app.base.get_user("bob@example.com")
    assert user is not None and user.is_verified is False


async def test_sign_in_again_updates_the_linked_account(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        first = await app.sign_in(http)
        first_row = (await app.accounts("alice@example.com"))[0].access_token
        second = await app.sign_in(http)
    assert first.status_code == second.status_code == 200
    rows = await app.accounts("alice@example.com")
    assert len(rows) == 1 and rows[0].access_token != first_row


async def test_cookie_backend_sets_its_cookie(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, transport="cookie")
    async with app.client() as http:
        response = await app.sign_in(http)
        assert response.status_code == 204
        assert response.cookies.get("fastapiusersauth")
        assert (await http.get("/users/me")).json()["email"] == "alice@example.com"


async def test_sessions_and_refresh_tokens(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, sessions=True, refresh=True)
    async with app.client() as http:
        body = (await app.sign_in(http)).json()
        refreshed = await http.post(
            "/auth/jwt/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert refreshed.status_code == 200
        sessions = await http.get(
            "/users/me/sessions", headers=bearer(refreshed.json()["access_token"])
        )
        assert len(sessions.json()) == 1
    cookie_app = build_oauth_app(
        session_maker, oidc_provider, transport="cookie", sessions=True, refresh=True
    )
    async with cookie_app.client() as http:
        response = await cookie_app.sign_in(http)
        refresh_cookie = [c for c in response.headers.get_list("set-cookie") if "_refresh=" in c]
        assert refresh_cookie and "Path=/auth/jwt/refresh" in refresh_cookie[0]
        assert (await http.post("/auth/jwt/refresh")).status_code == 204


async def test_taken_address_without_association(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    await app.base.create_user("alice@example.com", is_verified=True)
    async with app.client() as http:
        response = await app.sign_in(http)
    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_USER_ALREADY_EXISTS"}


async def test_association_by_verified_email(
    db_kind: str, session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, associate_by_email=True)
    await app.base.create_user("Alice@Example.com", is_verified=True)
    async with app.client() as http:
        response = await app.sign_in(http)
        assert response.status_code == 200
        login = await http.post(
            "/auth/jwt/login", data={"username": "alice@example.com", "password": PASSWORD}
        )
    assert login.status_code == 200  # a verified account keeps its password
    assert [row.account_id for row in await app.accounts("alice@example.com")] == ["user-1"]


@pytest.mark.parametrize("reported", [False, "true", None, 1])
async def test_security_34_unverified_email_never_associates(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider, reported: Any
) -> None:
    oidc_provider.user = ProviderUser(email="alice@example.com", email_verified=reported)
    app = build_oauth_app(session_maker, oidc_provider, associate_by_email=True)
    await app.base.create_user("alice@example.com", is_verified=True)
    async with app.client() as http:
        response = await app.sign_in(http)
    assert response.json() == {"detail": "OAUTH_USER_ALREADY_EXISTS"}
    assert await app.accounts("alice@example.com") == []


async def test_security_34_pre_hijacking(
    db_kind: str, session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    """An attacker registers the victim's address first (never verified) and keeps a
    session; the victim then signs in with a provider that verified the address."""
    app = build_oauth_app(
        session_maker, oidc_provider, associate_by_email=True, sessions=True, refresh=True
    )
    victim = new_email()
    await app.base.create_user(victim)
    async with app.client() as attacker:
        login = await attacker.post(
            "/auth/jwt/login", data={"username": victim, "password": PASSWORD}
        )
        stolen = login.json()
        assert (
            await attacker.get("/users/me", headers=bearer(stolen["access_token"]))
        ).status_code == 200
    oidc_provider.user = ProviderUser(sub="victim", email=victim, email_verified=True)
    async with app.client() as browser:
        response = await app.sign_in(browser)
        assert response.status_code == 200
        own = response.json()["access_token"]
        assert (await browser.get("/users/me", headers=bearer(own))).status_code == 200
    async with app.client() as attacker:
        assert (
            await attacker.get("/users/me", headers=bearer(stolen["access_token"]))
        ).status_code == 401
        refreshed = await attacker.post(
            "/auth/jwt/refresh", json={"refresh_token": stolen["refresh_token"]}
        )
        assert refreshed.status_code == 401
        again = await attacker.post(
            "/auth/jwt/login", data={"username": victim, "password": PASSWORD}
        )
        assert again.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
    user = await app.base.get_user(victim)
    assert user is not None and not has_usable_password(user)


async def test_inactive_user_is_refused(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, associate_by_email=True)
    await app.base.create_user("alice@example.com", is_verified=True, is_active=False)
    async with app.client() as http:
        response = await app.sign_in(http)
    assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


async def test_no_email_from_the_provider(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    oidc_provider.user = ProviderUser(email=None)
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        response = await app.sign_in(http)
    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_NOT_AVAILABLE_EMAIL"}


async def test_a_manager_override_of_fastapi_users_shape_still_associates(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An app's `oauth_callback` with FastAPI Users' signature (no `email_verified`)
    calling `super()`: the router's word on the address still reaches the flow."""
    calls: list[str] = []

    async def oauth_callback(
        self: UserManager,
        oauth_name: str,
        access_token: str,
        account_id: str,
        account_email: str,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        request: Request | None = None,
        *,
        associate_by_email: bool = False,
        is_verified_by_default: bool = False,
    ) -> Any:
        calls.append(oauth_name)
        return await super(UserManager, self).oauth_callback(
            oauth_name,
            access_token,
            account_id,
            account_email,
            expires_at,
            refresh_token,
            request,
            associate_by_email=associate_by_email,
            is_verified_by_default=is_verified_by_default,
        )

    monkeypatch.setattr(UserManager, "oauth_callback", oauth_callback)
    app = build_oauth_app(session_maker, oidc_provider, associate_by_email=True)
    await app.base.create_user("alice@example.com", is_verified=True)
    async with app.client() as http:
        assert (await app.sign_in(http)).status_code == 200
    assert calls == ["oidc"]
    assert len(await app.accounts("alice@example.com")) == 1


def test_refresh_needs_sessions(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    client = oidc_provider.client(name="oidc")
    plain = build_app(session_maker)
    with pytest.raises(ValueError, match="sessions"):
        plain.fastapi_users.get_oauth_router(client, plain.backend, STATE_SECRET, refresh=True)


@pytest.mark.parametrize(
    ("refresh_route", "refresh_path", "expected"),
    [(False, "/custom/refresh", "/custom/refresh"), (False, None, "/auth/oidc/refresh")],
)
async def test_refresh_cookie_path(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    refresh_route: bool,
    refresh_path: str | None,
    expected: str,
) -> None:
    base = build_app(session_maker, transport="cookie", sessions=True, refresh=refresh_route)
    client = oidc_provider.client(name="oidc")
    router = base.fastapi_users.get_oauth_router(
        client, base.backend, STATE_SECRET, refresh=True, refresh_path=refresh_path
    )
    base.app.include_router(router, prefix="/auth/oidc")
    app = OAuthApp(base=base, provider=oidc_provider, name="oidc", store=MemorySingleUseStore())
    async with app.client() as http:
        response = await app.sign_in(http)
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if "_refresh=" in c]
    assert f"Path={expected}" in cookie
