"""The user manager's flows and hooks, on SQLite, PostgreSQL and MariaDB."""

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import exceptions, schemas
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.jwt import generate_jwt
from doorkeeper.password import PasswordHelper
from doorkeeper.revocation import is_token_revoked
from tests.managers import SECRET, UserManager
from tests.models import OAuthAccount, User

PASSWORD = "guinevere-forever"


class UserCreate(schemas.BaseUserCreate):
    first_name: str | None = None


class UserUpdate(schemas.BaseUserUpdate):
    first_name: str | None = None


@pytest.fixture
def manager(session: AsyncSession, password_helper: PasswordHelper) -> UserManager:
    return UserManager(SQLAlchemyUserDatabase(session, User, OAuthAccount), password_helper)


def credentials(username: str, password: str) -> OAuth2PasswordRequestForm:
    return OAuth2PasswordRequestForm(username=username, password=password)


async def register(
    manager: UserManager, email: str = "king.arthur@camelot.bt", **extra: object
) -> User:
    return await manager.create(UserCreate(email=email, password=PASSWORD, **extra))  # type: ignore[arg-type]


async def test_create_hashes_and_calls_the_hook(manager: UserManager) -> None:
    user = await register(manager, first_name="Arthur")
    assert user.first_name == "Arthur"
    assert user.hashed_password.startswith("$argon2id$")
    assert PASSWORD not in user.hashed_password
    assert manager.calls == [("register", user.id)]


async def test_create_refuses_duplicates_in_any_case(manager: UserManager) -> None:
    await register(manager)
    with pytest.raises(exceptions.UserAlreadyExists):
        await register(manager, "KING.ARTHUR@Camelot.bt")


async def test_create_safe_ignores_privileged_fields(manager: UserManager) -> None:
    body = UserCreate(email="a@camelot.bt", password=PASSWORD, is_superuser=True, is_verified=True)
    safe_user = await manager.create(body, safe=True)
    assert not safe_user.is_superuser and not safe_user.is_verified
    body = UserCreate(email="b@camelot.bt", password=PASSWORD, is_superuser=True, is_verified=True)
    admin_made = await manager.create(body)
    assert admin_made.is_superuser and admin_made.is_verified


@pytest.mark.parametrize(
    "password", ["short", "password", "        ", "king.arthur@camelot.bt", "king.arthur"]
)
async def test_create_applies_the_password_policy(manager: UserManager, password: str) -> None:
    with pytest.raises(exceptions.InvalidPasswordException) as info:
        await manager.create(UserCreate(email="king.arthur@camelot.bt", password=password))
    assert isinstance(info.value.reason, str) and info.value.reason
    assert await manager.user_db.get_by_email("king.arthur@camelot.bt") is None


async def test_concurrent_creates_of_one_email_make_one_user(
    session_maker: async_sessionmaker[AsyncSession], password_helper: PasswordHelper
) -> None:
    emails = [
        "galahad@camelot.bt",
        "Galahad@Camelot.bt",
        "GALAHAD@CAMELOT.BT",
        "gAlAhAd@camelot.bt",
    ]

    async def attempt(index: int) -> str:
        async with session_maker() as session:
            manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
            try:
                await manager.create(UserCreate(email=emails[index % 4], password=PASSWORD))
            except exceptions.UserAlreadyExists:
                return "exists"
            return "created"

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert results.count("created") == 1, results
    assert results.count("exists") == 19


async def test_authenticate(manager: UserManager) -> None:
    user = await register(manager)
    found = await manager.authenticate(credentials("KING.ARTHUR@camelot.bt", PASSWORD))
    assert found is not None and found.id == user.id
    assert (
        await manager.authenticate(credentials("king.arthur@camelot.bt", "wrong-password")) is None
    )
    assert await manager.authenticate(credentials("nobody@camelot.bt", PASSWORD)) is None
    too_long = "x" * (schemas.PASSWORD_MAX_LENGTH + 1)
    assert await manager.authenticate(credentials("king.arthur@camelot.bt", too_long)) is None


