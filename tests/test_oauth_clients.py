"""The provider clients of `doorkeeper.oauth` against local providers over real HTTP: the
OpenID Connect flow (discovery, PKCE checked by the provider, profile), the presets, the
GitHub client against a stand-in of GitHub, and how each failure is reported (stable code,
400 or 502, never anything else). ID token and JWKS checks: test_oauth_id_tokens.py."""

import subprocess
import sys
from typing import Any

import httpx
import pytest
from httpx_oauth.exceptions import GetIdEmailError
from httpx_oauth.oauth2 import BaseOAuth2, OAuth2Token

from doorkeeper.oauth import (
    GitHubClient,
    IDTokenError,
    NonceMismatchError,
    OAuthDiscoveryError,
    OAuthError,
    OAuthProfile,
    OAuthProviderError,
    OAuthResponseError,
    OAuthTokenExchangeError,
    OpenIDConnectClient,
    code_challenge_s256,
    exchange_code,
    fetch_profile,
    generate_code_verifier,
    generate_nonce,
    github,
    gitlab,
    google,
    microsoft,
    uses_nonce,
)
from doorkeeper.oauth._compat import GetProfileError  # httpx-oauth's, or its 0.15 stand-in
from doorkeeper.oauth._http import is_secure_url
from doorkeeper.oauth.presets import MICROSOFT_CONSUMERS_TENANT
from tests.github_standin import (
    GitHubStandIn,
    github_standin_fixture,  # noqa: F401
)
from tests.local_server import CLIENT_TIMEOUT
from tests.oidc_provider import (
    DROP,
    OIDCProvider,
    ProviderUser,
    oidc_provider_fixture,  # noqa: F401
)

REDIRECT = "http://app.test/callback"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


async def authorize(
    provider: OIDCProvider | GitHubStandIn, client: BaseOAuth2[Any], *, pkce: bool = True
) -> tuple[str, str, str]:
    """Go through the provider's authorization page; return code, verifier and nonce."""
    verifier, nonce = generate_code_verifier(), generate_nonce()
    url = await client.get_authorization_url(
        REDIRECT,
        "state-1",
        code_challenge=code_challenge_s256(verifier) if pkce else None,
        code_challenge_method="S256" if pkce else None,
        extras_params={"nonce": nonce} if uses_nonce(client) else None,
    )
    code, state = await provider.authorize(url)
    assert state == "state-1"
    return code, verifier, nonce


async def sign_in(provider: OIDCProvider, client: OpenIDConnectClient) -> OAuthProfile:
    code, verifier, nonce = await authorize(provider, client)
    token = await exchange_code(client, code, REDIRECT, verifier)
    return await fetch_profile(client, token, nonce=nonce)


def assert_error(error: OAuthError, kind: type[OAuthError], code: str, status: int) -> None:
    assert isinstance(error, kind)
    assert (error.code, error.status_code) == (code, status)


def timed_out(error: BaseException | None) -> bool:
    """Whether the client's own read timeout is among the causes of `error`."""
    while error is not None and not isinstance(error, httpx.ReadTimeout):
        error = error.__cause__
    return error is not None


# --- the OpenID Connect flow ------------------------------------------------------------


async def test_sign_in_through_the_provider(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    assert client.metadata is None  # nothing fetched before first use
    profile = await sign_in(oidc_provider, client)
    assert profile == OAuthProfile("user-1", "alice@example.com", email_verified=True)
    assert client.metadata is not None
    assert client.metadata.token_endpoint_auth_method == "client_secret_basic"
    assert client.name == "127.0.0.1"
    request = oidc_provider.authorize_requests[0]
    assert request["scope"] == "openid email profile"
    assert request["code_challenge_method"] == "S256"
    assert request["nonce"]
    assert oidc_provider.counts["discovery"] == 1


async def test_security_32_pkce_verifier_is_checked_by_the_provider(
    oidc_provider: OIDCProvider,
) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)
    with pytest.raises(OAuthTokenExchangeError) as caught:
        await exchange_code(client, code, REDIRECT, generate_code_verifier())
    assert_error(caught.value, OAuthTokenExchangeError, "OAUTH_TOKEN_EXCHANGE_FAILED", 400)
    assert oidc_provider.token_requests[0]["code_verifier"] != verifier
    # the code was spent by the failed attempt
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, REDIRECT, verifier)
    code, _, _ = await authorize(oidc_provider, client)
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, REDIRECT, None)


