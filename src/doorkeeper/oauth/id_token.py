"""The checks on an ID token once its key is known (OpenID Connect Core 1.0, 3.1.3.7)."""

import hmac
from collections.abc import Collection, Mapping
from typing import Any

import jwt

from doorkeeper.oauth.errors import IDTokenError, NonceMismatchError


def read_header(id_token: str, algorithms: Collection[str]) -> tuple[str, str | None]:
    """The `alg` and `kid` of an ID token, before any key is fetched. `alg` must be one of
    `algorithms` (asymmetric only, see `discovery.ASYMMETRIC_ALGORITHMS`)."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as error:
        raise IDTokenError("the ID token is not a JWT") from error
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise IDTokenError(f"the ID token is signed with {alg!r}, not an accepted algorithm")
    return alg, header.get("kid")  # PyJWT has checked that a kid is a string


def decode(
    id_token: str,
    jwk: Mapping[str, Any],
    *,
    algorithm: str,
    client_id: str,
    leeway: float,
) -> dict[str, Any]:
    """Check the signature with `jwk`, then `aud`, `exp` and `iat` (with `leeway` seconds),
    and that `iss` and a non-empty `sub` are present; return the claims."""
    if jwk.get("alg", algorithm) != algorithm:
        raise IDTokenError("the ID token's alg is not the one its key is for")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=algorithm)
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key.key,  # the key itself: PyJWT before 2.10 takes no PyJWK here
            algorithms=[algorithm],
            audience=client_id,
            leeway=leeway,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.PyJWTError as error:
        raise IDTokenError(f"the ID token was refused: {type(error).__name__}") from error
    azp = claims.get("azp")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise IDTokenError("the ID token was issued to another party (azp)")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise IDTokenError("the ID token has no subject")
    return claims


def check_issuer(claims: Mapping[str, Any], issuers: Collection[str]) -> None:
    issuer = claims["iss"]
    if not isinstance(issuer, str) or issuer not in issuers:
        raise IDTokenError("the ID token comes from another issuer")


def check_nonce(claims: Mapping[str, Any], nonce: str) -> None:
    """Constant-time comparison of the token's `nonce` with the one this sign-in sent."""
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise NonceMismatchError("the ID token's nonce is not this sign-in's")
