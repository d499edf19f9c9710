"""ID token checks of `OpenIDConnectClient` (SECURITY 32) against the local provider's
real keys and JWKS: signature, `alg`, `kid`, `iss`, `aud`/`azp`, `exp`, `iat`, `sub`,
`nonce`; and the JWKS cache, its bounded refetch on unknown `kid`s, key rotation."""

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest

from doorkeeper.oauth import (
    IDTokenError,
    NonceMismatchError,
    OAuthProviderError,
    OpenIDConnectClient,
    code_challenge_s256,
    exchange_code,
    fetch_profile,
    generate_code_verifier,
    generate_nonce,
)
from doorkeeper.oauth import jwks as jwks_module
from tests.local_server import apply_overrides
from tests.oidc_provider import (
    DROP,
    OIDCProvider,
    ec_key,
    oidc_provider_fixture,  # noqa: F401
    rsa_key,
)

NONCE = "the-nonce-of-this-sign-in"
REDIRECT = "http://app.test/callback"


def id_token(provider: OIDCProvider, signing: str | None = None, **overrides: Any) -> str:
    claims = apply_overrides(provider.id_token_claims(provider.user, NONCE), overrides)
    if not isinstance(claims.get("iss", ""), str):  # PyJWT's encode refuses those
        payload = json.dumps(claims).encode()
        key = provider.current_key
        return jwt.PyJWS().encode(payload, key.private, algorithm="RS256", headers={"kid": key.kid})
    return provider.sign(claims, signing)


def raw_jwt(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}.c2lnbmF0dXJl"