async def test_security_32_a_flow_without_pkce_is_refused(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    code, _, _ = await authorize(oidc_provider, client, pkce=False)
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, REDIRECT, None)


async def test_wrong_redirect_uri_is_refused(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, "http://app.test/other", verifier)


async def test_discover_eagerly(oidc_provider: OIDCProvider) -> None:
    client = await OpenIDConnectClient.discover(
        oidc_provider.issuer,
        oidc_provider.client_id,
        oidc_provider.client_secret,
        name="local",
        http_timeout=CLIENT_TIMEOUT,
    )
    assert client.metadata is not None
    assert client.authorize_endpoint == f"{oidc_provider.base_url}/authorize"
    assert client.refresh_token_endpoint == f"{oidc_provider.base_url}/token"
    assert client.name == "local"
    assert uses_nonce(client)
    await client.ensure_discovered()
    assert oidc_provider.counts["discovery"] == 1


async def test_client_secret_post_when_basic_is_not_offered(oidc_provider: OIDCProvider) -> None:
    oidc_provider.discovery_overrides["token_endpoint_auth_methods_supported"] = [
        "private_key_jwt",
        "client_secret_post",
    ]
    client = oidc_provider.client()
    assert (await sign_in(oidc_provider, client)).account_id == "user-1"
    assert oidc_provider.token_requests[0]["client_secret"] == oidc_provider.client_secret


