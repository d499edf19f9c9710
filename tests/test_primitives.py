"""Floor 1: passwords, JWT helpers, id parsing, e-mail normalization, revocation."""

import uuid
from datetime import datetime, timedelta, timezone

import jwt as pyjwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import SecretStr, ValidationError

from doorkeeper import IntegerIDMixin, InvalidID, UUIDIDMixin, schemas
from doorkeeper.jwt import MAX_TOKEN_LENGTH, decode_jwt, generate_jwt
from doorkeeper.normalization import normalize_email
from doorkeeper.password import PasswordHelper, default_password_hash
from doorkeeper.revocation import is_token_revoked

SECRET = "a-secret-of-at-least-thirty-two-bytes!"


def test_default_hasher_meets_owasp() -> None:
    hasher = default_password_hash().hashers[0]
    assert isinstance(hasher, Argon2Hasher)
    hashed = PasswordHelper().hash("correct horse")
    assert hashed.startswith("$argon2id$")
    params = dict(p.split("=") for p in hashed.split("$")[3].split(","))
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2 and int(params["p"]) >= 1


def test_hash_verify_and_generate(password_helper: PasswordHelper) -> None:
    hashed = password_helper.hash("correct horse")
    assert password_helper.verify_and_update("correct horse", hashed) == (True, None)
    assert password_helper.verify_and_update("Correct horse", hashed)[0] is False
    assert password_helper.verify_and_update("x", "not a hash") == (False, None)
    assert password_helper.verify_and_update("x", "") == (False, None)
    assert len(password_helper.generate()) >= 43
    assert password_helper.generate() != password_helper.generate()


def test_passwords_are_nfkc_normalized(password_helper: PasswordHelper) -> None:
    composed, decomposed = "caf\u00e9-password", "cafe\u0301-password"
    hashed = password_helper.hash(composed)
    assert password_helper.verify_and_update(decomposed, hashed)[0]
    full_width = "\uff50\uff41\uff53\uff53-word"  # "pass" in full-width letters
    assert password_helper.verify_and_update(full_width, password_helper.hash("pass-word"))[0]


def test_hashes_of_unnormalized_passwords_verify_and_upgrade(
    password_helper: PasswordHelper,
) -> None:
    raw = "cafe\u0301-password"
    legacy = password_helper.password_hash.hash(raw)  # made without normalization
    verified, updated = password_helper.verify_and_update(raw, legacy)
    assert verified and updated is not None
    assert password_helper.verify_and_update("caf\u00e9-password", updated)[0]
    assert password_helper.verify_and_update("cafe\u0301-wrong", legacy) == (False, None)


def test_weaker_parameters_are_upgraded(password_helper: PasswordHelper) -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=32, parallelism=1),))
    verified, updated = password_helper.verify_and_update("pw-123456", weak.hash("pw-123456"))
    assert verified and updated is not None and "m=64" in updated


def test_dummy_verification(password_helper: PasswordHelper) -> None:
    password_helper.verify_dummy("anything")
    first = password_helper._dummy_hash
    password_helper.verify_dummy("anything else")
    assert first is not None and password_helper._dummy_hash == first


def test_password_length_is_limited_in_schemas() -> None:
    with pytest.raises(ValidationError):
        schemas.BaseUserCreate(email="a@b.co", password="x" * (schemas.PASSWORD_MAX_LENGTH + 1))
    with pytest.raises(ValidationError):
        schemas.BaseUserCreate(email="not-an-email", password="x")
    with pytest.raises(ValidationError):
        schemas.BaseUserUpdate(password="x" * (schemas.PASSWORD_MAX_LENGTH + 1))


def test_create_update_dicts() -> None:
    update = schemas.BaseUserUpdate(
        email="a@b.co", password="new-password", current_password="old", is_superuser=True
    )
    assert update.create_update_dict() == {"email": "a@b.co", "password": "new-password"}
    assert update.create_update_dict_superuser() == {
        "email": "a@b.co",
        "password": "new-password",
        "is_superuser": True,
    }


def test_oauth_account_schema_never_serializes_provider_tokens() -> None:
    account = schemas.BaseOAuthAccount[uuid.UUID](
        id=uuid.uuid4(),
        oauth_name="google",
        access_token="PROVIDER-ACCESS",
        refresh_token="PROVIDER-REFRESH",
        account_id="1",
        account_email="a@b.co",
    )
    dumped = account.model_dump_json()
    assert "PROVIDER" not in dumped and "PROVIDER" not in repr(account)


