"""JSON Web Token helpers (PyJWT) with safe defaults.

Every token carries `exp` when a lifetime is given, decoding requires an explicit
algorithm allow-list and an audience, and oversized tokens are refused before parsing.
"""

import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from pydantic import SecretStr

SecretType = str | SecretStr
JWT_ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 8192
"""Tokens longer than this (bytes) are refused without being parsed (SECURITY 28)."""
LEEWAY_SECONDS = 30
"""Clock skew tolerated on `nbf` and `iat` (a token from a clock slightly ahead).

`exp` is enforced without leeway: an expired token is refused at once."""

ALLOWED_ALGORITHMS = frozenset(
    {
        "HS256",
        "HS384",
        "HS512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)


def _get_secret_value(secret: SecretType) -> str:
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return secret


def generate_jwt(
    data: dict[str, Any],
    secret: SecretType,
    lifetime_seconds: int | None = None,
    algorithm: str = JWT_ALGORITHM,
) -> str:
    """Sign `data` as a JWT; adds `exp` when `lifetime_seconds` is given."""
    payload = data.copy()
    if lifetime_seconds:
        payload["exp"] = datetime.now(timezone.utc) + timedelta(seconds=lifetime_seconds)
    return jwt.encode(payload, _get_secret_value(secret), algorithm=algorithm)


def decode_jwt(
    encoded_jwt: str,
    secret: SecretType,
    audience: list[str],
    algorithms: Sequence[str] = (JWT_ALGORITHM,),
    *,
    require: Sequence[str] = (),
    issuer: str | None = None,
) -> dict[str, Any]:
    """Verify and decode a JWT.

    Raises `jwt.PyJWTError` for anything wrong with the token: a bad signature, an
    algorithm outside `algorithms` (``none`` is never accepted), a wrong audience or
    issuer, an expired token, an oversized or malformed one.
    """
    if len(encoded_jwt) > MAX_TOKEN_LENGTH:
        raise jwt.DecodeError("Token too large")
    allowed = [alg for alg in algorithms if alg in ALLOWED_ALGORITHMS]
    if not allowed:
        raise jwt.InvalidAlgorithmError("No allowed algorithm")
    options: dict[str, Any] = {
        "require": list(require),
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }
    decoded: dict[str, Any] = jwt.decode(
        encoded_jwt,
        _get_secret_value(secret),
        audience=audience,
        algorithms=allowed,
        issuer=issuer,
        options=options,  # type: ignore[arg-type]
    )
    _check_times(decoded)
    return decoded


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise jwt.DecodeError(f"The {name} claim must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise jwt.DecodeError(f"The {name} claim must be a finite number")
    return number


def _check_times(claims: dict[str, Any]) -> None:
    now = datetime.now(timezone.utc).timestamp()
    exp = _numeric(claims, "exp")
    if exp is not None and now >= exp:
        raise jwt.ExpiredSignatureError("Signature has expired")
    nbf = _numeric(claims, "nbf")
    if nbf is not None and nbf > now + LEEWAY_SECONDS:
        raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
    iat = _numeric(claims, "iat")
    if iat is not None and iat > now + LEEWAY_SECONDS:
        raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