async def test_authenticate_upgrades_legacy_hashes(
    manager: UserManager, password_helper: PasswordHelper
) -> None:
    import bcrypt

    user = await register(manager)
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await manager.user_db.update(user, {"hashed_password": legacy})

    assert await manager.authenticate(credentials(user.email, "wrong-password")) is None
    assert user.hashed_password == legacy  # a failed login changes nothing
    upgraded = await manager.authenticate(credentials(user.email, PASSWORD))
    assert upgraded is not None
    assert upgraded.hashed_password.startswith("$argon2id$")
    reloaded = await manager.user_db.get(user.id)
    assert reloaded is not None and reloaded.hashed_password.startswith("$argon2id$")


async def test_authenticate_with_over_long_password_against_bcrypt_is_a_failure(
    manager: UserManager,
) -> None:
    import bcrypt

    user = await register(manager)
    legacy = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(rounds=4)).decode()
    await manager.user_db.update(user, {"hashed_password": legacy})
    assert await manager.authenticate(credentials(user.email, "a" * 100)) is None
    assert (await manager.authenticate(credentials(user.email, "a" * 72))) is not None


async def test_verification_flow(manager: UserManager) -> None:
    user = await register(manager)
    await manager.request_verify(user)
    token = manager.verify_tokens[-1]
    verified = await manager.verify(token)
    assert verified.is_verified
    assert ("verify", user.id) in manager.calls
    with pytest.raises(exceptions.UserAlreadyVerified):
        await manager.verify(token)  # single use
    with pytest.raises(exceptions.UserAlreadyVerified):
        await manager.request_verify(verified)


async def test_verify_refuses_bad_tokens(manager: UserManager) -> None:
    user = await register(manager)
    inactive = await register(manager, "inactive@camelot.bt", is_active=False)
    with pytest.raises(exceptions.UserInactive):
        await manager.request_verify(inactive)

    aud = manager.verification_token_audience
    bad_tokens = [
        "not-a-token",
        generate_jwt(
            {"sub": str(user.id), "email": user.email, "aud": aud}, "other-secret" * 4, 60
        ),
        generate_jwt({"sub": str(user.id), "email": user.email, "aud": "wrong"}, SECRET, 60),
        generate_jwt({"sub": str(user.id), "email": user.email, "aud": aud}, SECRET, -10),
        generate_jwt({"sub": str(user.id), "email": user.email, "aud": aud}, SECRET),  # no exp
        generate_jwt({"email": user.email, "aud": aud}, SECRET, 60),
        generate_jwt({"sub": "not-an-id", "email": user.email, "aud": aud}, SECRET, 60),
        generate_jwt({"sub": str(uuid.uuid4()), "email": user.email, "aud": aud}, SECRET, 60),
        generate_jwt({"sub": str(user.id), "email": "nobody@camelot.bt", "aud": aud}, SECRET, 60),
        generate_jwt({"sub": str(user.id), "email": 42, "aud": aud}, SECRET, 60),
    ]
    for token in bad_tokens:
        with pytest.raises(exceptions.InvalidVerifyToken):
            await manager.verify(token)


async def test_verify_token_dies_when_the_email_changes(manager: UserManager) -> None:
    user = await register(manager)
    await manager.request_verify(user)
    token = manager.verify_tokens[-1]
    await manager.update(UserUpdate(email="arthur@camelot.bt"), user)
    with pytest.raises(exceptions.InvalidVerifyToken):
        await manager.verify(token)


async def test_concurrent_verifications_succeed_once(
    session_maker: async_sessionmaker[AsyncSession], password_helper: PasswordHelper
) -> None:
    async with session_maker() as session:
        manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
        user = await register(manager)
        await manager.request_verify(user)
        token = manager.verify_tokens[-1]

    async def attempt() -> str:
        async with session_maker() as session:
            other = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
            try:
                await other.verify(token)
            except exceptions.UserAlreadyVerified:
                return "already"
            return "verified"

    results = await asyncio.gather(*(attempt() for _ in range(5)))
    assert results.count("verified") == 1, results


async def test_reset_password_flow(manager: UserManager) -> None:
    user = await register(manager)
    issued_before = datetime.now(timezone.utc)
    await manager.forgot_password(user)
    token = manager.reset_tokens[-1]

    with pytest.raises(exceptions.InvalidPasswordException):
        await manager.reset_password(token, "short")  # does not burn the token
    updated = await manager.reset_password(token, "a-brand-new-password")
    assert ("reset", user.id) in manager.calls
    assert await manager.authenticate(credentials(user.email, "a-brand-new-password")) is not None
    assert await manager.authenticate(credentials(user.email, PASSWORD)) is None
    assert is_token_revoked(updated, issued_before, "any-token")

    with pytest.raises(exceptions.InvalidResetPasswordToken):
        await manager.reset_password(token, "yet-another-password")  # single use