class Clock:
    """Moves the JWKS cache's clock (only its clock: the event loop keeps the real one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.shift = 0.0
        monkeypatch.setattr(jwks_module, "_monotonic", lambda: time.monotonic() + self.shift)

    def advance(self, seconds: float) -> None:
        self.shift += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


async def test_a_valid_id_token(oidc_provider: OIDCProvider) -> None:
    claims = await oidc_provider.client().verify_id_token(id_token(oidc_provider), nonce=NONCE)
    assert (claims["sub"], claims["email"]) == ("user-1", "alice@example.com")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"iss": "https://evil.example"}, id="iss-other"),
        pytest.param({"iss": ["x"]}, id="iss-list"),
        pytest.param({"iss": DROP}, id="iss-missing"),
        pytest.param({"aud": "another-client"}, id="aud-other"),
        pytest.param({"aud": DROP}, id="aud-missing"),
        pytest.param({"aud": ["doorkeeper-test-client", "other"]}, id="aud-several-no-azp"),
        pytest.param({"azp": "other"}, id="azp-other"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"exp": DROP}, id="exp-missing"),
        pytest.param({"iat": int(time.time()) + 3600}, id="iat-future"),
        pytest.param({"iat": DROP}, id="iat-missing"),
        pytest.param({"sub": ""}, id="sub-empty"),
        pytest.param({"sub": DROP}, id="sub-missing"),
        pytest.param({"sub": 42}, id="sub-number"),
    ],
)
async def test_security_32_claims_refused(
    oidc_provider: OIDCProvider, overrides: dict[str, Any]
) -> None:
    token = id_token(oidc_provider, **overrides)
    with pytest.raises(IDTokenError) as caught:
        await oidc_provider.client().verify_id_token(token, nonce=NONCE)
    assert type(caught.value) is IDTokenError
    assert (caught.value.code, caught.value.status_code) == ("OAUTH_ID_TOKEN_INVALID", 400)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": ["doorkeeper-test-client", "other"], "azp": "doorkeeper-test-client"}),
        pytest.param({"azp": "doorkeeper-test-client"}),
        # Relative to when the test runs, not to when the module was collected.
        pytest.param({"exp_in": -30}, id="expired-within-leeway"),
        pytest.param({"iss": "https://alias.example"}, id="extra-issuer"),
    ],
)
async def test_claims_accepted(oidc_provider: OIDCProvider, overrides: dict[str, Any]) -> None:
    if "exp_in" in overrides:
        overrides = {"exp": int(time.time()) + overrides["exp_in"]}
    client = oidc_provider.client(extra_issuers=["https://alias.example"])
    claims = await client.verify_id_token(id_token(oidc_provider, **overrides), nonce=NONCE)
    assert claims["sub"] == "user-1"


async def test_no_leeway(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client(leeway=0)
    with pytest.raises(IDTokenError):
        await client.verify_id_token(
            id_token(oidc_provider, exp=int(time.time()) - 30), nonce=NONCE
        )


@pytest.mark.parametrize(
    "nonce_claim", [DROP, "another-nonce", 5, "the-nonce-of-this-sign-in-plus"]
)
async def test_security_32_nonce_refused(oidc_provider: OIDCProvider, nonce_claim: Any) -> None:
    token = id_token(oidc_provider, nonce=nonce_claim)
    with pytest.raises(NonceMismatchError) as caught:
        await oidc_provider.client().verify_id_token(token, nonce=NONCE)
    assert caught.value.code == "OAUTH_NONCE_MISMATCH"


@pytest.mark.parametrize(
    "overrides",
    [{"nonce_override": "forged"}, {"id_token_overrides": {"aud": "x"}}],
    ids=["nonce", "aud"],
)
async def test_security_32_through_the_whole_flow(
    oidc_provider: OIDCProvider, overrides: dict[str, Any]
) -> None:
    for name, value in overrides.items():
        setattr(oidc_provider, name, value)
    client = oidc_provider.client()
    verifier, nonce = generate_code_verifier(), generate_nonce()
    url = await client.get_authorization_url(
        REDIRECT,
        "s",
        code_challenge=code_challenge_s256(verifier),
        code_challenge_method="S256",
        extras_params={"nonce": nonce},
    )
    code, _ = await oidc_provider.authorize(url)
    token = await exchange_code(client, code, REDIRECT, verifier)
    with pytest.raises(IDTokenError):
        await fetch_profile(client, token, nonce=nonce)


# --- signatures, alg, kid ---------------------------------------------------------------


@pytest.mark.parametrize("signing", ["unknown_kid", "foreign_key", "hs256", "none", "no_kid"])
async def test_security_32_signatures_refused(oidc_provider: OIDCProvider, signing: str) -> None:
    with pytest.raises(IDTokenError):
        await oidc_provider.client().verify_id_token(id_token(oidc_provider, signing), nonce=NONCE)


async def test_es256_is_accepted_when_the_provider_declares_it(
    oidc_provider: OIDCProvider,
) -> None:
    token = id_token(oidc_provider, "ec")
    assert await oidc_provider.client().verify_id_token(token, nonce=NONCE)
    oidc_provider.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256"]
    with pytest.raises(IDTokenError):
        await oidc_provider.client().verify_id_token(token, nonce=NONCE)


async def test_a_token_without_kid_and_a_single_key(oidc_provider: OIDCProvider) -> None:
    single = {key: value for key, value in rsa_key(0).jwk.items() if key != "kid"}
    oidc_provider.jwks_override = {"keys": [single]}
    claims = await oidc_provider.client().verify_id_token(
        id_token(oidc_provider, "no_kid"), nonce=NONCE
    )
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        raw_jwt({"alg": ["RS256"], "kid": "rsa-0"}, {}),
        raw_jwt({"alg": "RS256", "kid": 7}, {}),
    ],
)
async def test_malformed_tokens(oidc_provider: OIDCProvider, token: str) -> None:
    with pytest.raises(IDTokenError):
        await oidc_provider.client().verify_id_token(token, nonce=NONCE)


async def test_the_key_decides_the_algorithm(oidc_provider: OIDCProvider) -> None:
    claims = oidc_provider.id_token_claims(oidc_provider.user, NONCE)
    # the JWK says PS256, the token RS256
    oidc_provider.jwks_override = {"keys": [{**rsa_key(0).jwk, "alg": "PS256"}]}
    client = oidc_provider.client()
    with pytest.raises(IDTokenError, match="key is for"):
        await client.verify_id_token(rsa_key(0).sign(claims, {"kid": "rsa-0"}), nonce=NONCE)
    # an RSA key without alg, an ES256 token naming it
    rsa_without_alg = {key: value for key, value in rsa_key(0).jwk.items() if key != "alg"}
    oidc_provider.jwks_override = {"keys": [rsa_without_alg]}
    client = oidc_provider.client()
    with pytest.raises(IDTokenError):
        await client.verify_id_token(ec_key().sign(claims, {"kid": "rsa-0"}), nonce=NONCE)


# --- the JWKS cache ---------------------------------------------------------------------


async def test_jwks_is_cached(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client()
    # concurrent first uses share one fetch
    await asyncio.gather(
        *(client.verify_id_token(id_token(oidc_provider), nonce=NONCE) for _ in range(10))
    )
    await client.verify_id_token(id_token(oidc_provider, "ec"), nonce=NONCE)
    assert (oidc_provider.counts["discovery"], oidc_provider.counts["jwks"]) == (1, 1)


async def test_unknown_kids_refetch_at_most_once_per_interval(
    oidc_provider: OIDCProvider, clock: Clock
) -> None:
    client = oidc_provider.client(jwks_refetch_interval=60)
    await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    assert oidc_provider.counts["jwks"] == 1

    async def flood() -> None:
        tokens = [id_token(oidc_provider, "unknown_kid") for _ in range(50)]
        results = await asyncio.gather(
            *(client.verify_id_token(token, nonce=NONCE) for token in tokens),
            return_exceptions=True,
        )
        assert all(isinstance(result, IDTokenError) for result in results)

    await flood()  # within the interval of the first fetch: no request at all
    assert oidc_provider.counts["jwks"] == 1
    clock.advance(61)
    await flood()  # one request for the whole flood
    assert oidc_provider.counts["jwks"] == 2
    await flood()
    clock.advance(30)
    await flood()
    assert oidc_provider.counts["jwks"] == 2
    clock.advance(31)
    await flood()
    assert oidc_provider.counts["jwks"] == 3
    # known keys are still served from the cache
    await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    assert oidc_provider.counts["jwks"] == 3


async def test_key_rotation(oidc_provider: OIDCProvider, clock: Clock) -> None:
    client = oidc_provider.client(jwks_refetch_interval=60)
    await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    oidc_provider.rotate_keys()
    rotated = id_token(oidc_provider)
    with pytest.raises(IDTokenError):  # refetched too recently
        await client.verify_id_token(rotated, nonce=NONCE)
    clock.advance(60)
    assert await client.verify_id_token(rotated, nonce=NONCE)
    assert oidc_provider.counts["jwks"] == 2


async def test_key_rotation_without_refetch_interval(oidc_provider: OIDCProvider) -> None:
    client = oidc_provider.client(jwks_refetch_interval=0)
    await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    oidc_provider.rotate_keys(keep_old=True)
    assert await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    assert oidc_provider.counts["jwks"] == 2


async def test_a_withdrawn_key_is_refused_once_the_cache_expires(
    oidc_provider: OIDCProvider, clock: Clock
) -> None:
    client = oidc_provider.client(jwks_max_age=3600)
    old = id_token(oidc_provider)
    await client.verify_id_token(old, nonce=NONCE)
    oidc_provider.rotate_keys()
    assert await client.verify_id_token(old, nonce=NONCE)  # still cached
    clock.advance(3600)
    with pytest.raises(IDTokenError):
        await client.verify_id_token(old, nonce=NONCE)
    assert oidc_provider.counts["jwks"] == 2


@pytest.mark.parametrize(
    ("mode", "override"),
    [("500", None), ("garbage", None), ("not_object", None), (None, {"keys": "none"})],
)
async def test_jwks_failures_are_provider_errors(
    oidc_provider: OIDCProvider, mode: str | None, override: Any
) -> None:
    if mode is not None:
        oidc_provider.failures.set("jwks", mode)
    oidc_provider.jwks_override = override
    with pytest.raises(OAuthProviderError):
        await oidc_provider.client().verify_id_token(id_token(oidc_provider), nonce=NONCE)


async def test_an_expired_cache_is_not_served_when_the_provider_fails(
    oidc_provider: OIDCProvider, clock: Clock
) -> None:
    client = oidc_provider.client()
    await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    oidc_provider.failures.set("jwks", "503")
    clock.advance(4000)
    with pytest.raises(OAuthProviderError):
        await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)


async def test_unusable_jwks_entries_are_skipped(oidc_provider: OIDCProvider) -> None:
    oidc_provider.jwks_override = {
        "keys": [
            "junk",
            {"kid": "no-kty"},
            {**rsa_key(1).jwk, "use": "enc"},
            {**rsa_key(2).jwk, "kid": 12},
            rsa_key(0).jwk,
        ]
    }
    client = oidc_provider.client()
    assert await client.verify_id_token(id_token(oidc_provider), nonce=NONCE)
    encryption_key = rsa_key(1).sign(
        oidc_provider.id_token_claims(oidc_provider.user, NONCE), {"kid": rsa_key(1).kid}
    )
    with pytest.raises(IDTokenError):
        await client.verify_id_token(encryption_key, nonce=NONCE)


def test_client_options_are_kept() -> None:
    client = OpenIDConnectClient(
        "id", "secret", "https://idp.example", jwks_refetch_interval=5, jwks_max_age=50
    )
    assert (client.jwks_refetch_interval, client.jwks_max_age, client.leeway) == (5, 50, 60)
