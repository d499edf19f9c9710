"""What a sign-in learns from a provider (`OAuthProfile`), and the two calls a router
makes: `exchange_code` (authorization code → tokens) and `fetch_profile` (tokens →
profile). Every failure is an `OAuthError` with a stable `code` and a `status_code`:
502 when the provider failed, 400 when its answer was refused; never anything else."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx
from httpx_oauth.oauth2 import BaseOAuth2, GetAccessTokenError, OAuth2Token

from doorkeeper.oauth._compat import GetProfileError
from doorkeeper.oauth.errors import (
    IDTokenError,
    NonceMismatchError,
    OAuthDiscoveryError,
    OAuthError,
    OAuthProviderError,
    OAuthResponseError,
    OAuthTokenExchangeError,
)

__all__ = [
    "IDTokenError",
    "NonceMismatchError",
    "OAuthDiscoveryError",
    "OAuthError",
    "OAuthProfile",
    "OAuthProfileClient",
    "OAuthProviderError",
    "OAuthResponseError",
    "OAuthTokenExchangeError",
    "exchange_code",
    "fetch_profile",
    "uses_nonce",
]

_CREDENTIAL_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "incorrect_client_credentials"}
)
"""Token endpoint errors that mean our client credentials are wrong: a provider-side (502)
problem, not the user's."""


@dataclass(frozen=True)
class OAuthProfile:
    """Who signed in. `email_verified` is True only when the provider said so in as many
    words (the JSON literal `true`): an unknown status counts as unverified, so such an
    e-mail never associates the sign-in with an existing account by itself."""

    account_id: str
    email: str | None
    email_verified: bool


@runtime_checkable
class OAuthProfileClient(Protocol):
    """A client that reads a verified profile itself (OpenID Connect clients, GitHub).
    `nonce_required` tells the router to send a nonce in the authorization URL
    (`extras_params={"nonce": ...}`) and to give the same nonce back here."""

    nonce_required: bool

    async def get_oauth_profile(
        self, token: Mapping[str, Any], *, nonce: str | None = None
    ) -> OAuthProfile: ...


def uses_nonce(client: object) -> bool:
    """Whether the authorization URL of `client` must carry a nonce."""
    return isinstance(client, OAuthProfileClient) and client.nonce_required


async def exchange_code(
    client: BaseOAuth2[Any], code: str, redirect_uri: str, code_verifier: str | None
) -> OAuth2Token:
    """`client.get_access_token`, with its failures sorted: the provider refusing the code
    (4xx or an `error` in the body, as GitHub answers with a 200) is an
    `OAuthTokenExchangeError` (400); a timeout, a connection error, a 5xx, an unreadable
    body or refused client credentials an `OAuthProviderError` (502)."""
    try:
        token = await client.get_access_token(code, redirect_uri, code_verifier)
    except GetAccessTokenError as error:
        raise _token_error(error.response) from error
    except httpx.HTTPError as error:
        raise OAuthProviderError(f"token endpoint: {type(error).__name__}") from error
    except (TypeError, ValueError) as error:  # not a JSON object, or a bad expires_in
        raise OAuthProviderError("the token endpoint gave an unreadable answer") from error
    refusal = token.get("error")
    if refusal is not None:
        raise _refusal(refusal)
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        raise OAuthProviderError("the token endpoint gave no access token")
    return token


def _token_error(response: httpx.Response | None) -> OAuthError:
    if response is None:
        return OAuthProviderError("token endpoint unreachable or too slow")
    if not 400 <= response.status_code < 500:
        return OAuthProviderError(f"token endpoint answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    return _refusal(body.get("error") if isinstance(body, dict) else None)


def _refusal(error: object) -> OAuthError:
    if isinstance(error, str) and error in _CREDENTIAL_ERRORS:
        return OAuthProviderError(f"the provider refused our client credentials ({error})")
    shown = json.dumps(error)[:80]
    return OAuthTokenExchangeError(f"the token endpoint refused the code ({shown})")


async def fetch_profile(
    client: BaseOAuth2[Any], token: Mapping[str, Any], *, nonce: str | None = None
) -> OAuthProfile:
    """The profile behind `token` (as `exchange_code` returned it).

    Clients implementing `OAuthProfileClient` check it themselves (ID token and nonce for
    OpenID Connect). Any other httpx-oauth client falls back to `get_id_email`, whose
    e-mail is never taken as verified."""
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise OAuthProviderError("the token response has no access token")
    if isinstance(client, OAuthProfileClient):
        return await client.get_oauth_profile(token, nonce=nonce)
    try:
        account_id, email = await client.get_id_email(access_token)
    except GetProfileError as error:
        raise _profile_error(error.response) from error
    except httpx.HTTPError as error:
        raise OAuthProviderError(f"profile: {type(error).__name__}") from error
    except (LookupError, TypeError, ValueError) as error:
        raise OAuthProviderError("the provider's profile has an unexpected shape") from error
    return OAuthProfile(account_id=str(account_id), email=email, email_verified=False)


def _profile_error(response: httpx.Response | None) -> OAuthError:
    if response is not None and 400 <= response.status_code < 500:
        return OAuthResponseError(f"the profile endpoint answered HTTP {response.status_code}")
    return OAuthProviderError("the profile endpoint failed")
