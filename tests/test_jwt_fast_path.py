"""The cheap path of JWT verification: one parse per token, HMAC secrets checked once,
public keys derived once, and a cache of verified claims that never skips a check that
can change (times) nor trusts a token under another key, audience or algorithm."""

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import HMACAlgorithm
from pydantic import SecretStr

import doorkeeper.jwt as dk_jwt
from doorkeeper.authentication import JWTStrategy
from doorkeeper.authentication.strategy import jwt as strategy_jwt
from doorkeeper.authentication.strategy.base import take_token_expiry
from doorkeeper.jwt import decode_jwt, decode_jwt_complete, generate_jwt
from tests.managers import UserManager
from tests.models import User
from tests.security import clock_ahead

SECRET = "a-jwt-secret-for-the-fast-path-tests-long-enough"
AUDIENCE = ["fastapi-users:auth"]


@pytest.fixture
def db_kind() -> str:
    """These tests are about tokens, not storage: SQLite is enough."""
    return "sqlite"


@pytest.fixture(autouse=True)
def empty_claims_cache(monkeypatch: pytest.MonkeyPatch) -> dict[Any, Any]:
    """Each test starts with, and leaves behind, its own verified-claims cache."""
    cache: dict[Any, Any] = {}
    monkeypatch.setattr(strategy_jwt, "_verified_claims_cache", cache)
    return cache


@pytest.fixture
def strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(SECRET, lifetime_seconds=3600)


class _Holder:
    def __init__(self) -> None:
        self.id = uuid.uuid4()


def token_for(strategy: JWTStrategy[Any, Any], **extra: Any) -> str:
    return strategy._write(_Holder(), extra)


def claims(**changes: Any) -> dict[str, Any]:
    now = time.time()
    base: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "jti": secrets.token_urlsafe(16),
    }
    base.update(changes)
    return base


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    """Wrap `owner.name` so that every call is recorded (and still made)."""
    calls: list[tuple[Any, ...]] = []
    original: Callable[..., Any] = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


def refuse(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} must not be called")

    monkeypatch.setattr(owner, name, boom)


