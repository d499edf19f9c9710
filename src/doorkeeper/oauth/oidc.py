"""A generic OpenID Connect client, configured from the issuer's discovery document.

It is an httpx-oauth `BaseOAuth2`, so it plugs in wherever one does; discovery happens on
first use (or eagerly with `await OpenIDConnectClient.discover(...)`). On top of
httpx-oauth it verifies ID tokens: signature with the provider's JWKS (asymmetric
algorithms only), `iss`, `aud`/`azp`, `exp`, `iat` and `nonce`."""

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from httpx_oauth.exceptions import GetIdEmailError
from httpx_oauth.oauth2 import BaseOAuth2, OAuth2Token

from doorkeeper.oauth import id_token as checks
from doorkeeper.oauth._compat import GetProfileError
from doorkeeper.oauth._http import get_json
from doorkeeper.oauth._locks import PerLoopLock
from doorkeeper.oauth.discovery import ProviderMetadata, fetch_metadata
from doorkeeper.oauth.errors import (
    IDTokenError,
    NonceMismatchError,
    OAuthError,
    OAuthProviderError,
    OAuthResponseError,
)
from doorkeeper.oauth.jwks import JWKSCache
from doorkeeper.oauth.profile import OAuthProfile

DEFAULT_SCOPES = ("openid", "email", "profile")

_Client = TypeVar("_Client", bound="OpenIDConnectClient")


