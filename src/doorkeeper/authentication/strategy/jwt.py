"""JWT strategy: stateless signed tokens, revocable through the user's "not before"."""

import functools
import math
import secrets
import threading
import time
import warnings
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from doorkeeper import exceptions
from doorkeeper.authentication.strategy.base import (
    Strategy,
    StrategyDestroyNotSupportedError,
    note_token_expiry,
)
from doorkeeper.jwt import (
    ALLOWED_ALGORITHMS,
    MAX_TOKEN_LENGTH,
    SecretType,
    _check_times,
    _get_secret_value,
    decode_jwt_complete,
    generate_jwt,
)
from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP
from doorkeeper.revocation import is_token_revoked

if TYPE_CHECKING:
    from doorkeeper.authentication.sessions import SessionService

MIN_HMAC_SECRET_BYTES = 32
REQUIRED_CLAIMS = ("exp", "sub", "iat", "jti")
"""The claims of every token Doorkeeper writes."""
FASTAPI_USERS_CLAIMS = ("exp", "sub")
"""The claims of a token FastAPI Users wrote: no `iat`, no `jti` (`docs/migration.md`)."""
FORBIDDEN_HEADERS = frozenset({"crit", "jwk", "jku", "x5u", "x5c"})
"""Header parameters that would make the token name its own key or its own rules."""
VERIFIED_CLAIMS_CACHE_SIZE = 10_000
"""How many verified tokens the process remembers (oldest forgotten first)."""

_CacheKey = tuple[str, str, tuple[str, ...], str]
_verified_claims_cache: dict[_CacheKey, dict[str, Any]] = {}
"""Claims of tokens whose signature, header and claim types have been checked, by
(token, algorithm, audience, verification key): a token is trusted again only under the
very same verification. Times are checked again on every use; the dicts are never
handed out (callers get copies)."""
_verified_claims_lock = threading.Lock()


def _remember_claims(key: _CacheKey, claims: dict[str, Any]) -> None:
    with _verified_claims_lock:
        while len(_verified_claims_cache) >= VERIFIED_CLAIMS_CACHE_SIZE:
            del _verified_claims_cache[next(iter(_verified_claims_cache))]
        _verified_claims_cache[key] = claims


class InsecureSecretWarning(UserWarning):
    """An HMAC secret is shorter than 32 bytes: it can be brute-forced offline."""


def _finite_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _well_typed(claims: dict[str, Any]) -> bool:
    """String `sub` and `jti` (older PyJWT releases do not check them), finite `iat` and
    `exp`, and an `iat` that is a representable instant. A token FastAPI Users wrote
    has neither `iat` nor `jti` nor `sid`: only its `sub` and `exp` are checked."""
    if is_fastapi_users_token(claims):
        return isinstance(claims["sub"], str) and _finite_number(claims["exp"])
    if not all(name in claims for name in REQUIRED_CLAIMS):
        return False
    if not all(isinstance(claims[name], str) for name in ("sub", "jti")):
        return False
    if "sid" in claims and not isinstance(claims["sid"], str):
        return False
    if not all(_finite_number(claims[name]) for name in ("iat", "exp")):
        return False
    try:
        datetime.fromtimestamp(claims["iat"], timezone.utc)
    except (OverflowError, ValueError, OSError):
        return False
    return True


def is_fastapi_users_token(claims: dict[str, Any]) -> bool:
    """Whether verified claims are those of a token FastAPI Users issued (before an app
    switched to Doorkeeper): `sub`, `aud`, `exp` and nothing Doorkeeper always adds."""
    return not any(name in claims for name in ("iat", "jti", "sid"))


def _public_key_of(private_key: SecretType) -> str | None:
    """The PEM public key matching a PEM private key (PyJWT cannot verify with the
    private key of every algorithm); `None` when `private_key` is not one.

    Memoized: apps often build a strategy per request, and parsing a private key is
    costly."""
    return _public_key_of_pem(_get_secret_value(private_key))


@functools.lru_cache(maxsize=32)
def _public_key_of_pem(private_key: str) -> str | None:
    try:
        key = serialization.load_pem_private_key(private_key.encode("utf-8"), password=None)
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError, AttributeError, UnsupportedAlgorithm):
        return None
    return pem.decode("ascii")


class JWTStrategyDestroyNotSupportedError(StrategyDestroyNotSupportedError):
    def __init__(self) -> None:
        super().__init__("A JWT cannot be deleted; the user's tokens are revoked instead.")


