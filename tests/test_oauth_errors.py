"""Every bad callback is a 400 with a stable code, or a 502 when the provider itself
fails; never a 500: the provider's `error`, a missing or wrong `code`, a failing or slow
token exchange, a failing userinfo or JWKS endpoint, over the local OpenID Connect
provider and the GitHub stand-in; and plain httpx-oauth clients."""

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from doorkeeper.singleuse.sqlalchemy import SQLAlchemySingleUseStore
from tests.apps import unreachable_url
from tests.github_standin import GitHubStandIn, github_standin_fixture  # noqa: F401
from tests.oauth_apps import SingleUse, build_oauth_app, callback_query
from tests.oidc_provider import (
    DROP,
    OIDCProvider,
    PlainOpenID,
    ProviderUser,
    oidc_provider_fixture,  # noqa: F401
)


async def test_provider_error_parameter(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    oidc_provider.deny = True
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        answer = await app.sign_in(http)
        weird = await http.get("/auth/oidc/callback", params={"error": "<script>", "code": "x"})
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": {"code": "OAUTH_AUTHORIZATION_ERROR", "reason": "access_denied"}
    }
    assert weird.json() == {"detail": {"code": "OAUTH_AUTHORIZATION_ERROR", "reason": "invalid"}}
    failures = [r.audit for r in caplog.records if hasattr(r, "audit")]
    assert [(e.type, e.outcome, e.details["reason"]) for e in failures] == [
        ("oauth_login", "failure", "OAUTH_AUTHORIZATION_ERROR"),
        ("oauth_login", "failure", "OAUTH_AUTHORIZATION_ERROR"),
    ]