async def test_reset_password_refuses_bad_tokens(manager: UserManager) -> None:
    user = await register(manager)
    aud = manager.reset_password_token_audience
    await manager.request_verify(user)
    verify_token = manager.verify_tokens[-1]
    bad_tokens = [
        "garbage",
        verify_token,  # another token type is never accepted as this one
        generate_jwt({"sub": str(user.id), "password_fgpt": "x", "aud": aud}, SECRET, 60),
        generate_jwt({"sub": str(user.id), "aud": aud}, SECRET, 60),
        generate_jwt({"sub": "42", "password_fgpt": "x", "aud": aud}, SECRET, 60),
    ]
    for token in bad_tokens:
        with pytest.raises(exceptions.InvalidResetPasswordToken):
            await manager.reset_password(token, "a-brand-new-password")
    # A user who does not exist (deleted since): `UserNotExists`, as in FastAPI Users.
    unknown = generate_jwt({"sub": str(uuid.uuid4()), "password_fgpt": "x", "aud": aud}, SECRET, 60)
    with pytest.raises(exceptions.UserNotExists):
        await manager.reset_password(unknown, "a-brand-new-password")


async def test_reset_password_of_inactive_user(manager: UserManager) -> None:
    user = await register(manager)
    await manager.forgot_password(user)
    token = manager.reset_tokens[-1]
    await manager.update(UserUpdate(is_active=False), user)
    with pytest.raises(exceptions.UserInactive):
        await manager.forgot_password(user)
    with pytest.raises(exceptions.UserInactive):
        await manager.reset_password(token, "a-brand-new-password")


async def test_concurrent_resets_succeed_once(
    session_maker: async_sessionmaker[AsyncSession], password_helper: PasswordHelper
) -> None:
    async with session_maker() as session:
        manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
        user = await register(manager)
        await manager.forgot_password(user)
        token = manager.reset_tokens[-1]

    async def attempt(index: int) -> str:
        async with session_maker() as session:
            other = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
            try:
                await other.reset_password(token, f"new-password-number-{index}")
            except exceptions.InvalidResetPasswordToken:
                return "refused"
            return "reset"

    results = await asyncio.gather(*(attempt(i) for i in range(5)))
    assert results.count("reset") == 1, results


async def test_update(manager: UserManager) -> None:
    user = await register(manager)
    user = await manager.update(UserUpdate(is_verified=True), user)
    before = datetime.now(timezone.utc)

    user = await manager.update(UserUpdate(first_name="Arthur"), user, safe=True)
    assert user.first_name == "Arthur" and user.is_verified
    assert not is_token_revoked(user, before, None)

    user = await manager.update(UserUpdate(email="King.Arthur@camelot.bt"), user, safe=True)
    assert user.email == "King.Arthur@camelot.bt" and user.is_verified  # same address

    user = await manager.update(UserUpdate(email="arthur@camelot.bt"), user, safe=True)
    assert not user.is_verified
    assert is_token_revoked(user, before, "other-token")

    await register(manager, "lancelot@camelot.bt")
    with pytest.raises(exceptions.UserAlreadyExists):
        await manager.update(UserUpdate(email="LANCELOT@camelot.bt"), user)

    user = await manager.update(UserUpdate(is_superuser=True), user, safe=True)
    assert not user.is_superuser
    user = await manager.update(UserUpdate(is_superuser=True), user)
    assert user.is_superuser
    assert ("update", {"is_superuser": True}) in manager.calls