def public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def private_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def hs256_with_raw_key(
    payload: dict[str, Any], key: bytes, header: dict[str, Any] | None = None
) -> str:
    """An HS256 token signed by hand (PyJWT refuses to sign with a PEM key, and drops
    some header parameters)."""
    full_header = {"alg": "HS256", "typ": "JWT", **(header or {})}
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (full_header, payload)
    )
    signature = jwt.utils.base64url_encode(hmac.new(key, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode("ascii")


# --- one parse ---------------------------------------------------------------------------


def test_one_parse_per_verification(
    monkeypatch: pytest.MonkeyPatch, strategy: JWTStrategy[User, uuid.UUID]
) -> None:
    token = token_for(strategy)
    parses = count_calls(monkeypatch, dk_jwt._decoder, "decode_complete")
    refuse(monkeypatch, jwt, "get_unverified_header")
    refuse(monkeypatch, jwt, "decode")
    first = strategy._verified_claims(token)
    assert first is not None
    assert len(parses) == 1
    # A token seen before is not parsed again, nor is it for its id.
    assert strategy._verified_claims(token) == first
    assert strategy.token_id(token) == first["jti"]
    assert len(parses) == 1


def test_decode_jwt_complete_returns_header_and_claims() -> None:
    token = generate_jwt({"sub": "x", "aud": AUDIENCE}, SECRET, 60, algorithm="HS384")
    header, payload = decode_jwt_complete(token, SECRET, AUDIENCE, ["HS384"], require=["exp"])
    assert header == {"alg": "HS384", "typ": "JWT"}
    assert payload["sub"] == "x"
    assert decode_jwt(token, SECRET, AUDIENCE, ["HS384"]) == payload


@pytest.mark.parametrize(
    ("token_claims", "kwargs", "error"),
    [
        ({"aud": ["other"]}, {}, jwt.InvalidAudienceError),
        ({"iss": "them"}, {"issuer": "us"}, jwt.InvalidIssuerError),
        ({}, {"require": ["nbf"]}, jwt.MissingRequiredClaimError),
        ({"exp": time.time() - 1}, {}, jwt.ExpiredSignatureError),
        ({"nbf": time.time() + 3600}, {}, jwt.ImmatureSignatureError),
        ({"iat": time.time() + 3600}, {}, jwt.ImmatureSignatureError),
    ],
)
def test_decode_jwt_complete_keeps_every_check(
    token_claims: dict[str, Any], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    token = jwt.encode(claims(**token_claims), SECRET, algorithm="HS256")
    with pytest.raises(error):
        decode_jwt_complete(token, SECRET, AUDIENCE, **kwargs)


def test_decode_jwt_complete_refuses_none_unlisted_and_oversized() -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_jwt_complete(unsigned, SECRET, AUDIENCE, ["none"])
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_jwt_complete(unsigned, SECRET, AUDIENCE, ["HS256", "none"])
    hs512 = jwt.encode(claims(), SECRET * 2, algorithm="HS512")
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_jwt_complete(hs512, SECRET, AUDIENCE, ["HS256"])
    with pytest.raises(jwt.DecodeError):
        decode_jwt_complete("a" * (dk_jwt.MAX_TOKEN_LENGTH + 1), SECRET, AUDIENCE)


def test_nbf_and_iat_keep_their_leeway() -> None:
    ahead = time.time() + dk_jwt.LEEWAY_SECONDS - 5
    token = jwt.encode(claims(nbf=ahead, iat=ahead), SECRET, algorithm="HS256")
    assert decode_jwt_complete(token, SECRET, AUDIENCE)[1]["nbf"] == ahead


# --- HMAC key preparation ----------------------------------------------------------------

OWN_JWS = pytest.mark.skipif(
    not hasattr(jwt.PyJWT(), "_jws"),
    reason="this PyJWT has no per-decoder signature layer (`_jws`): no memoized HMAC",
)


@OWN_JWS
def test_the_decoder_has_memoized_hmac() -> None:
    jws = dk_jwt._decoder._jws
    for name in ("HS256", "HS384", "HS512"):
        assert isinstance(jws.get_algorithm_by_name(name), dk_jwt._MemoizedHMACAlgorithm)
    # The process-wide PyJWT objects are left alone.
    assert not isinstance(
        jwt.api_jws._jws_global_obj.get_algorithm_by_name("HS256"),
        dk_jwt._MemoizedHMACAlgorithm,
    )


@OWN_JWS
def test_a_pyjwt_without_its_own_jws_is_left_as_is() -> None:
    decoder = jwt.PyJWT()
    del decoder._jws
    assert dk_jwt._install_memoized_hmac(decoder) is False
    fresh = jwt.PyJWT()
    assert dk_jwt._install_memoized_hmac(fresh) is True
    assert isinstance(fresh._jws.get_algorithm_by_name("HS512"), dk_jwt._MemoizedHMACAlgorithm)


@OWN_JWS
@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_prepare_key_runs_once_per_secret(monkeypatch: pytest.MonkeyPatch, algorithm: str) -> None:
    first, second = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    tokens = {
        secret: jwt.encode(claims(), secret, algorithm=algorithm) for secret in (first, second)
    }
    prepared = count_calls(monkeypatch, HMACAlgorithm, "prepare_key")
    for secret, token in tokens.items():
        for _ in range(20):
            assert decode_jwt(token, secret, AUDIENCE, [algorithm])["aud"] == AUDIENCE
    assert [call[1] for call in prepared] == [first, second]
    assert all(isinstance(call[0], dk_jwt._MemoizedHMACAlgorithm) for call in prepared)
    # A known secret that does not match the signature is still refused.
    with pytest.raises(jwt.InvalidSignatureError):
        decode_jwt(tokens[first], second, AUDIENCE, [algorithm])
    assert len(prepared) == 2


def test_prepared_keys_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    algorithm = dk_jwt._MemoizedHMACAlgorithm(HMACAlgorithm.SHA256)
    keys = [f"secret-number-{n}" for n in range(dk_jwt.PREPARED_HMAC_KEYS + 10)]
    for key in keys:
        assert algorithm.prepare_key(key) == key.encode()
    assert len(algorithm._prepared) == dk_jwt.PREPARED_HMAC_KEYS
    assert keys[0] not in algorithm._prepared
    assert keys[-1] in algorithm._prepared
    prepared = count_calls(monkeypatch, HMACAlgorithm, "prepare_key")
    algorithm.prepare_key(keys[-1])
    assert prepared == []
    algorithm.prepare_key(keys[0])  # forgotten: checked again
    assert len(prepared) == 1
    assert len(algorithm._prepared) == dk_jwt.PREPARED_HMAC_KEYS


def _ssh_public_key() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        _ssh_public_key,
    ],
    ids=["pem", "ssh"],
)
def test_asymmetric_public_key_as_hmac_secret_is_always_refused(
    make_key: Callable[[], str],
) -> None:
    key = make_key()
    forged = hs256_with_raw_key(claims(), key.encode())
    for _ in range(3):  # a refusal is never memoized
        with pytest.raises(jwt.InvalidKeyError):
            decode_jwt(forged, key, AUDIENCE, ["HS256"])
    jws = getattr(dk_jwt._decoder, "_jws", None)  # None: PyJWT's own, never memoized
    for algorithm in jws._algorithms.values() if jws is not None else ():
        if isinstance(algorithm, dk_jwt._MemoizedHMACAlgorithm):
            assert key not in algorithm._prepared


def test_hmac_strategy_with_a_pem_secret_refuses_every_token() -> None:
    key = public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(key, lifetime_seconds=60)
    forged = hs256_with_raw_key(claims(), key.encode())
    assert strategy._verified_claims(forged) is None
    assert strategy._verified_claims(forged) is None


# --- verified-claims cache ----------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://attacker.example/jwks.json"},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIB"]},
        {"crit": ["b64"], "b64": True},
    ],
    ids=["jku", "jwk", "x5u", "x5c", "crit"],
)
def test_forbidden_headers_are_refused(
    strategy: JWTStrategy[User, uuid.UUID],
    header: dict[str, Any],
    empty_claims_cache: dict[Any, Any],
) -> None:
    token = hs256_with_raw_key(claims(), SECRET.encode(), header)
    # PyJWT alone would accept the token: the strategy's own check refuses it.
    assert set(header) <= set(decode_jwt_complete(token, SECRET, AUDIENCE)[0])
    assert strategy._verified_claims(token) is None
    assert strategy._verified_claims(token) is None
    assert empty_claims_cache == {}