async def test_missing_wrong_or_oversized_code(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        location = await app.approve(await app.authorize(http))
        state = callback_query(location)["state"]
        missing = await http.get("/auth/oidc/callback", params={"state": state})
        huge = await http.get("/auth/oidc/callback", params={"state": state, "code": "c" * 5000})
        wrong = await http.get("/auth/oidc/callback", params={"state": state, "code": "nope"})
    assert missing.json() == {"detail": "OAUTH_CODE_MISSING"}
    assert huge.json() == {"detail": "OAUTH_TOKEN_EXCHANGE_FAILED"}
    assert wrong.status_code == 400
    assert wrong.json() == {"detail": "OAUTH_TOKEN_EXCHANGE_FAILED"}


@pytest.mark.parametrize(
    ("endpoint", "mode", "status", "code"),
    [
        ("token", "500", 502, "OAUTH_PROVIDER_ERROR"),
        ("token", "garbage", 502, "OAUTH_PROVIDER_ERROR"),
        ("token", "hang", 502, "OAUTH_PROVIDER_ERROR"),
        ("token", "not_object", 502, "OAUTH_PROVIDER_ERROR"),
        ("jwks", "500", 502, "OAUTH_PROVIDER_ERROR"),
        ("userinfo", "500", 502, "OAUTH_PROVIDER_ERROR"),
        ("userinfo", "401", 400, "OAUTH_INVALID_RESPONSE"),
    ],
)
async def test_provider_failures(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    endpoint: str,
    mode: str,
    status: int,
    code: str,
) -> None:
    oidc_provider.id_token_overrides = {"email": DROP}  # so that userinfo is asked
    client = oidc_provider.client(name="oidc")
    if mode == "hang":
        await client.ensure_discovered()
        client.http_timeout = 0.3  # for the one call that follows, which never gets an answer
    oidc_provider.failures.set(endpoint, mode)
    app = build_oauth_app(session_maker, oidc_provider, client=client)
    async with app.client() as http:
        answer = await app.sign_in(http)
    assert answer.status_code == status
    assert answer.json() == {"detail": code}


async def test_an_unreachable_provider_is_a_502_at_authorize(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    oidc_provider.failures.set("discovery", "500")
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        answer = await http.get("/auth/oidc/authorize")
    assert answer.status_code == 502
    assert answer.json() == {"detail": "OAUTH_PROVIDER_ERROR"}
    assert "set-cookie" not in answer.headers


async def test_a_provider_answer_that_does_not_fit(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    oidc_provider.user = ProviderUser(sub="s" * 400)
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        long_id = await app.sign_in(http)
    oidc_provider.user = ProviderUser(email="a" * 330 + "@example.com")
    async with app.client() as http:
        long_email = await app.sign_in(http)
    assert long_id.json() == {"detail": "OAUTH_INVALID_RESPONSE"}
    assert long_email.json() == {"detail": "OAUTH_NOT_AVAILABLE_EMAIL"}


# --- GitHub ---------------------------------------------------------------------------


async def test_github_sign_up_and_association(
    session_maker: async_sessionmaker[AsyncSession], github_standin: GitHubStandIn
) -> None:
    app = build_oauth_app(
        session_maker, github_standin, client=github_standin.client(), associate_by_email=True
    )
    await app.base.create_user("octocat@example.com", is_verified=True)
    async with app.client() as http:
        answer = await app.sign_in(http)
    assert answer.status_code == 200
    assert github_standin.token_requests[0]["code_verifier"]
    (row,) = await app.accounts("octocat@example.com")
    assert (row.oauth_name, row.account_id) == ("github", "4242")


async def test_github_unverified_email_and_failures(
    session_maker: async_sessionmaker[AsyncSession], github_standin: GitHubStandIn
) -> None:
    github_standin.emails = [{"email": "octocat@example.com", "primary": True, "verified": False}]
    app = build_oauth_app(
        session_maker, github_standin, client=github_standin.client(), associate_by_email=True
    )
    await app.base.create_user("octocat@example.com", is_verified=True)
    async with app.client() as http:
        unverified = await app.sign_in(http)
        location = await app.approve(await app.authorize(http))
        query = callback_query(location)
        bad_code = await http.get(
            "/auth/github/callback", params={"code": "0" * 20, "state": query["state"]}
        )
        github_standin.failures.set("user", "500")
        down = await app.sign_in(http)
    assert unverified.json() == {"detail": "OAUTH_USER_ALREADY_EXISTS"}
    assert bad_code.json() == {"detail": "OAUTH_TOKEN_EXCHANGE_FAILED"}
    assert down.status_code == 502 and down.json() == {"detail": "OAUTH_PROVIDER_ERROR"}


# --- plain httpx-oauth clients ---------------------------------------------------------


def plain_client(provider: OIDCProvider) -> PlainOpenID:
    """httpx-oauth's own OpenID client: it cannot say whether an e-mail is verified."""
    return provider.plain_client(name="plain")


@pytest.mark.parametrize("assume", [False, True])
async def test_plain_client_association_needs_an_explicit_assumption(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider, assume: bool
) -> None:
    app = build_oauth_app(
        session_maker,
        oidc_provider,
        client=plain_client(oidc_provider),
        associate_by_email=True,
        assume_email_verified=assume,
    )
    await app.base.create_user("alice@example.com", is_verified=True)
    async with app.client() as http:
        answer = await app.sign_in(http)
    assert "nonce" not in oidc_provider.authorize_requests[0]
    assert oidc_provider.token_requests[0]["code_verifier"]  # PKCE all the same
    if assume:
        assert answer.status_code == 200
        assert len(await app.accounts("alice@example.com")) == 1
    else:
        assert answer.json() == {"detail": "OAUTH_USER_ALREADY_EXISTS"}


async def test_plain_client_sign_up_keeps_fastapi_users_verified_flag(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(
        session_maker,
        oidc_provider,
        client=plain_client(oidc_provider),
        is_verified_by_default=True,
    )
    async with app.client() as http:
        assert (await app.sign_in(http)).status_code == 200
    user = await app.base.get_user("alice@example.com")
    assert user is not None and user.is_verified


async def test_storage_down_is_a_503(
    database_url: str,
    tmp_path: Path,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
) -> None:
    engine = create_async_engine(unreachable_url(database_url, tmp_path))
    store = SQLAlchemySingleUseStore(async_sessionmaker(engine), SingleUse)
    app = build_oauth_app(session_maker, oidc_provider, store=store)
    try:
        async with app.client() as http:
            answer = await app.sign_in(http)
    finally:
        await engine.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"detail": "SERVICE_UNAVAILABLE"}
    assert oidc_provider.counts["token"] == 0