async def test_refresh_and_revoke_go_to_discovered_endpoints(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    with pytest.raises(httpx_oauth_refresh_error()):
        await client.refresh_token("refresh")  # discovers, then the provider refuses
    assert oidc_provider.token_requests[-1]["grant_type"] == "refresh_token"
    await oidc_provider.client().revoke_token("some-token", "access_token")
    assert oidc_provider.counts["revoke"] == 1


def httpx_oauth_refresh_error() -> type[Exception]:
    from httpx_oauth.oauth2 import RefreshTokenError

    return RefreshTokenError


# --- the profile ------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [False, "true", 1, None])
async def test_security_34_only_a_literal_true_means_verified(
    oidc_provider: OIDCProvider, flag: Any
) -> None:
    oidc_provider.user = ProviderUser(sub="s-2", email="bob@example.com", email_verified=flag)
    profile = await sign_in(oidc_provider, oidc_provider.client())
    assert profile == OAuthProfile("s-2", "bob@example.com", email_verified=False)


async def test_email_from_userinfo_when_the_id_token_has_none(oidc_provider: OIDCProvider) -> None:
    oidc_provider.id_token_overrides = {"email": DROP, "email_verified": DROP}
    profile = await sign_in(oidc_provider, oidc_provider.client())
    assert profile == OAuthProfile("user-1", "alice@example.com", email_verified=True)
    assert oidc_provider.counts["userinfo"] == 1


async def test_no_email_anywhere(oidc_provider: OIDCProvider) -> None:
    oidc_provider.user = ProviderUser(sub="s-3", email=None)
    profile = await sign_in(oidc_provider, oidc_provider.client())
    assert profile == OAuthProfile("s-3", None, email_verified=False)


async def test_no_userinfo_endpoint_means_no_email(oidc_provider: OIDCProvider) -> None:
    oidc_provider.discovery_overrides["userinfo_endpoint"] = DROP
    oidc_provider.id_token_overrides = {"email": ""}
    client = oidc_provider.client()
    assert await sign_in(oidc_provider, client) == OAuthProfile("user-1", None, False)
    with pytest.raises(OAuthProviderError):
        await client.userinfo("token")
    with pytest.raises(GetProfileError):
        await client.get_profile("token")


async def test_userinfo_about_another_subject_is_refused(oidc_provider: OIDCProvider) -> None:
    oidc_provider.id_token_overrides = {"email": DROP}
    oidc_provider.userinfo_overrides = {"sub": "someone-else"}
    with pytest.raises(OAuthResponseError) as caught:
        await sign_in(oidc_provider, oidc_provider.client())
    assert_error(caught.value, OAuthResponseError, "OAUTH_INVALID_RESPONSE", 400)


@pytest.mark.parametrize(
    ("mode", "kind"), [("500", OAuthProviderError), ("401", OAuthResponseError)]
)
async def test_userinfo_failures(
    oidc_provider: OIDCProvider, mode: str, kind: type[OAuthError]
) -> None:
    oidc_provider.id_token_overrides = {"email": DROP}
    oidc_provider.failures.set("userinfo", mode)
    with pytest.raises(kind):
        await sign_in(oidc_provider, oidc_provider.client())


async def test_userinfo_that_is_not_an_object(oidc_provider: OIDCProvider) -> None:
    oidc_provider.id_token_overrides = {"email": DROP}
    oidc_provider.failures.set("userinfo", "not_object")
    with pytest.raises(OAuthProviderError):
        await sign_in(oidc_provider, oidc_provider.client())


async def test_userinfo_without_an_email(oidc_provider: OIDCProvider) -> None:
    oidc_provider.id_token_overrides = {"email": DROP}
    oidc_provider.userinfo_overrides = {"email": DROP}
    profile = await sign_in(oidc_provider, oidc_provider.client())
    assert profile == OAuthProfile("user-1", None, False)


async def test_a_token_response_without_id_token(oidc_provider: OIDCProvider) -> None:
    oidc_provider.omit_id_token = True
    with pytest.raises(IDTokenError) as caught:
        await sign_in(oidc_provider, oidc_provider.client())
    assert_error(caught.value, IDTokenError, "OAUTH_ID_TOKEN_INVALID", 400)


async def test_security_32_an_openid_sign_in_needs_its_nonce(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)
    token = await exchange_code(client, code, REDIRECT, verifier)
    with pytest.raises(NonceMismatchError) as caught:
        await fetch_profile(client, token)
    assert_error(caught.value, NonceMismatchError, "OAUTH_NONCE_MISMATCH", 400)


async def test_httpx_oauth_profile_methods(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)
    token = await exchange_code(client, code, REDIRECT, verifier)
    assert await client.get_id_email(token["access_token"]) == ("user-1", "alice@example.com")
    assert (await client.get_profile(token["access_token"]))["email_verified"] is True
    with pytest.raises(GetIdEmailError):
        await client.get_id_email("not-a-token")
    oidc_provider.userinfo_overrides = {"email": 5}
    assert await client.get_id_email(token["access_token"]) == ("user-1", None)
    oidc_provider.userinfo_overrides = {"sub": ""}
    with pytest.raises(GetIdEmailError):
        await client.get_id_email(token["access_token"])


# --- token exchange failures ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["500", "502", "garbage", "not_object"])
async def test_token_endpoint_failing_is_a_provider_error(
    oidc_provider: OIDCProvider, mode: str
) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)
    oidc_provider.failures.set("token", mode)
    with pytest.raises(OAuthProviderError) as caught:
        await exchange_code(client, code, REDIRECT, verifier)
    assert_error(caught.value, OAuthProviderError, "OAUTH_PROVIDER_ERROR", 502)


async def test_token_endpoint_timing_out_is_a_provider_error(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)  # discovered
    client.http_timeout = 0.3  # for the one call that follows, which never gets an answer
    oidc_provider.failures.set("token", "hang")
    with pytest.raises(OAuthProviderError) as caught:
        await exchange_code(client, code, REDIRECT, verifier)
    assert_error(caught.value, OAuthProviderError, "OAUTH_PROVIDER_ERROR", 502)
    assert timed_out(caught.value)
    assert oidc_provider.counts["token"] == 1


