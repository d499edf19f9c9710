"""Social sign-in providers: OpenID Connect and GitHub clients built on httpx-oauth
(install the `oauth` extra), the profile a sign-in yields, and stable errors.

A router's flow::

    verifier = generate_code_verifier()
    nonce = generate_nonce() if uses_nonce(client) else None
    url = await client.get_authorization_url(
        redirect_uri, state, code_challenge=code_challenge_s256(verifier),
        code_challenge_method="S256", extras_params={"nonce": nonce} if nonce else None,
    )
    ...  # callback
    token = await exchange_code(client, code, redirect_uri, verifier)
    profile = await fetch_profile(client, token, nonce=nonce)

Every failure is an `OAuthError` with `.code` and `.status_code` (400 or 502)."""

import importlib
from typing import TYPE_CHECKING, Any

from doorkeeper.oauth.errors import (
    IDTokenError,
    NonceMismatchError,
    OAuthDiscoveryError,
    OAuthError,
    OAuthProviderError,
    OAuthResponseError,
    OAuthTokenExchangeError,
)
from doorkeeper.oauth.pkce import code_challenge_s256, generate_code_verifier, generate_nonce

if TYPE_CHECKING:
    from doorkeeper.oauth.github_client import GitHubClient
    from doorkeeper.oauth.oidc import OpenIDConnectClient
    from doorkeeper.oauth.presets import MicrosoftClient, github, gitlab, google, microsoft
    from doorkeeper.oauth.profile import (
        OAuthProfile,
        OAuthProfileClient,
        exchange_code,
        fetch_profile,
        uses_nonce,
    )

# The clients need httpx-oauth (the `oauth` extra): they load on first access, so that
# `doorkeeper.oauth.errors`, `.pkce` and the package itself import without it.
_LAZY = {
    "GitHubClient": "github_client",
    "OpenIDConnectClient": "oidc",
    "MicrosoftClient": "presets",
    "github": "presets",
    "gitlab": "presets",
    "google": "presets",
    "microsoft": "presets",
    "OAuthProfile": "profile",
    "OAuthProfileClient": "profile",
    "exchange_code": "profile",
    "fetch_profile": "profile",
    "uses_nonce": "profile",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'doorkeeper.oauth' has no attribute {name!r}")
    return getattr(importlib.import_module(f"doorkeeper.oauth.{module}"), name)


__all__ = [
    "GitHubClient",
    "IDTokenError",
    "MicrosoftClient",
    "NonceMismatchError",
    "OAuthDiscoveryError",
    "OAuthError",
    "OAuthProfile",
    "OAuthProfileClient",
    "OAuthProviderError",
    "OAuthResponseError",
    "OAuthTokenExchangeError",
    "OpenIDConnectClient",
    "code_challenge_s256",
    "exchange_code",
    "fetch_profile",
    "generate_code_verifier",
    "generate_nonce",
    "github",
    "gitlab",
    "google",
    "microsoft",
    "uses_nonce",
]
