"""The OAuth `state` of one sign-in: bound to the browser, single-use and short-lived
(SECURITY 31), carrying what the callback needs but never a secret (SECURITY 32).

`/authorize` sets a random **browser binding** in an HttpOnly cookie (FastAPI Users'
`fastapiusersoauthcsrf` cookie; a valid one is reused so that two tabs can sign in at
once) and signs a JWT state (audience `fastapi-users:oauth-state`, `exp`, a random
`jti`) holding a digest of the binding, the callback route it is for, and, for the
associate flow, the user. The PKCE verifier and the OpenID Connect nonce are HMACs of
the binding and the `jti` under keys derived from the state secret: the server keeps
nothing, the state in the URL gives neither away, and only the browser holding the
cookie can complete the sign-in. At the callback the state must decode, be for this
route and this browser, and be claimed in the shared `SingleUseStore`: a replay fails
on every instance of the app.
"""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import jwt
from fastapi import Request, Response

from doorkeeper.jwt import SecretType, decode_jwt, generate_jwt
from doorkeeper.oauth.crypto import derive_key
from doorkeeper.oauth.pkce import code_challenge_s256
from doorkeeper.router.common import ErrorCode
from doorkeeper.singleuse import SingleUseStore, single_use_key

__all__ = [
    "CSRF_TOKEN_COOKIE_NAME",
    "CSRF_TOKEN_KEY",
    "DEFAULT_STATE_LIFETIME_SECONDS",
    "STATE_TOKEN_AUDIENCE",
    "AuthorizeState",
    "CallbackState",
    "OAuthStateError",
    "OAuthStateManager",
    "StateCookie",
    "generate_csrf_token",
    "generate_state_token",
]

STATE_TOKEN_AUDIENCE = "fastapi-users:oauth-state"  # noqa: S105 - an audience
CSRF_TOKEN_KEY = "csrftoken"  # noqa: S105 - a claim name
CSRF_TOKEN_COOKIE_NAME = "fastapiusersoauthcsrf"  # noqa: S105 - a cookie name
DEFAULT_STATE_LIFETIME_SECONDS = 600
"""Ten minutes to sign in at the provider (FastAPI Users: one hour)."""

_BINDING_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_STATE_PURPOSE = "oauth-state"


def generate_csrf_token() -> str:
    """A random browser binding: 256 bits from `secrets` (FastAPI Users' helper)."""
    return secrets.token_urlsafe(32)


