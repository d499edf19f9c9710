"""A small OpenID Connect provider on 127.0.0.1 over real HTTP, for tests.

Discovery, `/authorize` (auto-approves: redirects to `redirect_uri` with `code` and
`state`), `/token` (client authentication, single-use code, `redirect_uri`, PKCE S256
verifier checked against the stored challenge, RS256 ID tokens with a key of its JWKS),
`/userinfo` and `/jwks`. One server per test process; the `oidc_provider` fixture resets
its knobs and records for every test.

    from tests.oidc_provider import oidc_provider_fixture  # noqa: F401  (the fixture)

    async def test_x(oidc_provider: OIDCProvider) -> None:
        client = oidc_provider.client()                 # an OpenIDConnectClient
        url = await client.get_authorization_url(...)   # with code_challenge and nonce
        code, state = await oidc_provider.authorize(url)

Knobs (all reset per test): `user`, `failures.set(endpoint, mode)` for "discovery",
"token", "userinfo", "jwks" (see tests.local_server.Failures), `discovery_overrides`,
`id_token_overrides` / `userinfo_overrides` (value `DROP` removes a claim),
`nonce_override`, `signing` ("current", "ec", "no_kid", "unknown_kid", "foreign_key",
"hs256", "none"), `omit_id_token`, `require_pkce`, `deny`, `rotate_keys()`,
`jwks_override`. Records: `authorize_requests`, `token_requests`, `counts[endpoint]`.
"""

import base64
import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from httpx_oauth.clients.openid import OpenID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from doorkeeper.oauth import OpenIDConnectClient
from tests.local_server import (
    CLIENT_TIMEOUT,
    DROP,
    Failures,
    LocalServer,
    apply_overrides,
    browser,
)

__all__ = [
    "DROP",
    "OIDCProvider",
    "PlainOpenID",
    "ProviderUser",
    "SigningKey",
    "oidc_provider_fixture",
]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        codec = RSAAlgorithm if self.alg.startswith(("RS", "PS")) else ECAlgorithm
        public = codec.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=headers)


_RSA_KEYS: list[SigningKey] = []
_EC_KEY: list[SigningKey] = []


def rsa_key(index: int) -> SigningKey:
    """The index-th RSA key of this process (generated once)."""
    while len(_RSA_KEYS) <= index:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _RSA_KEYS.append(SigningKey(f"rsa-{len(_RSA_KEYS)}", "RS256", private))
    return _RSA_KEYS[index]


def ec_key() -> SigningKey:
    if not _EC_KEY:
        _EC_KEY.append(SigningKey("ec-0", "ES256", ec.generate_private_key(ec.SECP256R1())))
    return _EC_KEY[0]


_FOREIGN_KEY: list[SigningKey] = []


def foreign_key() -> SigningKey:
    """An RSA key never published in the JWKS."""
    if not _FOREIGN_KEY:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _FOREIGN_KEY.append(SigningKey("foreign", "RS256", private))
    return _FOREIGN_KEY[0]


@dataclass(frozen=True)
class ProviderUser:
    sub: str = "user-1"
    email: str | None = "alice@example.com"
    email_verified: Any = True  # any JSON value: only `True` means verified


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect(uri: str, **params: str | None) -> Response:
    query = urlencode({key: value for key, value in params.items() if value is not None})
    separator = "&" if urlsplit(uri).query else "?"
    return RedirectResponse(f"{uri}{separator}{query}", status_code=302)


def _oauth_error(error: str, status: int = 400) -> Response:
    return JSONResponse({"error": error}, status_code=status)