@pytest.mark.parametrize("mode", ["400", "garbage:400"])
async def test_a_4xx_refuses_the_code(oidc_provider: OIDCProvider, mode: str) -> None:
    client = oidc_provider.client()
    code, verifier, _ = await authorize(oidc_provider, client)
    oidc_provider.failures.set("token", mode)
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, REDIRECT, verifier)


async def test_wrong_client_secret_is_a_provider_error(oidc_provider: OIDCProvider) -> None:
    client = OpenIDConnectClient(
        oidc_provider.client_id, "wrong", oidc_provider.issuer, http_timeout=CLIENT_TIMEOUT
    )
    code, verifier, _ = await authorize(oidc_provider, client)
    with pytest.raises(OAuthProviderError, match="client credentials"):
        await exchange_code(client, code, REDIRECT, verifier)


async def test_an_unreachable_provider(oidc_provider: OIDCProvider) -> None:
    client = OpenIDConnectClient("id", "secret", "http://127.0.0.1:9")  # discard port
    with pytest.raises(OAuthProviderError):
        await client.get_authorization_url(REDIRECT)


class _Stub(BaseOAuth2[dict[str, Any]]):
    """A third-party client whose calls answer as set: for what httpx-oauth clients do
    that no HTTP provider makes them do."""

    def __init__(self, token: Any = None, id_email: Any = None) -> None:
        super().__init__("id", "secret", "https://p.example/a", "https://p.example/t")
        self.token, self.id_email = token, id_email

    async def get_access_token(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> OAuth2Token:
        if isinstance(self.token, Exception):
            raise self.token
        return OAuth2Token(self.token)

    async def get_id_email(self, token: str) -> tuple[str, str | None]:
        if isinstance(self.id_email, Exception):
            raise self.id_email
        return self.id_email  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"error": "bad_verification_code"}, OAuthTokenExchangeError),
        ({"error": {"nested": True}}, OAuthTokenExchangeError),
        ({"error": "incorrect_client_credentials"}, OAuthProviderError),
        ({"token_type": "bearer"}, OAuthProviderError),
        ({"access_token": ""}, OAuthProviderError),
        (httpx.ConnectError("refused"), OAuthProviderError),
    ],
)
async def test_token_answers_sorted(answer: Any, kind: type[OAuthError]) -> None:
    with pytest.raises(kind):
        await exchange_code(_Stub(token=answer), "code", REDIRECT, "verifier")


# --- other httpx-oauth clients: get_id_email, e-mail never verified ---------------------


async def test_fallback_to_get_id_email(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.plain_client()
    assert not uses_nonce(client)
    code, verifier, _ = await authorize(oidc_provider, client)
    token = await exchange_code(client, code, REDIRECT, verifier)
    profile = await fetch_profile(client, token)
    assert profile == OAuthProfile("user-1", "alice@example.com", email_verified=False)
    oidc_provider.failures.set("userinfo", "401")
    with pytest.raises(OAuthResponseError):
        await fetch_profile(client, token)
    oidc_provider.failures.set("userinfo", "503")
    with pytest.raises(OAuthProviderError):
        await fetch_profile(client, token)
    oidc_provider.failures.set("userinfo", "garbage")
    with pytest.raises(OAuthProviderError):
        await fetch_profile(client, token)


@pytest.mark.parametrize(
    "failure",
    [GetIdEmailError(), httpx.ReadTimeout("slow"), KeyError("sub")],
)
async def test_fallback_failures_are_provider_errors(failure: Exception) -> None:
    with pytest.raises(OAuthProviderError):
        await fetch_profile(_Stub(id_email=failure), {"access_token": "a"})


async def test_fetch_profile_needs_an_access_token() -> None:
    with pytest.raises(OAuthProviderError):
        await fetch_profile(_Stub(id_email=("1", None)), {"token_type": "bearer"})
    profile = await fetch_profile(_Stub(id_email=(7, "a@example.com")), {"access_token": "a"})
    assert profile == OAuthProfile("7", "a@example.com", email_verified=False)


# --- discovery --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"issuer": "https://other.example"},
        {"issuer": DROP},
        {"code_challenge_methods_supported": ["plain"]},
        {"code_challenge_methods_supported": "S256"},
        {"id_token_signing_alg_values_supported": ["HS256", "none"]},
        {"token_endpoint_auth_methods_supported": ["private_key_jwt"]},
        {"token_endpoint": DROP},
        {"jwks_uri": "http://keys.example/jwks"},
        {"userinfo_endpoint": 7},
        {"revocation_endpoint_auth_methods_supported": ["tls_client_auth"]},
    ],
)
async def test_discovery_documents_refused(
    oidc_provider: OIDCProvider, overrides: dict[str, Any]
) -> None:
    oidc_provider.discovery_overrides = overrides
    with pytest.raises(OAuthDiscoveryError) as caught:
        await oidc_provider.client().get_authorization_url(REDIRECT)
    assert_error(caught.value, OAuthDiscoveryError, "OAUTH_PROVIDER_ERROR", 502)


