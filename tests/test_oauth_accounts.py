"""Linking a provider account to a signed-in user (`get_oauth_associate_router`, FastAPI
Users' routes), and the linked accounts of the caller (`GET/DELETE
/users/me/oauth-accounts`): never a provider token, never the last way to sign in."""

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.apps import PASSWORD
from tests.oauth_apps import FRONTEND, OAuthApp, build_oauth_app
from tests.oidc_provider import OIDCProvider, ProviderUser, oidc_provider_fixture  # noqa: F401


async def login(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await http.post("/auth/jwt/login", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def associate(app: OAuthApp, http: httpx.AsyncClient, auth: dict[str, str]) -> httpx.Response:
    start = await http.get("/auth/oidc/associate/authorize", headers=auth)
    assert start.status_code == 200, start.text
    location = urlsplit(await app.approve(start.json()["authorization_url"]))
    return await http.get(f"{location.path}?{location.query}", headers=auth)


async def test_associate_links_the_signed_in_user(
    db_kind: str,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    caplog: Any,
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    oidc_provider.user = ProviderUser(sub="g-1", email="arthur@gmail.example", email_verified=False)
    app = build_oauth_app(session_maker, oidc_provider)
    await app.base.create_user("arthur@camelot.bt")
    async with app.client() as http:
        assert (await http.get("/auth/oidc/associate/authorize")).status_code == 401
        auth = await login(http, "arthur@camelot.bt")
        linked = await associate(app, http, auth)
        assert linked.status_code == 200
        assert linked.json()["email"] == "arthur@camelot.bt"
        assert "oauth_accounts" not in linked.json() or all(
            "access_token" not in account for account in linked.json()["oauth_accounts"]
        )
        again = await associate(app, http, auth)  # the same account again: updated
        assert again.status_code == 200
        listed = await http.get("/users/me/oauth-accounts", headers=auth)
    assert [(a["oauth_name"], a["account_id"], a["account_email"]) for a in listed.json()] == [
        ("oidc", "g-1", "arthur@gmail.example")
    ]
    assert set(listed.json()[0]) == {"id", "oauth_name", "account_id", "account_email"}
    events = [r.audit.type for r in caplog.records if hasattr(r, "audit")]
    assert events.count("oauth_link") == 2


async def test_associate_refuses_another_users_state_and_a_taken_account(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    await app.base.create_user("arthur@camelot.bt")
    await app.base.create_user("mordred@camelot.bt")
    async with app.client() as http:
        arthur = await login(http, "arthur@camelot.bt")
        mordred = await login(http, "mordred@camelot.bt")
        start = await http.get("/auth/oidc/associate/authorize", headers=mordred)
        location = urlsplit(await app.approve(start.json()["authorization_url"]))
        stolen = await http.get(f"{location.path}?{location.query}", headers=arthur)
        assert stolen.json() == {"detail": "OAUTH_INVALID_STATE"}
        assert (await associate(app, http, arthur)).status_code == 200
        taken = await associate(app, http, mordred)
    assert taken.status_code == 400
    assert taken.json() == {"detail": "OAUTH_ACCOUNT_ALREADY_LINKED"}
    assert [a.account_id for a in await app.accounts("arthur@camelot.bt")] == ["user-1"]
    assert await app.accounts("mordred@camelot.bt") == []


async def test_associate_a_login_state_is_no_good(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    await app.base.create_user("arthur@camelot.bt")
    async with app.client() as http:
        auth = await login(http, "arthur@camelot.bt")
        location = urlsplit(await app.approve(await app.authorize(http)))
        answer = await http.get(f"/auth/oidc/associate/callback?{location.query}", headers=auth)
    assert answer.json() == {"detail": "OAUTH_INVALID_STATE"}


async def test_associate_can_end_on_the_front_end(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(
        session_maker, oidc_provider, associate_options={"frontend_url": f"{FRONTEND}/settings"}
    )
    await app.base.create_user("arthur@camelot.bt")
    async with app.client() as http:
        auth = await login(http, "arthur@camelot.bt")
        start = await http.get(
            "/auth/oidc/associate/authorize", params={"next": "/linked"}, headers=auth
        )
        location = urlsplit(await app.approve(start.json()["authorization_url"]))
        done = await http.get(f"{location.path}?{location.query}", headers=auth)
    assert done.status_code == 303
    assert done.headers["location"] == f"{FRONTEND}/linked"


async def test_unlinking(
    db_kind: str, session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        signed_up = await app.sign_in(http)  # a user whose only way in is this account
        auth = {"Authorization": f"Bearer {signed_up.json()['access_token']}"}
        (only,) = (await http.get("/users/me/oauth-accounts", headers=auth)).json()
        last = await http.delete(f"/users/me/oauth-accounts/{only['id']}", headers=auth)
        assert last.status_code == 409
        assert last.json() == {"detail": "OAUTH_LAST_SIGN_IN_METHOD"}
        unknown = await http.delete("/users/me/oauth-accounts/nope", headers=auth)
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "OAUTH_ACCOUNT_NOT_FOUND"}
        oidc_provider.user = ProviderUser(sub="user-2", email="alice@elsewhere.example")
        assert (await associate(app, http, auth)).status_code == 200
        assert (await associate(app, http, auth)).status_code == 200  # two accounts: updated
        assert (await app.sign_in(http)).status_code == 200  # signs in with the second one
        removed = await http.delete(f"/users/me/oauth-accounts/{only['id']}", headers=auth)
        assert removed.status_code == 204
        left = (await http.get("/users/me/oauth-accounts", headers=auth)).json()
    assert [a["account_id"] for a in left] == ["user-2"]
    assert [a.account_id for a in await app.accounts("alice@example.com")] == ["user-2"]


async def test_unlinking_with_a_password(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    await app.base.create_user("arthur@camelot.bt")
    async with app.client() as http:
        auth = await login(http, "arthur@camelot.bt")
        assert (await http.get("/users/me/oauth-accounts", headers=auth)).json() == []
        await associate(app, http, auth)
        (account,) = (await http.get("/users/me/oauth-accounts", headers=auth)).json()
        removed = await http.delete(f"/users/me/oauth-accounts/{account['id']}", headers=auth)
        assert removed.status_code == 204
        assert (await http.get("/users/me/oauth-accounts")).status_code == 401
    assert await app.accounts("arthur@camelot.bt") == []
