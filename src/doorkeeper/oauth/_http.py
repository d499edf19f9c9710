"""Calls to a provider: every transport failure, timeout or unreadable answer becomes an
`OAuthProviderError`; a refusal of the user's access token an `OAuthResponseError`."""

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import httpx

from doorkeeper.oauth.errors import OAuthProviderError, OAuthResponseError

ClientFactory = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def is_secure_url(url: object) -> TypeGuard[str]:
    """HTTPS, or plain HTTP to this machine only (local providers in development)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK


async def get_json(
    client_factory: ClientFactory,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    refusal_is_provider_error: bool = True,
) -> Any:
    """GET `url` and return its JSON body. A 4xx is a provider error for the provider's
    own documents, and an `OAuthResponseError` when it refuses the user's access token
    (`refusal_is_provider_error=False`)."""
    try:
        async with client_factory() as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as error:
        raise OAuthProviderError(f"{what}: {type(error).__name__}") from error
    status = response.status_code
    if 400 <= status < 500 and not refusal_is_provider_error:
        raise OAuthResponseError(f"{what} refused the access token (HTTP {status})")
    if not 200 <= status < 300:
        raise OAuthProviderError(f"{what} answered HTTP {status}")
    try:
        return response.json()
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise OAuthProviderError(f"{what} did not answer JSON") from error