class OIDCProvider:
    client_id = "doorkeeper-test-client"
    client_secret = "provider-client-secret"

    def __init__(self) -> None:
        self.server = LocalServer(self._app())
        self.base_url = self.server.url
        self.issuer = self.base_url
        self._rotations = 0
        self.reset()
        self.server.start()

    def reset(self) -> None:
        self.user = ProviderUser()
        self.failures = Failures()
        self.discovery_overrides: dict[str, Any] = {}
        self.id_token_overrides: dict[str, Any] = {}
        self.userinfo_overrides: dict[str, Any] = {}
        self.nonce_override: str | None = None
        self.signing = "current"
        self.omit_id_token = False
        self.require_pkce = True
        self.deny = False
        self.jwks_override: Any = None
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.counts: Counter[str] = Counter()
        self._codes: dict[str, dict[str, Any]] = {}
        self._access_tokens: dict[str, ProviderUser] = {}
        self._rotations = 0
        self.current_key = rsa_key(0)
        self.published_keys = [rsa_key(0), ec_key()]

    # --- helpers for tests ------------------------------------------------------------

    def client(self, **options: Any) -> OpenIDConnectClient:
        """An `OpenIDConnectClient` for this provider (discovers on first use), waiting up
        to `CLIENT_TIMEOUT` unless `http_timeout` is given."""
        options.setdefault("http_timeout", CLIENT_TIMEOUT)
        return OpenIDConnectClient(self.client_id, self.client_secret, self.issuer, **options)

    def plain_client(self, **options: Any) -> "PlainOpenID":
        """httpx-oauth's own OpenID client for this provider (it reads the discovery
        document now)."""
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        return PlainOpenID(self.client_id, self.client_secret, discovery, **options)

    def rotate_keys(self, *, keep_old: bool = False) -> SigningKey:
        """Sign with a new RSA key from now on and publish it (with the old one if asked)."""
        self._rotations += 1
        old, self.current_key = self.current_key, rsa_key(self._rotations)
        self.published_keys = [self.current_key, ec_key(), *([old] if keep_old else [])]
        return self.current_key

    async def approve(self, authorization_url: str) -> str:
        """Open the authorization URL as the user's browser would; return the redirect."""
        async with browser() as http:
            response = await http.get(authorization_url)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def authorize(self, authorization_url: str) -> tuple[str, str | None]:
        """`approve`, then the `code` and `state` of the redirect."""
        query = parse_qs(urlsplit(await self.approve(authorization_url)).query)
        return query["code"][0], query.get("state", [None])[0]

    def id_token_claims(self, user: ProviderUser, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
        }
        if self.nonce_override is not None:
            claims["nonce"] = self.nonce_override
        elif nonce is not None:
            claims["nonce"] = nonce
        if user.email is not None:
            claims["email"] = user.email
            claims["email_verified"] = user.email_verified
        return apply_overrides(claims, self.id_token_overrides)

    def sign(self, claims: dict[str, Any], signing: str | None = None) -> str:
        """Sign `claims` as the token endpoint would with `signing` (default: the knob)."""
        mode = signing or self.signing
        key = self.current_key
        if mode == "current":
            return key.sign(claims, {"kid": key.kid})
        if mode == "ec":
            return ec_key().sign(claims, {"kid": ec_key().kid})
        if mode == "no_kid":
            return key.sign(claims)
        if mode == "unknown_kid":
            return foreign_key().sign(claims, {"kid": f"unknown-{secrets.token_hex(4)}"})
        if mode == "foreign_key":
            return foreign_key().sign(claims, {"kid": key.kid})
        if mode == "hs256":
            secret = self.client_secret.ljust(32, "!")
            return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": key.kid})
        assert mode == "none", mode
        return jwt.encode(claims, None, algorithm="none", headers={"kid": key.kid})

    def discovery_document(self) -> dict[str, Any]:
        base = self.base_url
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "revocation_endpoint": f"{base}/revoke",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "scopes_supported": ["openid", "email", "profile"],
        }
        return apply_overrides(document, self.discovery_overrides)

    # --- the app ----------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/{prefix:path}/.well-known/openid-configuration", self._discovery),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/revoke", self._revoke, methods=["POST"]),
                Route("/userinfo", self._userinfo),
                Route("/jwks", self._jwks),
            ]
        )

    async def _discovery(self, request: Request) -> Response:
        self.counts["discovery"] += 1
        failure = await self.failures.response("discovery", request)
        return failure or JSONResponse(self.discovery_document())

    async def _authorize(self, request: Request) -> Response:
        self.counts["authorize"] += 1
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        redirect_uri = params.get("redirect_uri")
        if params.get("client_id") != self.client_id or not redirect_uri:
            return _oauth_error("invalid_request")
        if self.deny:
            return _redirect(redirect_uri, error="access_denied", state=params.get("state"))
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "redirect_uri": redirect_uri,
            "nonce": params.get("nonce"),
            "challenge": params.get("code_challenge"),
            "method": params.get("code_challenge_method"),
            "user": replace(self.user),
        }
        return _redirect(redirect_uri, code=code, state=params.get("state"))

    def _client_credentials(self, request: Request, form: dict[str, str]) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return form.get("client_id", ""), form.get("client_secret", "")

    def _pkce_ok(self, grant: dict[str, Any], verifier: str | None) -> bool:
        if grant["challenge"] is None:
            return not self.require_pkce and not verifier
        return (
            grant["method"] == "S256"
            and bool(verifier)
            and s256(verifier or "") == grant["challenge"]
        )

    async def _token(self, request: Request) -> Response:
        self.counts["token"] += 1
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        failure = await self.failures.response("token", request)
        if failure is not None:
            return failure
        if self._client_credentials(request, form) != (self.client_id, self.client_secret):
            return _oauth_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type")
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return _oauth_error("invalid_grant")
        if not self._pkce_ok(grant, form.get("code_verifier")):
            return _oauth_error("invalid_grant")
        access_token = secrets.token_urlsafe(24)
        self._access_tokens[access_token] = grant["user"]
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": secrets.token_urlsafe(24),
            "scope": "openid email profile",
        }
        if not self.omit_id_token:
            body["id_token"] = self.sign(self.id_token_claims(grant["user"], grant["nonce"]))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def _revoke(self, request: Request) -> Response:
        self.counts["revoke"] += 1
        form = await request.form()
        self._access_tokens.pop(str(form.get("token", "")), None)
        return Response(status_code=200)

    async def _userinfo(self, request: Request) -> Response:
        self.counts["userinfo"] += 1
        failure = await self.failures.response("userinfo", request)
        if failure is not None:
            return failure
        header = request.headers.get("authorization", "")
        user = self._access_tokens.get(header.removeprefix("Bearer "))
        if not header.startswith("Bearer ") or user is None:
            return _oauth_error("invalid_token", 401)
        info: dict[str, Any] = {"sub": user.sub}
        if user.email is not None:
            info.update(email=user.email, email_verified=user.email_verified)
        return JSONResponse(apply_overrides(info, self.userinfo_overrides))

    async def _jwks(self, request: Request) -> Response:
        self.counts["jwks"] += 1
        failure = await self.failures.response("jwks", request)
        if failure is not None:
            return failure
        if self.jwks_override is not None:
            return JSONResponse(self.jwks_override)
        return JSONResponse({"keys": [key.jwk for key in self.published_keys]})


class PlainOpenID(OpenID):
    """httpx-oauth's `OpenID`, its calls waiting up to `CLIENT_TIMEOUT` (httpx-oauth's
    own default is httpx's 5 seconds; its constructor's discovery keeps that one)."""

    def get_httpx_client(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return httpx.AsyncClient(timeout=CLIENT_TIMEOUT)


_SHARED: list[OIDCProvider] = []


def shared_provider() -> OIDCProvider:
    """The provider of this test process (started on first use)."""
    if not _SHARED:
        _SHARED.append(OIDCProvider())
    return _SHARED[0]


@pytest.fixture(name="oidc_provider")
def oidc_provider_fixture() -> Iterator[OIDCProvider]:
    provider = shared_provider()
    provider.reset()
    yield provider
    provider.reset()