class JWTStrategy(Strategy[UP, ID], Generic[UP, ID]):
    """Signed tokens: `sub` (the user id), `aud`, `iat`, `exp` and a random `jti`.

    :param secret: The signing key: an HMAC secret, or a private key for RS/PS/ES/EdDSA.
    :param lifetime_seconds: Token lifetime; required (a token without `exp` never ends).
    :param token_audience: The `aud` claim written and required.
    :param algorithm: The one algorithm written and accepted.
    :param public_key: The verification key for asymmetric algorithms.
    :param sessions: The login sessions of the backend (keyword only): a token issued
        for a session carries its id (`sid`) and is refused once that session is over
        or has moved on to a newer token.
    :param accept_fastapi_users_tokens: Also accept, until they expire, the tokens
        FastAPI Users issued with the same secret and audience (no `iat`, no `jti`), so
        that switching a running app signs nobody out. Any revocation of the user's
        tokens after the switch (a logout, a password change...) ends all of them. A
        token without `exp` is refused all the same (keyword only; `docs/migration.md`).
    """

    def __init__(
        self,
        secret: SecretType,
        lifetime_seconds: int | None,
        token_audience: list[str] = ["fastapi-users:auth"],  # noqa: B006 (FastAPI Users' default)
        algorithm: str = "HS256",
        public_key: SecretType | None = None,
        *,
        sessions: "SessionService | None" = None,
        accept_fastapi_users_tokens: bool = True,
    ) -> None:
        if lifetime_seconds is None or lifetime_seconds <= 0:
            raise ValueError("JWTStrategy needs a positive lifetime_seconds: tokens must expire")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise ValueError(f"Algorithm {algorithm!r} is not allowed")
        if algorithm.startswith("HS"):
            length = len(_get_secret_value(secret).encode("utf-8"))
            if length < MIN_HMAC_SECRET_BYTES:
                warnings.warn(
                    f"The JWT secret is {length} bytes long; use at least "
                    f"{MIN_HMAC_SECRET_BYTES} random bytes (e.g. secrets.token_urlsafe(32))",
                    InsecureSecretWarning,
                    stacklevel=2,
                )
        self.secret = secret
        self.lifetime_seconds = lifetime_seconds
        self.token_audience = list(token_audience)
        self.algorithm = algorithm
        self.public_key = public_key
        self.sessions = sessions
        self.accept_fastapi_users_tokens = accept_fastapi_users_tokens
        if public_key is None and not algorithm.startswith("HS"):
            self.public_key = _public_key_of(secret)

    @property
    def encode_key(self) -> SecretType:
        return self.secret

    @property
    def decode_key(self) -> SecretType:
        return self.public_key or self.secret

    async def read_token(
        self, token: str | None, user_manager: BaseUserManager[UP, ID]
    ) -> UP | None:
        claims = self._verified_claims(token)
        if claims is None:
            return None
        session_id = claims.get("sid")
        if session_id is not None and self.sessions is not None:
            # The session and its user in one read; `None` once the session is over.
            user = await self.sessions.check(session_id, claims["sub"], claims["jti"], user_manager)
            if user is None:
                return None
        else:
            try:
                user = await user_manager.get(user_manager.parse_id(claims["sub"]))
            except (exceptions.InvalidID, exceptions.UserNotExists):
                return None
        if "iat" not in claims:
            # FastAPI Users' token, issued before the switch: any revocation since ends it.
            if getattr(user, "tokens_valid_after", None) is not None:
                return None
        elif is_token_revoked(
            user, datetime.fromtimestamp(claims["iat"], timezone.utc), claims["jti"]
        ):
            return None
        note_token_expiry(claims["exp"])
        return user

    def _cache_key(self, token: str) -> _CacheKey:
        return (
            token,
            self.algorithm,
            tuple(self.token_audience),
            _get_secret_value(self.decode_key),
        )

    def _verified_claims(self, token: str | None) -> dict[str, Any] | None:
        """The token's claims if its signature, header and claims all check out.

        One parse of the token; a token already verified under the same algorithm,
        audience and key is only checked again for its times (`exp`, `nbf`, `iat`).
        """
        if token is None or len(token) > MAX_TOKEN_LENGTH:
            return None
        key = self._cache_key(token)
        cached = _verified_claims_cache.get(key)
        if cached is not None:
            if not self.accept_fastapi_users_tokens and is_fastapi_users_token(cached):
                return None
            try:
                _check_times(cached)
            except jwt.PyJWTError:
                _verified_claims_cache.pop(key, None)
                return None
            return dict(cached)
        try:
            header, claims = decode_jwt_complete(
                token,
                self.decode_key,
                self.token_audience,
                algorithms=[self.algorithm],
                require=FASTAPI_USERS_CLAIMS
                if self.accept_fastapi_users_tokens
                else REQUIRED_CLAIMS,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if FORBIDDEN_HEADERS.intersection(header) or not _well_typed(claims):
            return None
        _remember_claims(key, claims)
        return dict(claims)

    async def write_token(self, user: UP) -> str:
        return self._write(user, {})

    async def write_session_token(self, user: UP, session_id: str) -> str:
        """A token of one login session: it carries the session's id (`sid`)."""
        return self._write(user, {"sid": session_id})

    def _write(self, user: UP, extra_claims: dict[str, Any]) -> str:
        issued_at = time.time()
        claims: dict[str, Any] = {
            "sub": str(user.id),
            "aud": self.token_audience,
            "iat": issued_at,
            "exp": issued_at + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
            **extra_claims,
        }
        return generate_jwt(claims, self.encode_key, None, algorithm=self.algorithm)

    async def destroy_token(self, token: str, user: UP) -> None:
        raise JWTStrategyDestroyNotSupportedError()

    def token_id(self, token: str) -> str | None:
        """The `jti` of a token `read_token` has accepted (from the verified claims it
        left behind; the token is decoded only if they are gone)."""
        cached = _verified_claims_cache.get(self._cache_key(token))
        if cached is not None:
            jti = cached.get("jti")
        else:
            try:
                claims = jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
            jti = claims.get("jti")
        return jti if isinstance(jti, str) else None