async def test_discovery_defaults(oidc_provider: OIDCProvider) -> None:
    for key in (
        "code_challenge_methods_supported",
        "id_token_signing_alg_values_supported",
        "token_endpoint_auth_methods_supported",
        "grant_types_supported",
        "revocation_endpoint",
    ):
        oidc_provider.discovery_overrides[key] = DROP
    client = await OpenIDConnectClient.discover(
        oidc_provider.issuer,
        oidc_provider.client_id,
        oidc_provider.client_secret,
        http_timeout=CLIENT_TIMEOUT,
    )
    assert client.metadata is not None
    assert client.metadata.id_token_signing_algorithms == {"RS256"}
    assert client.metadata.revocation_endpoint_auth_method is None
    assert client.refresh_token_endpoint is None
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert (await sign_in(oidc_provider, client)).email_verified


@pytest.mark.parametrize("mode", ["500", "404", "garbage", "not_object"])
async def test_discovery_failures(oidc_provider: OIDCProvider, mode: str) -> None:
    oidc_provider.failures.set("discovery", mode)
    client = oidc_provider.client()
    with pytest.raises(OAuthProviderError):
        await client.get_authorization_url(REDIRECT)
    code, verifier, nonce = "c", "v", "n"
    with pytest.raises(OAuthProviderError):
        await exchange_code(client, code, REDIRECT, verifier)
    with pytest.raises(OAuthProviderError):
        await fetch_profile(client, {"access_token": "a", "id_token": "x.y.z"}, nonce=nonce)
    oidc_provider.failures.modes.clear()  # a later call discovers again
    assert await client.get_authorization_url(REDIRECT)


async def test_an_insecure_issuer_is_refused() -> None:
    with pytest.raises(OAuthDiscoveryError):
        await OpenIDConnectClient.discover("http://idp.example", "id", "secret")


@pytest.mark.parametrize(
    ("url", "secure"),
    [
        ("https://idp.example/x", True),
        ("https:///x", False),
        ("http://127.0.0.1:8080/x", True),
        ("http://[::1]/x", True),
        ("http://localhost/x", True),
        ("http://idp.example/x", False),
        ("javascript:alert(1)", False),
        (None, False),
    ],
)
def test_secure_urls(url: object, secure: bool) -> None:
    assert is_secure_url(url) is secure


def test_the_package_imports_without_the_oauth_extra() -> None:
    code = (
        "import sys; sys.modules['httpx_oauth'] = None\n"
        "import doorkeeper.oauth as oauth\n"
        "from doorkeeper.oauth import OAuthError, code_challenge_s256, generate_nonce\n"
        "print(len(generate_nonce()), code_challenge_s256(sys.argv[1]))\n"
        "try:\n"
        "    oauth.OpenIDConnectClient\n"
        "except ImportError:\n"
        "    print('needs the extra')\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [  # the example of RFC 7636, appendix B
        "43 E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "needs the extra",
    ]
    import doorkeeper.oauth
    import doorkeeper.oauth.github_client  # the preset `github` is not shadowed by a module

    assert doorkeeper.oauth.github is github
    with pytest.raises(AttributeError):
        doorkeeper.oauth.not_a_client  # noqa: B018


# --- presets ----------------------------------------------------------------------------


