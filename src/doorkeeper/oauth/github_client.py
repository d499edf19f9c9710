"""GitHub (plain OAuth2, no OpenID Connect): httpx-oauth's `GitHubOAuth2` with
configurable base URLs (GitHub Enterprise, local stand-ins), timeouts, and a profile
whose e-mail is the primary address of `GET /user/emails` with its `verified` flag."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

import httpx
from httpx_oauth.clients.github import GitHubOAuth2
from httpx_oauth.exceptions import GetIdEmailError

from doorkeeper.oauth._compat import GetProfileError
from doorkeeper.oauth._http import get_json
from doorkeeper.oauth.errors import OAuthError, OAuthProviderError
from doorkeeper.oauth.profile import OAuthProfile

GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"
GITHUB_SCOPES = ("read:user", "user:email")
"""Read-only: httpx-oauth's default `user` scope would also grant writing the profile."""


class GitHubClient(GitHubOAuth2):
    nonce_required = False

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_base: str = GITHUB_API,
        web_base: str = GITHUB_WEB,
        scopes: Sequence[str] = GITHUB_SCOPES,
        name: str = "github",
        http_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(client_id, client_secret, scopes=list(scopes), name=name)
        web = web_base.rstrip("/")
        self.authorize_endpoint = f"{web}/login/oauth/authorize"
        self.access_token_endpoint = f"{web}/login/oauth/access_token"
        self.refresh_token_endpoint = self.access_token_endpoint
        self.api_base = api_base.rstrip("/")
        self.http_timeout = http_timeout
        self.transport = transport

    def get_httpx_client(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return httpx.AsyncClient(timeout=self.http_timeout, transport=self.transport)

    async def _api(self, path: str, token: str) -> Any:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return await get_json(
            self.get_httpx_client,
            self.api_base + path,
            what=f"GitHub {path}",
            headers=headers,
            refusal_is_provider_error=False,
        )

    async def get_oauth_profile(
        self, token: Mapping[str, Any], *, nonce: str | None = None
    ) -> OAuthProfile:
        """`id` of `GET /user` as the account id; the primary address of
        `GET /user/emails` and its `verified` flag (GitHub has no nonce: ignored)."""
        access_token = str(token.get("access_token", ""))
        user = await self._api("/user", access_token)
        account_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(account_id, int) or isinstance(account_id, bool):
            raise OAuthProviderError("GitHub /user has no numeric id")
        emails = await self._api("/user/emails", access_token)
        if not isinstance(emails, list):
            raise OAuthProviderError("GitHub /user/emails is not a list")
        primary = next(
            (
                entry
                for entry in emails
                if isinstance(entry, dict)
                and entry.get("primary") is True
                and isinstance(entry.get("email"), str)
            ),
            None,
        )
        if primary is None:
            return OAuthProfile(account_id=str(account_id), email=None, email_verified=False)
        return OAuthProfile(
            account_id=str(account_id),
            email=primary["email"],
            email_verified=primary.get("verified") is True,
        )

    # httpx-oauth's own calls, pointed at the configured API

    async def get_id_email(self, token: str) -> tuple[str, str | None]:
        """httpx-oauth's answer: the `id`, and the public e-mail of `GET /user`, else the
        primary (or first) one of `GET /user/emails`. Defined here, not inherited, so
        that it asks the configured API whatever the httpx-oauth version (0.15 asked
        api.github.com itself)."""
        try:
            profile = await self.get_profile(token)
            email = profile.get("email")
            if email is None:
                emails = await self.get_emails(token)
                primary = (entry["email"] for entry in emails if entry.get("primary"))
                email = next(primary, emails[0]["email"] if emails else None)
        except GetProfileError as error:
            raise GetIdEmailError(error.message) from error
        return str(profile["id"]), email

    async def get_profile(self, token: str) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], await self._api("/user", token))
        except OAuthError as error:
            raise GetProfileError(error.message) from error

    async def get_emails(self, token: str) -> list[dict[str, Any]]:
        try:
            return cast(list[dict[str, Any]], await self._api("/user/emails", token))
        except OAuthError as error:
            raise GetProfileError(error.message) from error