async def test_self_service_password_change_needs_the_current_password(
    manager: UserManager,
) -> None:
    user = await register(manager)
    for current in (None, "wrong-password"):
        with pytest.raises(exceptions.InvalidPasswordException) as info:
            await manager.update(
                UserUpdate(password="a-brand-new-password", current_password=current),
                user,
                safe=True,
            )
        assert info.value.reason in ("CURRENT_PASSWORD_REQUIRED", "CURRENT_PASSWORD_INVALID")
    with pytest.raises(exceptions.InvalidPasswordException):
        await manager.update(
            UserUpdate(password="short", current_password=PASSWORD), user, safe=True
        )

    before = datetime.now(timezone.utc)
    user = await manager.update(
        UserUpdate(password="a-brand-new-password", current_password=PASSWORD), user, safe=True
    )
    assert await manager.authenticate(credentials(user.email, "a-brand-new-password"))
    assert is_token_revoked(user, before, None)
    # A superuser sets a password without knowing the old one.
    user = await manager.update(UserUpdate(password="set-by-an-admin-1"), user)
    assert await manager.authenticate(credentials(user.email, "set-by-an-admin-1"))


async def test_deactivation_and_explicit_revocation(manager: UserManager) -> None:
    user = await register(manager)
    before = datetime.now(timezone.utc)
    user = await manager.update(UserUpdate(is_active=False), user)
    assert is_token_revoked(user, before, None)

    other = await register(manager, "gawain@camelot.bt")
    before = datetime.now(timezone.utc)
    other = await manager.revoke_tokens(other, keep_token_id="kept")
    assert is_token_revoked(other, before, "dropped")
    assert not is_token_revoked(other, before, "kept")
    assert not is_token_revoked(other, datetime.now(timezone.utc), "new")


async def test_delete(manager: UserManager) -> None:
    user = await register(manager)
    await manager.delete(user)
    assert manager.calls[-2:] == [("before_delete", user.id), ("after_delete", user.id)]
    with pytest.raises(exceptions.UserNotExists):
        await manager.get(user.id)


async def test_lookups(manager: UserManager) -> None:
    user = await register(manager)
    assert (await manager.get(user.id)).id == user.id
    assert (await manager.get_by_email("KING.arthur@camelot.bt")).id == user.id
    with pytest.raises(exceptions.UserNotExists):
        await manager.get(uuid.uuid4())
    with pytest.raises(exceptions.UserNotExists):
        await manager.get_by_email("nobody@camelot.bt")
    with pytest.raises(exceptions.UserNotExists):
        await manager.get_by_oauth_account("service1", "nobody")


async def test_oauth_callbacks(manager: UserManager) -> None:
    created = await manager.oauth_callback(
        "service1", "TOKEN", "account1", "tristan@camelot.bt", 1000, is_verified_by_default=True
    )
    assert created.is_verified and len(created.oauth_accounts) == 1
    assert ("register", created.id) in manager.calls

    same = await manager.oauth_callback("service1", "NEW_TOKEN", "account1", "tristan@camelot.bt")
    assert same.id == created.id
    assert same.oauth_accounts[0].access_token == "NEW_TOKEN"

    existing = await register(manager)
    with pytest.raises(exceptions.UserAlreadyExists):
        await manager.oauth_callback("service1", "T", "account2", existing.email)
    linked = await manager.oauth_callback(
        "service1",
        "T",
        "account2",
        existing.email.upper(),
        associate_by_email=True,
        email_verified=True,
    )
    assert linked.id == existing.id and len(linked.oauth_accounts) == 1

    associated = await manager.oauth_associate_callback(
        linked, "service2", "T2", "account3", existing.email
    )
    assert {a.oauth_name for a in associated.oauth_accounts} == {"service1", "service2"}
    assert (await manager.get_by_oauth_account("service2", "account3")).id == existing.id


async def test_current_password_requirement_can_be_relaxed(manager: UserManager) -> None:
    user = await register(manager)
    manager.require_current_password = False
    user = await manager.update(UserUpdate(password="a-brand-new-password"), user, safe=True)
    assert await manager.authenticate(credentials(user.email, "a-brand-new-password"))


async def test_session_revocation_on_change_can_be_relaxed(manager: UserManager) -> None:
    user = await register(manager)
    manager.revoke_sessions_on_change = False
    before = datetime.now(timezone.utc)
    user = await manager.update(UserUpdate(email="arthur@camelot.bt", is_active=False), user)
    await manager.update(UserUpdate(is_active=True), user)
    await manager.forgot_password(user)
    user = await manager.reset_password(manager.reset_tokens[-1], "a-brand-new-password")
    assert not is_token_revoked(user, before, None)