def test_presets_need_no_network() -> None:
    client = google("id", "secret")
    assert (client.name, client.issuer) == ("google", "https://accounts.google.com")
    assert client.extra_issuers == {"accounts.google.com"}
    ms = microsoft("id", "secret")
    assert ms.issuer == "https://login.microsoftonline.com/common/v2.0"
    lab = gitlab("id", "secret", "https://gitlab.example.com/")
    assert (lab.name, lab.issuer) == ("gitlab", "https://gitlab.example.com")
    hub = github("id", "secret")
    assert hub.authorize_endpoint == "https://github.com/login/oauth/authorize"
    assert hub.base_scopes == ["read:user", "user:email"]
    assert not uses_nonce(hub)


async def test_google_preset(oidc_provider: OIDCProvider) -> None:
    client = google(
        oidc_provider.client_id,
        oidc_provider.client_secret,
        issuer=oidc_provider.issuer,
        http_timeout=CLIENT_TIMEOUT,
    )
    assert client.extra_issuers == set()
    assert (await sign_in(oidc_provider, client)).email == "alice@example.com"


async def test_gitlab_preset(oidc_provider: OIDCProvider) -> None:
    client = gitlab(
        oidc_provider.client_id,
        oidc_provider.client_secret,
        oidc_provider.issuer,
        http_timeout=CLIENT_TIMEOUT,
    )
    assert (await sign_in(oidc_provider, client)).account_id == "user-1"


def _microsoft(provider: OIDCProvider, tenant: str) -> OpenIDConnectClient:
    return microsoft(
        provider.client_id,
        provider.client_secret,
        tenant,
        authority=provider.base_url,
        http_timeout=CLIENT_TIMEOUT,
    )


@pytest.mark.parametrize("tenant", ["common", "organizations"])
async def test_microsoft_multi_tenant_issuer(oidc_provider: OIDCProvider, tenant: str) -> None:
    base = oidc_provider.base_url
    oidc_provider.discovery_overrides["issuer"] = base + "/{tenantid}/v2.0"
    oidc_provider.id_token_overrides = {"iss": f"{base}/{TENANT}/v2.0", "tid": TENANT}
    client = _microsoft(oidc_provider, tenant)
    profile = await sign_in(oidc_provider, client)
    assert profile.account_id == "user-1"
    # the issuer must be the token's own tenant
    oidc_provider.id_token_overrides["tid"] = TENANT.replace("7", "8")
    with pytest.raises(IDTokenError):
        await sign_in(oidc_provider, client)
    oidc_provider.id_token_overrides["tid"] = "../evil"
    with pytest.raises(IDTokenError):
        await sign_in(oidc_provider, client)


async def test_microsoft_single_tenant_and_consumers(oidc_provider: OIDCProvider) -> None:
    base = oidc_provider.base_url
    for tenant, issued_by in [(TENANT, TENANT), ("consumers", MICROSOFT_CONSUMERS_TENANT)]:
        oidc_provider.discovery_overrides["issuer"] = f"{base}/{issued_by}/v2.0"
        oidc_provider.id_token_overrides = {"iss": f"{base}/{issued_by}/v2.0"}
        assert (await sign_in(oidc_provider, _microsoft(oidc_provider, tenant))).email
    # a tenant-specific client refuses another tenant's document
    oidc_provider.discovery_overrides["issuer"] = base + "/{tenantid}/v2.0"
    with pytest.raises(OAuthDiscoveryError):
        await _microsoft(oidc_provider, TENANT).ensure_discovered()


# --- GitHub -----------------------------------------------------------------------------


async def github_token(standin: GitHubStandIn, client: GitHubClient) -> OAuth2Token:
    code, verifier, _ = await authorize(standin, client)
    return await exchange_code(client, code, REDIRECT, verifier)


async def test_github_profile_with_verified_primary_email(github_standin: GitHubStandIn) -> None:
    client = github_standin.client()
    token = await github_token(github_standin, client)
    profile = await fetch_profile(client, token)
    assert profile == OAuthProfile("4242", "octocat@example.com", email_verified=True)
    assert github_standin.authorize_requests[0]["code_challenge_method"] == "S256"
    assert "nonce" not in github_standin.authorize_requests[0]