class OpenIDConnectClient(BaseOAuth2[dict[str, Any]]):
    """OpenID Connect client for `issuer`.

    `extra_issuers` are further `iss` values accepted on ID tokens (Google also issues
    `accounts.google.com`). `leeway` (seconds) applies to `exp` and `iat`. The JWKS is
    cached for `jwks_max_age` seconds and refetched on an unknown `kid` at most once per
    `jwks_refetch_interval` seconds."""

    nonce_required = True

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        issuer: str,
        *,
        name: str | None = None,
        base_scopes: Sequence[str] = DEFAULT_SCOPES,
        http_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        extra_issuers: Collection[str] = (),
        leeway: float = 60.0,
        jwks_refetch_interval: float = 60.0,
        jwks_max_age: float = 3600.0,
    ) -> None:
        super().__init__(
            client_id,
            client_secret,
            "",  # the endpoints come from discovery
            "",
            name=name or urlsplit(issuer).hostname or "openid",
            base_scopes=list(base_scopes),
        )
        self.issuer = issuer
        self.http_timeout = http_timeout
        self.transport = transport
        self.extra_issuers = frozenset(extra_issuers)
        self.leeway = leeway
        self.jwks_refetch_interval = jwks_refetch_interval
        self.jwks_max_age = jwks_max_age
        self._discovered: tuple[ProviderMetadata, JWKSCache] | None = None
        self._discovery_lock = PerLoopLock()

    @classmethod
    async def discover(
        cls: type[_Client],
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        name: str | None = None,
        base_scopes: Sequence[str] = DEFAULT_SCOPES,
        http_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> _Client:
        """Build a client and read the discovery document now (raises
        `OAuthDiscoveryError` / `OAuthProviderError` instead of failing on first use)."""
        client = cls(
            client_id,
            client_secret,
            issuer,
            name=name,
            base_scopes=base_scopes,
            http_timeout=http_timeout,
            transport=transport,
            **options,
        )
        await client.ensure_discovered()
        return client

    @property
    def metadata(self) -> ProviderMetadata | None:
        """The discovery document's useful parts; None until discovered."""
        return self._discovered[0] if self._discovered is not None else None

    def get_httpx_client(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return httpx.AsyncClient(timeout=self.http_timeout, transport=self.transport)

    async def ensure_discovered(self) -> ProviderMetadata:
        return (await self._discover())[0]

    async def _discover(self) -> tuple[ProviderMetadata, JWKSCache]:
        discovered = self._discovered
        if discovered is None:
            async with self._discovery_lock():  # concurrent first uses share one fetch
                if self._discovered is None:
                    self._discovered = await self._fetch_discovery()
                discovered = self._discovered
        return discovered

    async def _fetch_discovery(self) -> tuple[ProviderMetadata, JWKSCache]:
        metadata = await fetch_metadata(
            self.issuer, self.get_httpx_client, accept_issuer=self.accepts_discovered_issuer
        )
        self.authorize_endpoint = metadata.authorization_endpoint
        self.access_token_endpoint = metadata.token_endpoint
        self.refresh_token_endpoint = (
            metadata.token_endpoint if metadata.refresh_token_supported else None
        )
        self.revoke_token_endpoint = metadata.revocation_endpoint
        self.token_endpoint_auth_method = metadata.token_endpoint_auth_method
        self.revocation_endpoint_auth_method = metadata.revocation_endpoint_auth_method
        jwks = JWKSCache(
            metadata.jwks_uri,
            self.get_httpx_client,
            refetch_interval=self.jwks_refetch_interval,
            max_age=self.jwks_max_age,
        )
        return metadata, jwks

    def accepts_discovered_issuer(self, issuer: str) -> bool:
        """Whether the discovery document's `issuer` is the issuer asked for (exactly)."""
        return issuer == self.issuer

    def id_token_issuers(
        self, metadata: ProviderMetadata, claims: Mapping[str, Any]
    ) -> Collection[str]:
        """The `iss` values accepted on this (signature-checked) ID token."""
        return {metadata.issuer, *self.extra_issuers}

    # --- httpx-oauth's API, discovering first -----------------------------------------

    async def get_authorization_url(
        self,
        redirect_uri: str,
        state: str | None = None,
        scope: list[str] | None = None,
        code_challenge: str | None = None,
        code_challenge_method: Literal["plain", "S256"] | None = None,
        extras_params: dict[str, Any] | None = None,
    ) -> str:
        await self._discover()
        return await super().get_authorization_url(
            redirect_uri, state, scope, code_challenge, code_challenge_method, extras_params
        )

    async def get_access_token(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> OAuth2Token:
        await self._discover()
        return await super().get_access_token(code, redirect_uri, code_verifier)

    async def refresh_token(self, refresh_token: str) -> OAuth2Token:
        await self._discover()
        return await super().refresh_token(refresh_token)

    async def revoke_token(self, token: str, token_type_hint: str | None = None) -> None:
        await self._discover()
        await super().revoke_token(token, token_type_hint)

    async def get_profile(self, token: str) -> dict[str, Any]:
        """The userinfo of access token `token` (httpx-oauth's contract)."""
        try:
            return await self.userinfo(token)
        except OAuthError as error:
            raise GetProfileError(error.message) from error

    async def get_id_email(self, token: str) -> tuple[str, str | None]:
        """`sub` and `email` from userinfo (httpx-oauth's contract). Says nothing about
        the e-mail being verified: sign-ins use `get_oauth_profile`."""
        try:
            info = await self.get_profile(token)
        except GetProfileError as error:
            raise GetIdEmailError(error.message) from error
        subject, email = info.get("sub"), info.get("email")
        if not isinstance(subject, str) or not subject:
            raise GetIdEmailError("userinfo has no subject")
        return subject, email if isinstance(email, str) else None

    # --- OpenID Connect ---------------------------------------------------------------

    async def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Check `id_token` and return its claims; raise `IDTokenError` (or
        `NonceMismatchError`) when it fails, `OAuthProviderError` when the JWKS cannot be
        read."""
        metadata, jwks = await self._discover()
        algorithm, kid = checks.read_header(id_token, metadata.id_token_signing_algorithms)
        jwk = await jwks.get(kid)
        claims = checks.decode(
            id_token, jwk, algorithm=algorithm, client_id=self.client_id, leeway=self.leeway
        )
        checks.check_issuer(claims, self.id_token_issuers(metadata, claims))
        checks.check_nonce(claims, nonce)
        return claims

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo endpoint's JSON for `access_token`."""
        metadata, _ = await self._discover()
        if metadata.userinfo_endpoint is None:
            raise OAuthProviderError("the provider has no userinfo endpoint")
        info = await get_json(
            self.get_httpx_client,
            metadata.userinfo_endpoint,
            what="userinfo",
            headers={**self.request_headers, "Authorization": f"Bearer {access_token}"},
            refusal_is_provider_error=False,
        )
        if not isinstance(info, dict):
            raise OAuthProviderError("userinfo is not a JSON object")
        return info

    async def get_oauth_profile(
        self, token: Mapping[str, Any], *, nonce: str | None = None
    ) -> OAuthProfile:
        """The profile of a sign-in from its token response: `sub`, `email` and
        `email_verified` of the verified ID token; the e-mail comes from userinfo when the
        ID token has none (userinfo's `sub` must then be the ID token's)."""
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise IDTokenError("the token response has no ID token")
        if nonce is None:
            raise NonceMismatchError("no nonce was sent for this OpenID Connect sign-in")
        claims = await self.verify_id_token(id_token, nonce=nonce)
        subject: str = claims["sub"]
        email, verified = claims.get("email"), claims.get("email_verified") is True
        if not isinstance(email, str) or not email:
            email, verified = await self._email_from_userinfo(token, subject)
        return OAuthProfile(account_id=subject, email=email, email_verified=verified)

    async def _email_from_userinfo(
        self, token: Mapping[str, Any], subject: str
    ) -> tuple[str | None, bool]:
        metadata, _ = await self._discover()
        if metadata.userinfo_endpoint is None:
            return None, False
        info = await self.userinfo(str(token.get("access_token", "")))
        if info.get("sub") != subject:
            raise OAuthResponseError("userinfo describes another subject than the ID token")
        email = info.get("email")
        if not isinstance(email, str) or not email:
            return None, False
        return email, info.get("email_verified") is True