def test_badly_typed_claims_are_refused_and_not_cached(
    strategy: JWTStrategy[User, uuid.UUID], empty_claims_cache: dict[Any, Any]
) -> None:
    token = jwt.encode(claims(sub=123), SECRET, algorithm="HS256")
    assert strategy._verified_claims(token) is None
    assert empty_claims_cache == {}


def test_callers_cannot_change_the_cached_claims(
    strategy: JWTStrategy[User, uuid.UUID],
) -> None:
    token = token_for(strategy)
    for _ in range(2):  # a miss, then a hit
        found = strategy._verified_claims(token)
        assert found is not None
        jti = found["jti"]
        found["sub"] = "someone-else"
        found["exp"] = time.time() + 10**9
        again = strategy._verified_claims(token)
        assert again is not None
        assert again["sub"] != "someone-else"
        assert again["jti"] == jti


def test_a_cached_token_is_refused_once_expired(
    monkeypatch: pytest.MonkeyPatch, empty_claims_cache: dict[Any, Any]
) -> None:
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, lifetime_seconds=60)
    token = token_for(strategy)
    assert strategy._verified_claims(token) is not None
    assert len(empty_claims_cache) == 1
    parses = count_calls(monkeypatch, dk_jwt._decoder, "decode_complete")
    clock_ahead(monkeypatch, 59)
    assert strategy._verified_claims(token) is not None
    clock_ahead(monkeypatch, 61)  # no leeway on exp
    assert strategy._verified_claims(token) is None
    assert empty_claims_cache == {}  # forgotten
    assert strategy._verified_claims(token) is None  # and refused when parsed again
    assert len(parses) == 1


def test_a_cached_token_whose_nbf_is_ahead_of_a_clock_set_back_is_refused(
    monkeypatch: pytest.MonkeyPatch, strategy: JWTStrategy[User, uuid.UUID]
) -> None:
    token = jwt.encode(claims(nbf=time.time()), SECRET, algorithm="HS256")
    assert strategy._verified_claims(token) is not None
    clock_ahead(monkeypatch, -3600)
    assert strategy._verified_claims(token) is None


def test_a_token_with_a_past_expiry_never_verifies(
    strategy: JWTStrategy[User, uuid.UUID], empty_claims_cache: dict[Any, Any]
) -> None:
    past = time.time() - 1
    token = generate_jwt(claims(iat=past - 60, exp=past), SECRET)
    for _ in range(3):
        assert strategy._verified_claims(token) is None
    assert empty_claims_cache == {}


