"""Social sign-in in the batteries: `Doorkeeper(oauth_providers=[...])` mounts each
provider under `/auth/{name}` for the cookie and bearer backends, with association,
redirects to the front end, spent states in the database (or Redis), and a real
uvicorn server driven like a browser."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from doorkeeper import Doorkeeper, DoorkeeperSettings, SQLAlchemyAdapter
from doorkeeper.email import MemoryEmailSender
from doorkeeper.oauth.crypto import TokenCipher
from doorkeeper.settings import ConfigurationError
from tests.conftest import cheap_password_helper
from tests.local_server import LocalServer, browser
from tests.oidc_provider import OIDCProvider, ProviderUser, oidc_provider_fixture  # noqa: F401
from tests.services import REDIS_URL
from tests.test_doorkeeper import (  # noqa: F401
    PASSWORD,
    SECRET,
    clean_environment,
    design_example,
    make_auth,
    serving,
)

FRONTEND = "https://app.example.com"


def oauth_auth(database_url: str, provider: OIDCProvider, **options: Any) -> Doorkeeper:
    auth, _ = make_auth(
        database_url,
        oauth_providers=[provider.client(name="oidc")],
        oauth_frontend_url=f"{FRONTEND}/signed-in",
        **options,
    )
    return auth


async def sign_in(
    client: httpx.AsyncClient, path: str, provider: OIDCProvider, **params: str
) -> httpx.Response:
    start = await client.get(f"{path}/authorize", params=params)
    assert start.status_code == 200, start.text
    location = urlsplit(await provider.approve(start.json()["authorization_url"]))
    return await client.get(f"{location.path}?{location.query}")


async def test_cookie_sign_in_and_takeover(database_url: str, oidc_provider: OIDCProvider) -> None:
    auth = oauth_auth(database_url, oidc_provider)
    app = design_example(auth)
    async with serving(app, auth) as client:
        # Someone registered the address first and never verified it.
        registered = await client.post(
            "/auth/register", json={"email": "alice@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 202
        answer = await sign_in(client, "/auth/oidc/cookie", oidc_provider, next="/welcome")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{FRONTEND}/welcome"
        assert "doorkeeper_auth" in client.cookies
        assert (await client.get("/hello")).json() == {"hello": "alice@example.com"}
        accounts = (await client.get("/users/me/oauth-accounts")).json()
        assert [a["account_id"] for a in accounts] == ["user-1"]
        login = await client.post(
            "/auth/bearer/login", data={"username": "alice@example.com", "password": PASSWORD}
        )
        assert login.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}  # the password is revoked
        replay_start = await client.get("/auth/oidc/cookie/authorize")
        location = urlsplit(await oidc_provider.approve(replay_start.json()["authorization_url"]))
        assert (await client.get(f"{location.path}?{location.query}")).status_code == 303
        replay = await client.get(f"{location.path}?{location.query}")
        assert replay.json() == {"detail": "OAUTH_STATE_ALREADY_USED"}
    user = await auth.adapter.user.get_by_email("alice@example.com")
    assert user is not None and user.is_verified
    (row,) = await auth.adapter.oauth.list_for_user(user.id)
    assert TokenCipher(auth.settings.secret).decrypt(row.access_token) != row.access_token


async def test_bearer_sign_in_with_a_one_time_code(
    database_url: str, oidc_provider: OIDCProvider
) -> None:
    auth = oauth_auth(database_url, oidc_provider)
    app = design_example(auth)
    async with serving(app, auth) as client:
        answer = await sign_in(client, "/auth/oidc/bearer", oidc_provider)
        assert answer.status_code == 303
        location = answer.headers["location"]
        assert location.startswith(f"{FRONTEND}/signed-in?code=")
        code = parse_qs(urlsplit(location).query)["code"][0]
        tokens = (await client.post("/auth/oidc/bearer/exchange", json={"code": code})).json()
        assert set(tokens) == {"access_token", "token_type", "refresh_token"}
        hello = await client.get(
            "/hello", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert hello.json() == {"hello": "alice@example.com"}
        again = await client.post("/auth/oidc/bearer/exchange", json={"code": code})
        assert again.json() == {"detail": "OAUTH_EXCHANGE_CODE_INVALID"}
        paths = set((await client.get("/openapi.json")).json()["paths"])
    assert {
        "/auth/oidc/cookie/authorize",
        "/auth/oidc/cookie/callback",
        "/auth/oidc/bearer/authorize",
        "/auth/oidc/bearer/callback",
        "/auth/oidc/bearer/exchange",
        "/auth/oidc/associate/authorize",
        "/auth/oidc/associate/callback",
        "/users/me/oauth-accounts",
        "/users/me/oauth-accounts/{id}",
    } <= paths


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["cookie", "bearer", "a/b", "..", "verify"])
def test_provider_names_are_checked(
    database_url: str, oidc_provider: OIDCProvider, name: str
) -> None:
    with pytest.raises(ConfigurationError, match="oauth_providers"):
        make_auth(database_url, oauth_providers=[oidc_provider.client(name=name)])


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_two_providers_of_one_name(database_url: str, oidc_provider: OIDCProvider) -> None:
    clients = [oidc_provider.client(name="same"), oidc_provider.client(name="same")]
    with pytest.raises(ConfigurationError, match="two providers"):
        make_auth(database_url, oauth_providers=clients)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_redis_keeps_the_spent_states(
    database_url: str, oidc_provider: OIDCProvider, redis: Any
) -> None:
    class PrefixedDoorkeeper(Doorkeeper):
        redis_key_prefix = redis.test_prefix + "token:"
        redis_session_key_prefix = redis.test_prefix + "session:"
        oauth_redis_key_prefix = redis.test_prefix + "oauth:"

    settings = DoorkeeperSettings(
        secret=SECRET,
        redis_url=REDIS_URL,
        rate_limit_key_prefix=redis.test_prefix + "ratelimit",
    )
    auth = PrefixedDoorkeeper(
        database_url,
        settings=settings,
        email_sender=MemoryEmailSender(),
        password_helper=cheap_password_helper(),
        oauth_providers=[oidc_provider.client(name="oidc")],
    )
    async with serving(design_example(auth), auth) as client:
        answer = await sign_in(client, "/auth/oidc/cookie", oidc_provider)
        assert answer.status_code == 303
        assert answer.headers["location"] == "http://localhost:8000"
    assert [key async for key in redis.scan_iter(match=redis.test_prefix + "oauth:*")]


class LateApp:
    """An ASGI app set after the server's address is known."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_real_server_and_a_browser(database_url: str, oidc_provider: OIDCProvider) -> None:
    """The app under uvicorn on 127.0.0.1; an HTTP client following every redirect, as
    a browser does: app → provider → app's callback → the front end (here, the app)."""
    setup = SQLAlchemyAdapter(database_url)
    await setup.create_tables()
    await setup.dispose()
    late = LateApp()
    server = LocalServer(late)
    auth, _ = make_auth(
        database_url,
        oauth_providers=[oidc_provider.client(name="oidc")],
        oauth_frontend_url=f"{server.url}/hello",
    )
    late.app = design_example(auth)
    server.start()
    try:
        async with browser(base_url=server.url, follow_redirects=True) as user_agent:
            start = await user_agent.get("/auth/oidc/cookie/authorize")
            landed = await user_agent.get(start.json()["authorization_url"])
        assert landed.status_code == 200, landed.text
        assert landed.json() == {"hello": "alice@example.com"}
        assert str(landed.url) == f"{server.url}/hello"
        assert [r.status_code for r in landed.history] == [302, 303]
    finally:
        server.stop()