def test_generate_and_decode_jwt() -> None:
    token = generate_jwt({"sub": "1", "aud": "a"}, SecretStr(SECRET), 60)
    assert decode_jwt(token, SECRET, ["a"])["sub"] == "1"
    with pytest.raises(pyjwt.InvalidAudienceError):
        decode_jwt(token, SECRET, ["b"])
    with pytest.raises(pyjwt.InvalidSignatureError):
        decode_jwt(token, SECRET + "x", ["a"])
    with pytest.raises(pyjwt.InvalidAlgorithmError):
        decode_jwt(token, SECRET, ["a"], algorithms=["none"])
    with pytest.raises(pyjwt.InvalidAlgorithmError):
        decode_jwt(token, SECRET, ["a"], algorithms=["HS512"])
    with pytest.raises(pyjwt.ExpiredSignatureError):
        decode_jwt(generate_jwt({"aud": "a"}, SECRET, -1), SECRET, ["a"])
    with pytest.raises(pyjwt.MissingRequiredClaimError):
        decode_jwt(generate_jwt({"aud": "a"}, SECRET), SECRET, ["a"], require=["exp"])
    with pytest.raises(pyjwt.DecodeError):
        decode_jwt("x" * (MAX_TOKEN_LENGTH + 1), SECRET, ["a"])


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"nbf": 10**10}, pyjwt.ImmatureSignatureError),
        ({"iat": 10**10}, pyjwt.ImmatureSignatureError),
        ({"exp": "tomorrow"}, pyjwt.DecodeError),
        ({"exp": True}, pyjwt.DecodeError),
        ({"exp": float("nan")}, pyjwt.DecodeError),
        ({"exp": float("inf")}, pyjwt.DecodeError),
    ],
)
def test_time_claims_are_enforced(claims: dict[str, object], error: type[Exception]) -> None:
    token = pyjwt.encode({"aud": "a", **claims}, SECRET, algorithm="HS256")
    with pytest.raises(error):
        decode_jwt(token, SECRET, ["a"])


def test_small_clock_skew_is_tolerated_on_iat_and_nbf() -> None:
    soon = datetime.now(timezone.utc).timestamp() + 5
    token = pyjwt.encode({"aud": "a", "iat": soon, "nbf": soon}, SECRET, algorithm="HS256")
    assert decode_jwt(token, SECRET, ["a"])["aud"] == "a"


def test_parse_uuid_ids() -> None:
    value = uuid.uuid4()
    assert UUIDIDMixin().parse_id(value) is value
    assert UUIDIDMixin().parse_id(str(value)) == value
    for bad in ("abc", 42, None, ""):
        with pytest.raises(InvalidID):
            UUIDIDMixin().parse_id(bad)


def test_parse_integer_ids() -> None:
    assert IntegerIDMixin().parse_id("42") == 42
    assert IntegerIDMixin().parse_id(7) == 7
    for bad in ("abc", 4.2, True, None, str(2**63), str(-(2**63) - 1)):
        with pytest.raises(InvalidID):
            IntegerIDMixin().parse_id(bad)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("King.Arthur@Camelot.BT", "king.arthur@camelot.bt"),
        ("  a@b.co ", "a@b.co"),
        ("user@B\u00dcCHER.example", "user@xn--bcher-kva.example"),
        ("no-at-sign", "no-at-sign"),
        ("a@trailing.dot.", "a@trailing.dot"),
        ("a@" + "x" * 70 + ".com", "a@" + "x" * 70 + ".com"),
    ],
)
def test_normalize_email(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


def test_revocation_check() -> None:
    class Plain:
        pass

    class WithColumns:
        tokens_valid_after = datetime(2026, 1, 1, 12, 0)  # naive means UTC
        tokens_valid_except = "kept"

    before = datetime(2026, 1, 1, 11, 0, tzinfo=timezone.utc)
    after = datetime(2026, 1, 1, 13, 0, tzinfo=timezone.utc)
    assert not is_token_revoked(Plain(), before, None)
    assert is_token_revoked(WithColumns(), before, None)
    assert is_token_revoked(WithColumns(), before - timedelta(days=1), "other")
    assert not is_token_revoked(WithColumns(), before, "kept")
    assert not is_token_revoked(WithColumns(), after, None)