def test_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
    strategy: JWTStrategy[User, uuid.UUID],
    empty_claims_cache: dict[Any, Any],
) -> None:
    assert strategy_jwt.VERIFIED_CLAIMS_CACHE_SIZE == 10_000
    monkeypatch.setattr(strategy_jwt, "VERIFIED_CLAIMS_CACHE_SIZE", 5)
    tokens = [token_for(strategy) for _ in range(8)]
    for token in tokens:
        assert strategy._verified_claims(token) is not None
        assert len(empty_claims_cache) <= 5
    assert len(empty_claims_cache) == 5
    remembered = {key[0] for key in empty_claims_cache}
    assert remembered == set(tokens[3:])  # the oldest went first
    assert strategy._verified_claims(tokens[0]) is not None  # verified again
    assert len(empty_claims_cache) == 5


def test_entries_are_not_shared_across_keys_audiences_or_algorithms(
    strategy: JWTStrategy[User, uuid.UUID], empty_claims_cache: dict[Any, Any]
) -> None:
    token = token_for(strategy)
    assert strategy._verified_claims(token) is not None
    assert strategy._verified_claims(token) is not None  # cached under key A
    other_key: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET + "-b", lifetime_seconds=3600)
    other_audience: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        SECRET, lifetime_seconds=3600, token_audience=["another:audience"]
    )
    other_algorithm: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        SECRET, lifetime_seconds=3600, algorithm="HS512"
    )
    for stranger in (other_key, other_audience, other_algorithm):
        assert stranger._verified_claims(token) is None
        assert stranger.token_id(token) is not None  # only an unverified hint
    assert len(empty_claims_cache) == 1
    # The same key as a SecretStr is the same verification.
    same: JWTStrategy[User, uuid.UUID] = JWTStrategy(SecretStr(SECRET), lifetime_seconds=3600)
    assert same._verified_claims(token) is not None
    assert len(empty_claims_cache) == 1


def test_token_id_without_the_cache_falls_back_to_the_token(
    monkeypatch: pytest.MonkeyPatch, strategy: JWTStrategy[User, uuid.UUID]
) -> None:
    token = token_for(strategy)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert strategy.token_id(token) == jti  # never verified: decoded
    strategy._verified_claims(token)
    refuse(monkeypatch, jwt, "decode")
    assert strategy.token_id(token) == jti  # verified: from the cache


# --- expiry noted for the authenticator's cache ------------------------------------------


async def test_expiry_is_noted_when_a_token_is_accepted(
    strategy: JWTStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    token = await strategy.write_token(user)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    take_token_expiry()
    for _ in range(2):  # verified, then from the cache
        assert await strategy.read_token(token, user_manager) is not None
        assert take_token_expiry() == exp
        assert take_token_expiry() is None  # taken


async def test_no_expiry_is_noted_when_a_token_is_refused(
    strategy: JWTStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    take_token_expiry()
    assert await strategy.read_token("not-a-token", user_manager) is None
    assert take_token_expiry() is None
    stranger = token_for(strategy)  # well signed, but no such user
    assert await strategy.read_token(stranger, user_manager) is None
    assert take_token_expiry() is None
    token = await strategy.write_token(user)
    await user_manager.revoke_tokens(user)
    assert await strategy.read_token(token, user_manager) is None
    assert take_token_expiry() is None


# --- public keys -------------------------------------------------------------------------


def test_the_public_key_is_derived_once_per_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_pem(key)
    loads = count_calls(monkeypatch, serialization, "load_pem_private_key")
    strategies: list[JWTStrategy[User, uuid.UUID]] = [
        JWTStrategy(secret, lifetime_seconds=60, algorithm="RS256")
        for secret in (pem, pem, SecretStr(pem), pem)
    ]
    assert len(loads) == 1
    assert {s.public_key for s in strategies} == {public_pem(key)}
    assert strategy_jwt._public_key_of(pem) == public_pem(key)
    assert len(loads) == 1
    assert strategy_jwt._public_key_of("not a pem key") is None
    assert strategy_jwt._public_key_of("not a pem key") is None
    assert len(loads) == 2


async def test_an_asymmetric_token_read_twice_is_verified_once(
    monkeypatch: pytest.MonkeyPatch, user: User, user_manager: UserManager
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        private_pem(key), lifetime_seconds=60, algorithm="RS256"
    )
    token = await strategy.write_token(user)
    parses = count_calls(monkeypatch, dk_jwt._decoder, "decode_complete")
    for _ in range(3):
        assert await strategy.read_token(token, user_manager) is not None
    assert len(parses) == 1
