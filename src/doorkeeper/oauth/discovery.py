"""OpenID Connect discovery: read `{issuer}/.well-known/openid-configuration` and keep
what the client needs, refusing a document that cannot be used safely."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from httpx_oauth.oauth2 import OAuth2ClientAuthMethod

from doorkeeper.oauth._http import ClientFactory, get_json, is_secure_url
from doorkeeper.oauth.errors import OAuthDiscoveryError

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""The ID token signatures accepted: never `none`, never HS* (a shared-secret MAC)."""

_AUTH_METHODS: tuple[OAuth2ClientAuthMethod, ...] = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document the client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    revocation_endpoint: str | None
    token_endpoint_auth_method: OAuth2ClientAuthMethod
    revocation_endpoint_auth_method: OAuth2ClientAuthMethod | None
    id_token_signing_algorithms: frozenset[str]
    refresh_token_supported: bool
    document: Mapping[str, Any] = field(repr=False)


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


async def fetch_metadata(
    issuer: str,
    client_factory: ClientFactory,
    *,
    accept_issuer: Callable[[str], bool],
) -> ProviderMetadata:
    """Fetch and check the discovery document of `issuer`. `accept_issuer` decides whether
    the document's `issuer` is the one asked for (plain equality for most providers)."""
    if not is_secure_url(issuer):
        raise OAuthDiscoveryError(f"issuer {issuer!r} is not an HTTPS URL")
    document = await get_json(client_factory, discovery_url(issuer), what="discovery")
    if not isinstance(document, dict):
        raise OAuthDiscoveryError("the discovery document is not a JSON object")
    stated = document.get("issuer")
    if not isinstance(stated, str) or not accept_issuer(stated):
        raise OAuthDiscoveryError(f"the discovery document names issuer {stated!r}")
    return parse_metadata(stated, document)


def parse_metadata(issuer: str, document: Mapping[str, Any]) -> ProviderMetadata:
    challenge_methods = document.get("code_challenge_methods_supported")
    if challenge_methods is not None and "S256" not in _strings(challenge_methods):
        raise OAuthDiscoveryError("the provider does not support PKCE S256")
    declared = document.get("id_token_signing_alg_values_supported", ["RS256"])
    algorithms = frozenset(_strings(declared)) & ASYMMETRIC_ALGORITHMS
    if not algorithms:
        raise OAuthDiscoveryError("the provider signs ID tokens with no accepted algorithm")
    revocation_endpoint = _endpoint(document, "revocation_endpoint", required=False)
    grant_types = _strings(document.get("grant_types_supported", []))
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_required(document, "authorization_endpoint"),
        token_endpoint=_required(document, "token_endpoint"),
        jwks_uri=_required(document, "jwks_uri"),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", required=False),
        revocation_endpoint=revocation_endpoint,
        token_endpoint_auth_method=_auth_method(document, "token_endpoint_auth_methods_supported"),
        revocation_endpoint_auth_method=(
            _auth_method(document, "revocation_endpoint_auth_methods_supported")
            if revocation_endpoint is not None
            else None
        ),
        id_token_signing_algorithms=algorithms,
        refresh_token_supported="refresh_token" in grant_types,
        document=document,
    )


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        raise OAuthDiscoveryError("a list in the discovery document is not a list")
    return [item for item in value if isinstance(item, str)]


def _required(document: Mapping[str, Any], key: str) -> str:
    url = _endpoint(document, key, required=True)
    assert url is not None
    return url


def _endpoint(document: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    url = document.get(key)
    if url is None and not required:
        return None
    if not is_secure_url(url):
        raise OAuthDiscoveryError(f"{key} is missing or not an HTTPS URL")
    return url


def _auth_method(document: Mapping[str, Any], key: str) -> OAuth2ClientAuthMethod:
    # Absent means client_secret_basic only (OpenID Connect Discovery 1.0, section 3).
    supported = _strings(document.get(key, ["client_secret_basic"]))
    for method in _AUTH_METHODS:
        if method in supported:
            return method
    raise OAuthDiscoveryError(f"no client authentication method we can use in {key}")