def generate_state_token(
    data: dict[str, str], secret: SecretType, lifetime_seconds: int = 3600
) -> str:
    """A state JWT in FastAPI Users' format: `data`, the state audience and `exp`.

    FastAPI Users' helper, with its signature, for code that builds or reads such states
    (its tests, a custom flow). Doorkeeper's own callbacks refuse these states with a
    400: they carry no `jti` (single use), no callback route and no digest of the
    browser binding, and no PKCE verifier can be derived for them (SECURITY 31, 32).
    Unlike FastAPI Users' helper, `data` is not modified.
    """
    return generate_jwt({**data, "aud": STATE_TOKEN_AUDIENCE}, secret, lifetime_seconds)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OAuthStateError(Exception):
    """A state refused at the callback; `code` is the `detail` of the 400."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


@dataclass(frozen=True)
class StateCookie:
    """The browser-binding cookie (FastAPI Users' `csrf_token_cookie_*` arguments)."""

    name: str = CSRF_TOKEN_COOKIE_NAME
    path: str = "/"
    domain: str | None = None
    secure: bool = True
    httponly: bool = True
    samesite: Literal["lax", "strict", "none"] = "lax"

    def set(self, response: Response, value: str, max_age: int) -> None:
        response.set_cookie(
            self.name,
            value,
            max_age=max_age,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.httponly,
            samesite=self.samesite,
        )


@dataclass(frozen=True)
class AuthorizeState:
    """What `/authorize` puts in the authorization URL."""

    state: str
    code_challenge: str
    nonce: str | None


@dataclass(frozen=True)
class CallbackState:
    """What a valid, claimed state gives the callback."""

    claims: dict[str, Any]
    code_verifier: str
    nonce: str | None

    @property
    def subject(self) -> str | None:
        """The user who started an associate flow."""
        value = self.claims.get("sub")
        return value if isinstance(value, str) else None

    @property
    def next_url(self) -> str | None:
        """Where to send the browser after the callback (checked at `/authorize`)."""
        value = self.claims.get("next")
        return value if isinstance(value, str) else None


class OAuthStateManager:
    """Issues and redeems the states of one callback route.

    :param secret: signs the state JWT (FastAPI Users' `state_secret`); the binding,
        PKCE and nonce keys are derived from it.
    :param route: the name of the callback route; a state is only good there.
    :param lifetime_seconds: how long a state (and its cookie) lives.
    :param cookie: the browser-binding cookie.
    :param store: where claimed states are recorded (shared by the app's instances).
    :param use_nonce: add an OpenID Connect nonce.
    """

    def __init__(
        self,
        secret: SecretType,
        *,
        route: str,
        lifetime_seconds: int,
        cookie: StateCookie,
        store: SingleUseStore,
        use_nonce: bool,
    ) -> None:
        if lifetime_seconds <= 0:
            raise ValueError("state_lifetime_seconds must be positive")
        self.secret = secret
        self.route = route
        self.lifetime_seconds = lifetime_seconds
        self.cookie = cookie
        self.store = store
        self.use_nonce = use_nonce
        self._binding_key = derive_key(secret, "doorkeeper:oauth-state:binding")
        self._pkce_key = derive_key(secret, "doorkeeper:oauth-state:pkce")
        self._nonce_key = derive_key(secret, "doorkeeper:oauth-state:nonce")

    # --- /authorize ------------------------------------------------------------------

    def browser_binding(self, request: Request) -> str:
        """The browser's binding: the one its cookie holds, or a new one."""
        current = request.cookies.get(self.cookie.name)
        if current is not None and _BINDING_PATTERN.fullmatch(current):
            return current
        return generate_csrf_token()

    def issue(
        self, binding: str, *, subject: str | None = None, next_url: str | None = None
    ) -> AuthorizeState:
        jti = secrets.token_urlsafe(16)
        data: dict[str, Any] = {
            "aud": STATE_TOKEN_AUDIENCE,
            "jti": jti,
            "route": self.route,
            CSRF_TOKEN_KEY: self._mac(self._binding_key, binding),
        }
        if subject is not None:
            data["sub"] = subject
        if next_url is not None:
            data["next"] = next_url
        state = generate_jwt(data, self.secret, self.lifetime_seconds)
        verifier = self._mac(self._pkce_key, binding, jti)
        nonce = self._mac(self._nonce_key, binding, jti) if self.use_nonce else None
        return AuthorizeState(state, code_challenge_s256(verifier), nonce)

    def set_cookie(self, response: Response, binding: str) -> None:
        self.cookie.set(response, binding, self.lifetime_seconds)

    # --- /callback -------------------------------------------------------------------

    def read(self, request: Request, state: str | None) -> CallbackState:
        """Check `state` without spending it: signature, audience, expiry, route and
        browser. Raises `OAuthStateError`."""
        if not state:
            raise OAuthStateError(ErrorCode.ACCESS_TOKEN_DECODE_ERROR)
        try:
            claims = decode_jwt(state, self.secret, [STATE_TOKEN_AUDIENCE], require=("exp",))
        except jwt.ExpiredSignatureError:
            raise OAuthStateError(ErrorCode.ACCESS_TOKEN_ALREADY_EXPIRED) from None
        except jwt.PyJWTError:
            raise OAuthStateError(ErrorCode.ACCESS_TOKEN_DECODE_ERROR) from None
        # `jti` is checked after the expiry, so that an expired state in FastAPI Users'
        # format (no `jti`) is reported as expired, as FastAPI Users did.
        if not isinstance(claims.get("jti"), str):
            raise OAuthStateError(ErrorCode.ACCESS_TOKEN_DECODE_ERROR)
        jti, bound = str(claims["jti"]), claims.get(CSRF_TOKEN_KEY)
        if claims.get("route") != self.route:
            raise OAuthStateError(ErrorCode.OAUTH_INVALID_STATE)
        binding = request.cookies.get(self.cookie.name)
        if (
            binding is None
            or not isinstance(bound, str)
            or not hmac.compare_digest(bound, self._mac(self._binding_key, binding))
        ):
            raise OAuthStateError(ErrorCode.OAUTH_INVALID_STATE)
        nonce = self._mac(self._nonce_key, binding, jti) if self.use_nonce else None
        return CallbackState(claims, self._mac(self._pkce_key, binding, jti), nonce)

    async def spend(self, state: CallbackState) -> None:
        """Claim the state: the first call wins, any replay raises `OAuthStateError`."""
        expires_at = datetime.fromtimestamp(float(state.claims["exp"]), tz=timezone.utc)
        key = single_use_key(_STATE_PURPOSE, str(state.claims["jti"]))
        if not await self.store.claim(key, expires_at):
            raise OAuthStateError(ErrorCode.OAUTH_STATE_ALREADY_USED)

    @staticmethod
    def _mac(key: bytes, *parts: str) -> str:
        message = "\0".join(parts).encode("utf-8")
        return _b64(hmac.new(key, message, hashlib.sha256).digest())
