"""JSON Web Token helpers (PyJWT) with safe defaults.

Every token carries `exp` when a lifetime is given, decoding requires an explicit
algorithm allow-list and an audience, and oversized tokens are refused before parsing.
"""

import contextlib
import math
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm
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


PREPARED_HMAC_KEYS = 64
"""How many HMAC secrets each memoized algorithm keeps prepared (oldest dropped)."""


def _get_secret_value(secret: SecretType) -> str:
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return secret


class _MemoizedHMACAlgorithm(HMACAlgorithm):
    """HMAC whose `prepare_key` runs PyJWT's checks once per key value.

    PyJWT checks on every decode that an HMAC secret is not a PEM, SSH or DER key (nor
    a JWK); the answer depends on the key alone, so it is kept. A key that fails the
    checks is never kept: it raises on every use.
    """

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._prepared: dict[str | bytes, bytes] = {}
        self._lock = threading.Lock()

    def prepare_key(self, key: str | bytes) -> bytes:
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = super().prepare_key(key)
            with self._lock:
                while len(self._prepared) >= PREPARED_HMAC_KEYS:
                    del self._prepared[next(iter(self._prepared))]
                self._prepared[key] = prepared
        return prepared


def _install_memoized_hmac(decoder: jwt.PyJWT) -> bool:
    """Give `decoder` its own HS256/HS384/HS512 with memoized key preparation.

    `False` (the decoder left as is) on a PyJWT release whose `PyJWT` has no signature
    layer of its own (`_jws`): changing the global one would change every PyJWT user of
    the process.
    """
    jws = getattr(decoder, "_jws", None)
    if not isinstance(jws, jwt.PyJWS):
        return False
    for name, hash_alg in (
        ("HS256", HMACAlgorithm.SHA256),
        ("HS384", HMACAlgorithm.SHA384),
        ("HS512", HMACAlgorithm.SHA512),
    ):
        with contextlib.suppress(KeyError):
            jws.unregister_algorithm(name)
        jws.register_algorithm(name, _MemoizedHMACAlgorithm(hash_alg))
    return True


_decoder = jwt.PyJWT()
_install_memoized_hmac(_decoder)


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
    return decode_jwt_complete(
        encoded_jwt, secret, audience, algorithms, require=require, issuer=issuer
    )[1]


def decode_jwt_complete(
    encoded_jwt: str,
    secret: SecretType,
    audience: list[str],
    algorithms: Sequence[str] = (JWT_ALGORITHM,),
    *,
    require: Sequence[str] = (),
    issuer: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`decode_jwt`, also returning the token's header: `(header, claims)` from one
    parse of the token. Same checks, same errors."""
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
    decoded = _decoder.decode_complete(
        encoded_jwt,
        _get_secret_value(secret),
        audience=audience,
        algorithms=allowed,
        issuer=issuer,
        options=options,  # type: ignore[arg-type]
    )
    header: dict[str, Any] = decoded["header"]
    claims: dict[str, Any] = decoded["payload"]
    _check_times(claims)
    return header, claims


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
