"""SECURITY 31, 32 and 35 over HTTP: the OAuth state is bound to the browser,
single-use (on every instance) and short-lived; PKCE S256 and the OpenID Connect nonce
and ID token checks; provider tokens encrypted at rest and never returned."""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import doorkeeper.router.oauth_flow
from doorkeeper.oauth.crypto import TokenCipher
from doorkeeper.singleuse.redis import RedisSingleUseStore
from tests.oauth_apps import (
    STATE_COOKIE,
    STATE_SECRET,
    OAuthApp,
    build_oauth_app,
    callback_query,
    sql_store,
)
from tests.oidc_provider import (  # noqa: F401
    DROP,
    OIDCProvider,
    ProviderUser,
    oidc_provider_fixture,
    s256,
)
from tests.security import clock_ahead


def with_state(location: str, state: str | None) -> str:
    query = callback_query(location)
    query.pop("state")
    if state is not None:
        query["state"] = state
    return "/auth/oidc/callback?" + "&".join(f"{k}={v}" for k, v in query.items())


async def started(app: OAuthApp, http: httpx.AsyncClient) -> str:
    """A flow approved at the provider: the callback location, not opened yet."""
    return await app.approve(await app.authorize(http))


# --- SECURITY 31: state --------------------------------------------------------------


async def test_security_31_replayed_state(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        location = await started(app, http)
        assert (await app.follow(http, location)).status_code == 200
        replay = await app.follow(http, location)
    assert replay.status_code == 400
    assert replay.json() == {"detail": "OAUTH_STATE_ALREADY_USED"}
    assert oidc_provider.counts["token"] == 1  # refused before any exchange


async def replay_on_another_instance(
    session_maker: async_sessionmaker[AsyncSession], provider: OIDCProvider, store: Any
) -> httpx.Response:
    first = build_oauth_app(session_maker, provider, store=store)
    second = build_oauth_app(session_maker, provider, store=store)
    async with first.client() as http, second.client() as other:
        location = await started(first, http)
        other.cookies = http.cookies
        assert (await first.follow(http, location)).status_code == 200
        return await second.follow(other, location)


async def test_security_31_replay_on_another_instance_sql(
    engine: AsyncEngine,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
) -> None:
    store = await sql_store(engine)
    replay = await replay_on_another_instance(session_maker, oidc_provider, store)
    assert replay.json() == {"detail": "OAUTH_STATE_ALREADY_USED"}


async def test_security_31_replay_on_another_instance_redis(
    db_kind: str,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    redis: Any,
) -> None:
    if db_kind != "sqlite":
        pytest.skip("the Redis store does not depend on the database")
    store = RedisSingleUseStore(redis, key_prefix=redis.test_prefix)
    replay = await replay_on_another_instance(session_maker, oidc_provider, store)
    assert replay.json() == {"detail": "OAUTH_STATE_ALREADY_USED"}


async def test_security_31_concurrent_callbacks_succeed_once(
    engine: AsyncEngine,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, store=await sql_store(engine))
    async with app.client() as http:
        location = await started(app, http)
        answers = await asyncio.gather(*(app.follow(http, location) for _ in range(5)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 400, 400, 400, 400]
    assert oidc_provider.counts["token"] == 1


async def test_security_31_another_browser(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as victim, app.client() as attacker, app.client() as bare:
        location = await started(app, victim)
        await app.authorize(attacker)  # the attacker's own, valid binding cookie
        assert attacker.cookies[STATE_COOKIE] != victim.cookies[STATE_COOKIE]
        for browser in (attacker, bare):
            answer = await app.follow(browser, location)
            assert answer.json() == {"detail": "OAUTH_INVALID_STATE"}
    assert oidc_provider.counts["token"] == 0


async def test_security_31_expired_state(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = build_oauth_app(session_maker, oidc_provider, state_lifetime_seconds=120)
    async with app.client() as http:
        location = await started(app, http)
        clock_ahead(monkeypatch, 121)
        answer = await app.follow(http, location)
    assert answer.json() == {"detail": "ACCESS_TOKEN_ALREADY_EXPIRED"}
    assert oidc_provider.counts["token"] == 0


def forge(claims: dict[str, Any], key: str = STATE_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


async def test_security_22_31_forged_or_foreign_states(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        location = await started(app, http)
        genuine = jwt.decode(callback_query(location)["state"], options={"verify_signature": False})
        unsigned = jwt.encode(genuine, None, algorithm="none")  # type: ignore[arg-type]
        cases = {
            None: "ACCESS_TOKEN_DECODE_ERROR",
            "not-a-jwt": "ACCESS_TOKEN_DECODE_ERROR",
            unsigned: "ACCESS_TOKEN_DECODE_ERROR",
            forge(genuine, key="another-secret-that-is-long-enough-0123456789"): (
                "ACCESS_TOKEN_DECODE_ERROR"
            ),
            forge({**genuine, "aud": "fastapi-users:reset"}): "ACCESS_TOKEN_DECODE_ERROR",
            forge({k: v for k, v in genuine.items() if k != "jti"}): "ACCESS_TOKEN_DECODE_ERROR",
            forge({**genuine, "route": "oauth:github.jwt.callback"}): "OAUTH_INVALID_STATE",
            forge({**genuine, "route": "oauth-associate:oidc.callback"}): "OAUTH_INVALID_STATE",
            forge({**genuine, "csrftoken": "x" * 43}): "OAUTH_INVALID_STATE",
            forge({**genuine, "jti": 7}): "ACCESS_TOKEN_DECODE_ERROR",
        }
        for state, code in cases.items():
            answer = await http.get(with_state(location, state))
            assert answer.status_code == 400, state
            assert answer.json() == {"detail": code}, state
        # The login state is no good at the associate callback either.
        assert (await app.follow(http, location)).status_code == 200
    assert oidc_provider.counts["token"] == 1


# --- SECURITY 32: PKCE, nonce, ID token -------------------------------------------


async def test_security_32_pkce_verifier_checked_by_the_provider(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        url = await app.authorize(http)
        assert (await app.follow(http, await app.approve(url))).status_code == 200
    challenge = oidc_provider.authorize_requests[0]["code_challenge"]
    verifier = oidc_provider.token_requests[0]["code_verifier"]
    assert oidc_provider.authorize_requests[0]["code_challenge_method"] == "S256"
    assert s256(verifier) == challenge and verifier not in url
    state = parse_qs(urlsplit(url).query)["state"][0]
    assert verifier not in json.dumps(jwt.decode(state, options={"verify_signature": False}))


async def test_security_32_wrong_verifier_is_refused_by_the_provider(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = doorkeeper.router.oauth_flow.exchange_code

    async def wrong_verifier(client: Any, code: str, redirect_uri: str, verifier: Any) -> Any:
        return await real(client, code, redirect_uri, "x" * 43)

    monkeypatch.setattr(doorkeeper.router.oauth_flow, "exchange_code", wrong_verifier)
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        answer = await app.sign_in(http)
    assert answer.status_code == 400
    assert answer.json() == {"detail": "OAUTH_TOKEN_EXCHANGE_FAILED"}


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("nonce_override", "a-nonce-of-another-sign-in", "OAUTH_NONCE_MISMATCH"),
        ("id_token_overrides", {"nonce": DROP}, "OAUTH_NONCE_MISMATCH"),
        ("id_token_overrides", {"aud": "another-client"}, "OAUTH_ID_TOKEN_INVALID"),
        ("id_token_overrides", {"iss": "https://evil.example"}, "OAUTH_ID_TOKEN_INVALID"),
        ("id_token_overrides", {"exp": 0}, "OAUTH_ID_TOKEN_INVALID"),
        ("signing", "hs256", "OAUTH_ID_TOKEN_INVALID"),
        ("signing", "none", "OAUTH_ID_TOKEN_INVALID"),
        ("signing", "foreign_key", "OAUTH_ID_TOKEN_INVALID"),
        ("omit_id_token", True, "OAUTH_ID_TOKEN_INVALID"),
    ],
)
async def test_security_32_id_token_checks(
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
    setting: str,
    value: Any,
    code: str,
) -> None:
    setattr(oidc_provider, setting, value)
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        answer = await app.sign_in(http)
    assert answer.status_code == 400
    assert answer.json() == {"detail": code}
    assert await app.accounts("alice@example.com") == []


# --- SECURITY 35: provider tokens ----------------------------------------------------


async def test_security_35_provider_tokens_encrypted_and_never_returned(
    db_kind: str, session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        bodies = [(await app.sign_in(http)).text]
        token = json.loads(bodies[0])["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        bodies.append((await http.get("/users/me", headers=auth)).text)
        bodies.append((await http.get("/users/me/oauth-accounts", headers=auth)).text)
        associate = await http.get("/auth/oidc/associate/authorize", headers=auth)
        location = await app.approve(associate.json()["authorization_url"])
        parts = urlsplit(location)
        bodies.append((await http.get(f"{parts.path}?{parts.query}", headers=auth)).text)
        bodies.append((await http.get("/openapi.json")).text)
    (row,) = await app.accounts("alice@example.com")
    cipher = TokenCipher(STATE_SECRET)
    assert row.access_token.startswith("dkenc1:") and row.refresh_token is not None
    assert row.refresh_token.startswith("dkenc1:")
    access, refresh = cipher.decrypt(row.access_token), cipher.decrypt(row.refresh_token)
    assert access in oidc_provider._access_tokens
    for body in bodies:
        assert access not in body and refresh not in body
    schemas = json.loads(bodies[-1])["components"]["schemas"]
    assert set(schemas["OAuthAccountRead"]["properties"]) == {
        "id",
        "oauth_name",
        "account_id",
        "account_email",
    }


async def test_security_35_encryption_settings(
    session_maker: async_sessionmaker[AsyncSession], oidc_provider: OIDCProvider
) -> None:
    plain = build_oauth_app(session_maker, oidc_provider, encrypt_tokens=False)
    async with plain.client() as http:
        assert (await plain.sign_in(http)).status_code == 200
    (row,) = await plain.accounts("alice@example.com")
    assert row.access_token in oidc_provider._access_tokens
    own = TokenCipher("a-key-of-the-app-own-that-is-long-enough-012345")
    oidc_provider.user = ProviderUser(sub="user-2", email="bob@example.com")
    mine = build_oauth_app(session_maker, oidc_provider, token_cipher=own)
    async with mine.client() as http:
        assert (await mine.sign_in(http)).status_code == 200
    (row,) = await mine.accounts("bob@example.com")
    assert own.decrypt(row.access_token) in oidc_provider._access_tokens
