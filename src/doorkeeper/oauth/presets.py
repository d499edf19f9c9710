"""Ready clients for Google, Microsoft, GitLab (OpenID Connect) and GitHub (OAuth2).

The constructors are synchronous: the OpenID Connect ones read their discovery document
on first use (the first authorization URL), so building them needs no network and no
event loop. A discovery failure then surfaces as an `OAuthProviderError` (502) on that
first use; `await client.ensure_discovered()` at startup checks it earlier.

Google and Microsoft are OpenID Connect clients rather than httpx-oauth's
`GoogleOAuth2` / `MicrosoftGraphOAuth2`: those read the People / Graph APIs, which say
nothing about the e-mail being verified and carry no nonce. GitHub uses httpx-oauth's
`GitHubOAuth2` (see `doorkeeper.oauth.github_client`)."""

import re
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from doorkeeper.oauth.discovery import ProviderMetadata
from doorkeeper.oauth.github_client import GITHUB_API, GITHUB_WEB, GitHubClient
from doorkeeper.oauth.oidc import OpenIDConnectClient

GOOGLE_ISSUER = "https://accounts.google.com"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_CONSUMERS_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
"""The tenant of personal Microsoft accounts (the issuer of the `consumers` endpoint)."""
GITLAB_URL = "https://gitlab.com"

_TENANT_PLACEHOLDER = "{tenantid}"
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def google(
    client_id: str,
    client_secret: str,
    *,
    issuer: str = GOOGLE_ISSUER,
    name: str = "google",
    http_timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OpenIDConnectClient:
    """Google. Its ID tokens name `https://accounts.google.com` or `accounts.google.com`
    as issuer: both are accepted."""
    return OpenIDConnectClient(
        client_id,
        client_secret,
        issuer,
        name=name,
        http_timeout=http_timeout,
        transport=transport,
        extra_issuers=("accounts.google.com",) if issuer == GOOGLE_ISSUER else (),
    )


class MicrosoftClient(OpenIDConnectClient):
    """Microsoft identity platform (v2.0) for `tenant`: a tenant id or domain, or one of
    `common`, `organizations` (multi-tenant) and `consumers`.

    The multi-tenant endpoints publish the issuer template
    `{authority}/{tenantid}/v2.0`; an ID token is then accepted when its `iss` is that
    template filled with the token's own `tid` claim (any tenant: pass your tenant id
    to accept only your organization). Microsoft ID tokens carry no `email_verified`,
    so their e-mail counts as unverified (never associated automatically)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        tenant: str = "common",
        *,
        authority: str = MICROSOFT_AUTHORITY,
        name: str = "microsoft",
        http_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.authority = authority.rstrip("/")
        self.tenant = tenant
        super().__init__(
            client_id,
            client_secret,
            f"{self.authority}/{tenant}/v2.0",
            name=name,
            http_timeout=http_timeout,
            transport=transport,
        )

    def accepts_discovered_issuer(self, issuer: str) -> bool:
        if self.tenant in ("common", "organizations"):
            tenant = _TENANT_PLACEHOLDER
        elif self.tenant == "consumers":
            tenant = MICROSOFT_CONSUMERS_TENANT
        else:
            return issuer == self.issuer
        return issuer == f"{self.authority}/{tenant}/v2.0"

    def id_token_issuers(
        self, metadata: ProviderMetadata, claims: Mapping[str, Any]
    ) -> Collection[str]:
        if _TENANT_PLACEHOLDER not in metadata.issuer:
            return {metadata.issuer}
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or not _TENANT_ID.fullmatch(tenant):
            return set()
        return {metadata.issuer.replace(_TENANT_PLACEHOLDER, tenant)}


def microsoft(
    client_id: str,
    client_secret: str,
    tenant: str = "common",
    *,
    authority: str = MICROSOFT_AUTHORITY,
    name: str = "microsoft",
    http_timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> MicrosoftClient:
    """Microsoft (Entra ID and personal accounts); see `MicrosoftClient`."""
    return MicrosoftClient(
        client_id,
        client_secret,
        tenant,
        authority=authority,
        name=name,
        http_timeout=http_timeout,
        transport=transport,
    )


def gitlab(
    client_id: str,
    client_secret: str,
    base_url: str = GITLAB_URL,
    *,
    name: str = "gitlab",
    http_timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OpenIDConnectClient:
    """GitLab.com, or a self-managed GitLab at `base_url` (its issuer)."""
    return OpenIDConnectClient(
        client_id,
        client_secret,
        base_url.rstrip("/"),
        name=name,
        http_timeout=http_timeout,
        transport=transport,
    )


def github(
    client_id: str,
    client_secret: str,
    *,
    api_base: str = GITHUB_API,
    web_base: str = GITHUB_WEB,
    name: str = "github",
    http_timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> GitHubClient:
    """GitHub (or GitHub Enterprise Server: `web_base="https://ghe.example.com"`,
    `api_base="https://ghe.example.com/api/v3"`)."""
    return GitHubClient(
        client_id,
        client_secret,
        api_base=api_base,
        web_base=web_base,
        name=name,
        http_timeout=http_timeout,
        transport=transport,
    )