async def test_github_unverified_or_missing_primary(github_standin: GitHubStandIn) -> None:
    client = github_standin.client()
    token = await github_token(github_standin, client)
    github_standin.emails = [{"email": "octocat@example.com", "primary": True, "verified": False}]
    assert await fetch_profile(client, token) == OAuthProfile("4242", "octocat@example.com", False)
    github_standin.emails = ["junk", {"email": "x@example.com", "primary": False, "verified": True}]
    assert await fetch_profile(client, token) == OAuthProfile("4242", None, False)


async def test_security_32_github_pkce_verifier_checked(github_standin: GitHubStandIn) -> None:
    client = github_standin.client()
    code, _, _ = await authorize(github_standin, client)
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, REDIRECT, generate_code_verifier())
    code, _, _ = await authorize(github_standin, client, pkce=False)
    with pytest.raises(OAuthTokenExchangeError):
        await exchange_code(client, code, REDIRECT, None)


async def test_github_wrong_secret_is_a_provider_error(github_standin: GitHubStandIn) -> None:
    client = github_standin.client(client_secret="wrong")
    code, verifier, _ = await authorize(github_standin, client)
    with pytest.raises(OAuthProviderError):
        await exchange_code(client, code, REDIRECT, verifier)


@pytest.mark.parametrize(
    ("endpoint", "mode", "kind"),
    [
        ("user", "500", OAuthProviderError),
        ("user", "401", OAuthResponseError),
        ("user", "not_object", OAuthProviderError),
        ("emails", "garbage", OAuthProviderError),
        ("emails", "403", OAuthResponseError),
    ],
)
async def test_github_api_failures(
    github_standin: GitHubStandIn, endpoint: str, mode: str, kind: type[OAuthError]
) -> None:
    client = github_standin.client()
    token = await github_token(github_standin, client)
    github_standin.failures.set(endpoint, mode)
    with pytest.raises(kind):
        await fetch_profile(client, token)


@pytest.mark.parametrize(
    ("user", "emails"),
    [({"id": True}, []), ({"login": "x"}, []), ({"id": 1}, {"email": "x@example.com"})],
)
async def test_github_unexpected_shapes(
    github_standin: GitHubStandIn, user: dict[str, Any], emails: Any
) -> None:
    client = github_standin.client()
    token = await github_token(github_standin, client)
    github_standin.user, github_standin.emails = user, emails
    with pytest.raises(OAuthProviderError):
        await fetch_profile(client, token)


async def test_github_token_endpoint_timeout(github_standin: GitHubStandIn) -> None:
    client = github_standin.client(http_timeout=0.3)  # its only call is the hanging one
    code, verifier, _ = await authorize(github_standin, client)
    github_standin.failures.set("token", "hang")
    with pytest.raises(OAuthProviderError) as caught:
        await exchange_code(client, code, REDIRECT, verifier)
    assert_error(caught.value, OAuthProviderError, "OAUTH_PROVIDER_ERROR", 502)
    assert timed_out(caught.value)
    assert github_standin.counts["token"] == 1


async def test_github_httpx_oauth_get_id_email(github_standin: GitHubStandIn) -> None:
    client = github_standin.client()
    token = (await github_token(github_standin, client))["access_token"]
    assert await client.get_id_email(token) == ("4242", "octocat@example.com")
    github_standin.emails = []
    assert await client.get_id_email(token) == ("4242", None)
    github_standin.user = {**github_standin.user, "email": "public@example.com"}
    emails_asked = github_standin.counts["emails"]
    assert await client.get_id_email(token) == ("4242", "public@example.com")
    assert github_standin.counts["emails"] == emails_asked  # a public address is enough
    github_standin.user["email"] = None
    github_standin.failures.set("emails", "500")
    with pytest.raises(GetIdEmailError):
        await client.get_id_email(token)
    github_standin.failures.set("user", "500")
    with pytest.raises(GetIdEmailError):
        await client.get_id_email(token)
