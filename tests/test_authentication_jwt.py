"""JWTStrategy: round trips, revocation, and every forgery of SECURITY.md section F."""

import base64
import hashlib
import hmac
import json
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from doorkeeper.authentication import InsecureSecretWarning, JWTStrategy
from doorkeeper.authentication.strategy import StrategyDestroyNotSupportedError
from doorkeeper.authentication.strategy.jwt import _well_typed
from tests.managers import UserManager
from tests.models import User

SECRET = "a-jwt-secret-for-the-tests-that-is-long-enough"
AUDIENCE = ["fastapi-users:auth"]


@pytest.fixture
def db_kind() -> str:
    """These tests are about tokens, not storage: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(SECRET, lifetime_seconds=3600)


# --- building tokens by hand -------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode("utf-8"))


def sign_hmac(header: dict[str, Any], claims: Any, key: bytes, digest: Any = hashlib.sha256) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(key, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims_for(user_id: Any, **changes: Any) -> dict[str, Any]:
    """Valid claims for `user_id`; a change to `None` removes the claim."""
    now = time.time()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "jti": "forged-jti",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def hs256(claims: Any, header: dict[str, Any] | None = None, key: str = SECRET) -> str:
    return sign_hmac({"alg": "HS256", "typ": "JWT", **(header or {})}, claims, key.encode())


def rsa_private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def forged_hs256_tokens(user_id: Any) -> dict[str, str]:
    """Tokens an HS256 `JWTStrategy(SECRET)` must refuse, though they name a real user."""
    valid = claims_for(user_id)
    tokens: dict[str, str] = {}
    for alg in ("none", "None", "NONE", "nOnE"):
        unsigned = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(valid)}"
        tokens[f"alg-{alg}"] = f"{unsigned}."
        tokens[f"alg-{alg}-signed"] = sign_hmac({"alg": alg}, valid, SECRET.encode())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT's key-length advice for HS512
        tokens["alg-HS512-same-secret"] = jwt.encode(valid, SECRET, algorithm="HS512")
    tokens["alg-HS1-unknown"] = sign_hmac({"alg": "HS1"}, valid, SECRET.encode(), hashlib.sha1)
    tokens["other-secret"] = hs256(valid, key=SECRET + "-other")
    for name, value in [
        ("jwk", {"kty": "oct", "k": b64(b"attacker")}),
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIBattacker"]),
        ("crit", ["exp2"]),
    ]:
        # Signed with the real secret: only the header check can refuse them.
        tokens[f"header-{name}"] = hs256({**valid, "exp2": 1}, {name: value})
    tokens["kid-path-traversal"] = hs256(valid, {"kid": "../../../../../../dev/null"}, key="")
    tokens["kid-sql-injection"] = hs256(valid, {"kid": "x' UNION SELECT 'key'--"}, key="key")
    tokens["wrong-aud"] = hs256(claims_for(user_id, aud=["fastapi-users:verify"]))
    tokens["string-aud"] = hs256(claims_for(user_id, aud="fastapi-users:reset"))
    for claim in ("exp", "sub", "iat", "jti", "aud"):
        tokens[f"missing-{claim}"] = hs256(claims_for(user_id, **{claim: None}))
    tokens["expired"] = hs256(claims_for(user_id, exp=time.time() - 1))
    tokens["nbf-future"] = hs256(claims_for(user_id, nbf=time.time() + 3600))
    tokens["iat-future"] = hs256(claims_for(user_id, iat=time.time() + 3600))
    tokens["iat-string"] = hs256(claims_for(user_id, iat="yesterday"))
    tokens["iat-bool"] = hs256(claims_for(user_id, iat=True))
    tokens["iat-huge-negative"] = hs256(claims_for(user_id, iat=-1e20))
    tokens["exp-nan"] = hs256(claims_for(user_id, exp=float("nan")))
    tokens["exp-infinity"] = hs256(claims_for(user_id, exp=float("inf")))
    tokens["exp-string"] = hs256(claims_for(user_id, exp="9999999999"))
    tokens["sub-not-uuid"] = hs256(claims_for(user_id, sub="not-a-uuid"))
    tokens["sub-int"] = hs256(claims_for(user_id, sub=42))
    tokens["sub-unknown-user"] = hs256(claims_for(uuid.uuid4()))
    tokens["jti-int"] = hs256(claims_for(user_id, jti=7))
    tokens["payload-array"] = hs256([valid])
    tokens["oversized"] = hs256(claims_for(user_id, padding="x" * 9000))
    tokens["jwe-5-parts"] = ".".join(
        [segment({"alg": "RSA-OAEP", "enc": "A256GCM"}), "ZW5j", "aXY", "Y2lwaGVy", "dGFn"]
    )
    for index, garbage in enumerate(
        ["", "abc", "a.b.c", "..", "é.é.é", "\x00", "eyJ.eyJ.sig", "a" * 9000, "...."]
    ):
        tokens[f"garbage-{index}"] = garbage
    return tokens


FORGERY_NAMES = sorted(forged_hs256_tokens(uuid.uuid4()))


# --- round trips -------------------------------------------------------------------------


async def test_write_then_read(
    strategy: JWTStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    before = time.time()
    token = await strategy.write_token(user)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["sub"] == str(user.id)
    assert claims["aud"] == AUDIENCE
    assert isinstance(claims["iat"], float)
    assert before <= claims["iat"] <= time.time()
    assert claims["exp"] == pytest.approx(claims["iat"] + 3600)
    assert len(claims["jti"]) >= 22
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    found = await strategy.read_token(token, user_manager)
    assert found is not None
    assert found.id == user.id
    assert strategy.token_id(token) == claims["jti"]


async def test_one_query_to_read_a_token(
    strategy: JWTStrategy[User, uuid.UUID],
    user: User,
    user_manager: UserManager,
    session: AsyncSession,
) -> None:
    token = await strategy.write_token(user)
    session.expunge_all()  # nothing from the identity map
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(session.bind.sync_engine, "before_cursor_execute", record)  # type: ignore[union-attr]
    assert await strategy.read_token(token, user_manager) is not None
    assert len(statements) == 1
    assert statements[0].lstrip().upper().startswith("SELECT")


async def test_every_token_is_new(strategy: JWTStrategy[User, uuid.UUID], user: User) -> None:
    first, second = await strategy.write_token(user), await strategy.write_token(user)
    assert first != second
    assert strategy.token_id(first) != strategy.token_id(second)


async def test_read_none(strategy: JWTStrategy[User, uuid.UUID], user_manager: UserManager) -> None:
    assert await strategy.read_token(None, user_manager) is None


async def test_destroy_is_not_supported(strategy: JWTStrategy[User, uuid.UUID], user: User) -> None:
    token = await strategy.write_token(user)
    with pytest.raises(StrategyDestroyNotSupportedError):
        await strategy.destroy_token(token, user)


def test_token_id_of_garbage(strategy: JWTStrategy[User, uuid.UUID]) -> None:
    assert strategy.token_id("garbage") is None
    assert strategy.token_id(hs256(claims_for(uuid.uuid4(), jti=7))) is None


async def test_secret_str_and_custom_audience(user: User, user_manager: UserManager) -> None:
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        SecretStr(SECRET), 60, token_audience=["my-app"]
    )
    token = await strategy.write_token(user)
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience="my-app")["aud"] == ["my-app"]
    assert await strategy.read_token(token, user_manager) is not None
    default_audience: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 60)
    assert await default_audience.read_token(token, user_manager) is None


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("RS256", _rsa),
        ("PS384", _rsa),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate),
    ],
)
@pytest.mark.parametrize("give_public_key", [True, False])
async def test_asymmetric_round_trip(
    algorithm: str,
    make_key: Callable[[], Any],
    give_public_key: bool,
    user: User,
    user_manager: UserManager,
) -> None:
    key = make_key()
    public = public_pem(key)
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        _private_pem(key),
        60,
        algorithm=algorithm,
        public_key=public if give_public_key else None,
    )
    assert strategy.public_key == public  # derived from the private key when not given
    token = await strategy.write_token(user)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    found = await strategy.read_token(token, user_manager)
    assert found is not None
    assert found.id == user.id
    # A token signed by another key pair is refused.
    other: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        _private_pem(make_key()), 60, algorithm=algorithm
    )
    assert await strategy.read_token(await other.write_token(user), user_manager) is None


def test_asymmetric_without_a_pem_private_key_keeps_the_secret() -> None:
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy("not a pem", 60, algorithm="RS256")
    assert strategy.public_key is None
    assert strategy.decode_key == "not a pem"


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": 42},
        {"jti": None},
        {"iat": "1"},
        {"exp": True},
        {"exp": float("nan")},
        {"iat": -1e20},
    ],
)
def test_claim_types_are_checked_whatever_the_pyjwt_release(changes: dict[str, Any]) -> None:
    """PyJWT before 2.10 did not check the types of `sub` and `jti`; Doorkeeper does."""
    claims = {"sub": "id", "jti": "j", "iat": 1.0, "exp": 2, **changes}
    assert _well_typed({"sub": "id", "jti": "j", "iat": 1.0, "exp": 2})
    assert not _well_typed(claims)


# --- construction ------------------------------------------------------------------------


@pytest.mark.parametrize("lifetime", [None, 0, -5])
def test_lifetime_is_required(lifetime: int | None) -> None:
    with pytest.raises(ValueError, match="lifetime_seconds"):
        JWTStrategy(SECRET, lifetime_seconds=lifetime)


@pytest.mark.parametrize("algorithm", ["none", "None", "HS1", "RS1", "", "HS256 "])
def test_algorithm_must_be_allowed(algorithm: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        JWTStrategy(SECRET, 60, algorithm=algorithm)


def test_short_hmac_secret_warns_but_works() -> None:
    with pytest.warns(InsecureSecretWarning, match="6 bytes"):
        JWTStrategy("SECRET", 3600)
    with pytest.warns(InsecureSecretWarning):
        JWTStrategy(SecretStr("x" * 31), 3600, algorithm="HS512")


def test_long_hmac_secret_and_asymmetric_keys_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        JWTStrategy("x" * 32, 3600)
        JWTStrategy("short", 3600, algorithm="RS256", public_key="short")


def test_insecure_secret_warning_is_a_user_warning() -> None:
    assert issubclass(InsecureSecretWarning, UserWarning)


# --- forgeries (SECURITY.md F) -----------------------------------------------------------


async def test_hand_built_valid_token_is_accepted(
    strategy: JWTStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    """The control: the forgeries below differ from this token in one point each."""
    found = await strategy.read_token(hs256(claims_for(user.id)), user_manager)
    assert found is not None
    assert found.id == user.id
    padded = hs256(claims_for(user.id, padding="x" * 4000))
    assert await strategy.read_token(padded, user_manager) is not None
    with_kid = hs256(claims_for(user.id), {"kid": "key-1"})
    assert await strategy.read_token(with_kid, user_manager) is not None


@pytest.mark.parametrize("name", FORGERY_NAMES)
async def test_forged_token_is_refused(
    name: str, strategy: JWTStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    token = forged_hs256_tokens(user.id)[name]
    assert await strategy.read_token(token, user_manager) is None


async def test_hs256_signed_with_the_public_key_is_refused(
    user: User, user_manager: UserManager
) -> None:
    """Key confusion: an attacker knows the RSA public key and signs HS256 with it."""
    key = _rsa()
    public = public_pem(key)
    for public_key in (public, None):
        strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(
            rsa_private_pem(key), 60, algorithm="RS256", public_key=public_key
        )
        assert await strategy.read_token(await strategy.write_token(user), user_manager)
        for alg, digest in (("HS256", hashlib.sha256), ("RS256", hashlib.sha256)):
            forged = sign_hmac({"alg": alg}, claims_for(user.id), public.encode(), digest)
            assert await strategy.read_token(forged, user_manager) is None


async def test_embedded_jwk_is_not_trusted(user: User, user_manager: UserManager) -> None:
    """The attacker signs with their own key and ships its public half in the header."""
    ours, theirs = _rsa(), _rsa()
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        rsa_private_pem(ours), 60, algorithm="RS256"
    )
    jwk = RSAAlgorithm.to_jwk(theirs.public_key(), as_dict=True)
    for header in ({"jwk": jwk}, {"jku": "https://attacker.example/jwks"}, {"kid": "theirs"}):
        forged = jwt.encode(
            claims_for(user.id), rsa_private_pem(theirs), algorithm="RS256", headers=header
        )
        assert await strategy.read_token(forged, user_manager) is None


# --- revocation --------------------------------------------------------------------------


async def test_revocation(
    strategy: JWTStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    old = await strategy.write_token(user)
    kept = await strategy.write_token(user)
    assert await strategy.read_token(old, user_manager) is not None
    await user_manager.revoke_tokens(user, keep_token_id=strategy.token_id(kept))
    assert await strategy.read_token(old, user_manager) is None
    assert await strategy.read_token(kept, user_manager) is not None
    new = await strategy.write_token(user)
    assert await strategy.read_token(new, user_manager) is not None
    await user_manager.revoke_tokens(user)
    assert await strategy.read_token(kept, user_manager) is None
    assert await strategy.read_token(new, user_manager) is None
