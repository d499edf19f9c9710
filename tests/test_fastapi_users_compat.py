"""FastAPI Users 12-15 code keeps working under the import rename: every public name
imports from the same path, the helpers apps call behave as FastAPI Users' did, and a
duplicate user raises an exception that both FastAPI Users' and Doorkeeper's code catch.

Where Doorkeeper is deliberately stricter (a state in FastAPI Users' format is refused
by the OAuth callback, SECURITY 31/32), the test says so."""

import importlib
import pickle
import time
import uuid

import httpx
import jwt
import pytest
from pydantic import BaseModel, SecretStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import exceptions, schemas
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy import UserAlreadyExistsIntegrityError
from doorkeeper.exceptions import UserAlreadyExists
from doorkeeper.jwt import generate_jwt
from doorkeeper.password import PasswordHelper
from doorkeeper.router.oauth import (
    CSRF_TOKEN_COOKIE_NAME,
    CSRF_TOKEN_KEY,
    STATE_TOKEN_AUDIENCE,
    generate_csrf_token,
    generate_state_token,
)
from tests.managers import SECRET, UserManager
from tests.models import OAuthAccount, User
from tests.oauth_apps import STATE_COOKIE, STATE_SECRET, OAuthApp, build_oauth_app, callback_query
from tests.oidc_provider import OIDCProvider, oidc_provider_fixture  # noqa: F401

# --- every public name of FastAPI Users 12.1-15.0 and fastapi-users-db-sqlalchemy 6-7 ---
# (module-level definitions, `__all__` and package re-exports of each release; the Beanie
# adapter's names, which `fastapi_users.db` re-exports only when fastapi-users-db-beanie
# is installed, are not: Doorkeeper has no Beanie adapter.)

FASTAPI_USERS_NAMES: dict[str, list[str]] = {
    "fastapi_users": [
        "BaseUserManager",
        "FastAPIUsers",
        "IntegerIDMixin",
        "InvalidID",
        "InvalidPasswordException",
        "UUIDIDMixin",
        "models",
        "schemas",
    ],
    "fastapi_users.authentication": [
        "AuthenticationBackend",
        "Authenticator",
        "BearerTransport",
        "CookieTransport",
        "JWTStrategy",
        "RedisStrategy",
        "Strategy",
        "Transport",
    ],
    "fastapi_users.authentication.authenticator": [
        "Authenticator",
        "DuplicateBackendNamesError",
        "EnabledBackendsDependency",
        "INVALID_CHARS_PATTERN",
        "INVALID_LEADING_CHARS_PATTERN",
        "name_to_strategy_variable_name",
        "name_to_variable_name",
    ],
    "fastapi_users.authentication.backend": ["AuthenticationBackend"],
    "fastapi_users.authentication.strategy": [
        "AP",
        "AccessTokenDatabase",
        "AccessTokenProtocol",
        "DatabaseStrategy",
        "JWTStrategy",
        "RedisStrategy",
        "Strategy",
        "StrategyDestroyNotSupportedError",
    ],
    "fastapi_users.authentication.strategy.base": ["Strategy", "StrategyDestroyNotSupportedError"],
    "fastapi_users.authentication.strategy.db": [
        "AP",
        "AccessTokenDatabase",
        "AccessTokenProtocol",
        "DatabaseStrategy",
    ],
    "fastapi_users.authentication.strategy.db.adapter": ["AccessTokenDatabase"],
    "fastapi_users.authentication.strategy.db.models": ["AP", "AccessTokenProtocol"],
    "fastapi_users.authentication.strategy.db.strategy": ["DatabaseStrategy"],
    "fastapi_users.authentication.strategy.jwt": [
        "JWTStrategy",
        "JWTStrategyDestroyNotSupportedError",
    ],
    "fastapi_users.authentication.strategy.redis": ["RedisStrategy"],
    "fastapi_users.authentication.transport": [
        "BearerTransport",
        "CookieTransport",
        "Transport",
        "TransportLogoutNotSupportedError",
    ],
    "fastapi_users.authentication.transport.base": [
        "Transport",
        "TransportLogoutNotSupportedError",
    ],
    "fastapi_users.authentication.transport.bearer": ["BearerResponse", "BearerTransport"],
    "fastapi_users.authentication.transport.cookie": ["CookieTransport"],
    "fastapi_users.db": [
        "BaseUserDatabase",
        "SQLAlchemyBaseOAuthAccountTable",
        "SQLAlchemyBaseOAuthAccountTableUUID",
        "SQLAlchemyBaseUserTable",
        "SQLAlchemyBaseUserTableUUID",
        "SQLAlchemyUserDatabase",
        "UserDatabaseDependency",
    ],
    "fastapi_users.db.base": ["BaseUserDatabase", "UserDatabaseDependency"],
    "fastapi_users.exceptions": [
        "FastAPIUsersException",
        "InvalidID",
        "InvalidPasswordException",
        "InvalidResetPasswordToken",
        "InvalidVerifyToken",
        "UserAlreadyExists",
        "UserAlreadyVerified",
        "UserInactive",
        "UserNotExists",
    ],
    "fastapi_users.fastapi_users": ["FastAPIUsers"],
    "fastapi_users.jwt": ["JWT_ALGORITHM", "SecretType", "decode_jwt", "generate_jwt"],
    "fastapi_users.manager": [
        "BaseUserManager",
        "IntegerIDMixin",
        "RESET_PASSWORD_TOKEN_AUDIENCE",
        "UUIDIDMixin",
        "UserManagerDependency",
        "VERIFY_USER_TOKEN_AUDIENCE",
    ],
    "fastapi_users.models": [
        "ID",
        "OAP",
        "OAuthAccountProtocol",
        "UOAP",
        "UP",
        "UserOAuthProtocol",
        "UserProtocol",
    ],
    "fastapi_users.openapi": ["OpenAPIResponseType"],
    "fastapi_users.password": ["PasswordHelper", "PasswordHelperProtocol"],
    "fastapi_users.router": [
        "ErrorCode",
        "get_auth_router",
        "get_oauth_associate_router",
        "get_oauth_router",
        "get_register_router",
        "get_reset_password_router",
        "get_users_router",
        "get_verify_router",
    ],
    "fastapi_users.router.auth": ["get_auth_router"],
    "fastapi_users.router.common": ["ErrorCode", "ErrorCodeReasonModel", "ErrorModel"],
    "fastapi_users.router.oauth": [
        "CSRF_TOKEN_COOKIE_NAME",
        "CSRF_TOKEN_KEY",
        "OAuth2AuthorizeResponse",
        "STATE_TOKEN_AUDIENCE",
        "generate_csrf_token",
        "generate_state_token",
        "get_oauth_associate_router",
        "get_oauth_router",
    ],
    "fastapi_users.router.register": ["get_register_router"],
    "fastapi_users.router.reset": ["RESET_PASSWORD_RESPONSES", "get_reset_password_router"],
    "fastapi_users.router.users": ["get_users_router"],
    "fastapi_users.router.verify": ["get_verify_router"],
    "fastapi_users.schemas": [
        "BaseOAuthAccount",
        "BaseOAuthAccountMixin",
        "BaseUser",
        "BaseUserCreate",
        "BaseUserUpdate",
        "CreateUpdateDictModel",
        "PYDANTIC_V2",
        "SCHEMA",
        "U",
        "UC",
        "UU",
        "model_dump",
        "model_validate",
    ],
    "fastapi_users.types": ["DependencyCallable", "RETURN_TYPE"],
    "fastapi_users_db_sqlalchemy": [
        "BaseUserDatabase",
        "GUID",
        "ID",
        "OAP",
        "SQLAlchemyBaseOAuthAccountTable",
        "SQLAlchemyBaseOAuthAccountTableUUID",
        "SQLAlchemyBaseUserTable",
        "SQLAlchemyBaseUserTableUUID",
        "SQLAlchemyUserDatabase",
        "UP",
        "UUID_ID",
    ],
    "fastapi_users_db_sqlalchemy.access_token": [
        "SQLAlchemyAccessTokenDatabase",
        "SQLAlchemyBaseAccessTokenTable",
        "SQLAlchemyBaseAccessTokenTableUUID",
    ],
    "fastapi_users_db_sqlalchemy.generics": ["GUID", "TIMESTAMPAware", "now_utc"],
}


def renamed(module: str) -> str:
    """The import rename of docs/migration.md."""
    if module.startswith("fastapi_users_db_sqlalchemy"):
        return "doorkeeper.db.sqlalchemy" + module.removeprefix("fastapi_users_db_sqlalchemy")
    return "doorkeeper" + module.removeprefix("fastapi_users")


@pytest.mark.parametrize("module", sorted(FASTAPI_USERS_NAMES))
def test_every_fastapi_users_public_name_imports_from_the_renamed_path(module: str) -> None:
    imported = importlib.import_module(renamed(module))
    missing = [name for name in FASTAPI_USERS_NAMES[module] if not hasattr(imported, name)]
    assert missing == [], f"{renamed(module)} lacks {missing}"


def test_the_renamed_names_are_the_same_objects() -> None:
    """A name re-exported in several places is one object, as in FastAPI Users."""
    from doorkeeper.authentication.strategy import AccessTokenDatabase as A1
    from doorkeeper.authentication.strategy.db import AccessTokenDatabase as A2
    from doorkeeper.db import SQLAlchemyBaseUserTable as T1
    from doorkeeper.db.sqlalchemy import SQLAlchemyBaseUserTable as T2
    from doorkeeper.router import get_oauth_router as R1
    from doorkeeper.router.oauth import get_oauth_router as R2

    assert A1 is A2 and T1 is T2 and R1 is R2


# --- the OAuth state helpers -------------------------------------------------------


def test_generate_state_token_makes_fastapi_users_state() -> None:
    data = {CSRF_TOKEN_KEY: "CSRFTOKEN"}
    before = int(time.time())
    state = generate_state_token(data, STATE_SECRET)
    assert jwt.get_unverified_header(state) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(state, STATE_SECRET, algorithms=["HS256"], audience=STATE_TOKEN_AUDIENCE)
    assert set(claims) == {"csrftoken", "aud", "exp"}
    assert claims["csrftoken"] == "CSRFTOKEN"
    assert claims["aud"] == "fastapi-users:oauth-state"
    assert before + 3600 <= claims["exp"] <= int(time.time()) + 3600
    assert data == {"csrftoken": "CSRFTOKEN"}  # the caller's dict is left alone

    short = generate_state_token({}, SecretStr(STATE_SECRET), lifetime_seconds=60)
    claims = jwt.decode(short, STATE_SECRET, algorithms=["HS256"], audience=STATE_TOKEN_AUDIENCE)
    assert claims["exp"] <= int(time.time()) + 60
    expired = generate_state_token({}, STATE_SECRET, lifetime_seconds=-1)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, STATE_SECRET, algorithms=["HS256"], audience=STATE_TOKEN_AUDIENCE)


def test_generate_csrf_token_is_random_and_url_safe() -> None:
    tokens = {generate_csrf_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43 and set(token) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
    assert CSRF_TOKEN_COOKIE_NAME == "fastapiusersoauthcsrf"


def callback_with_state(location: str, state: str) -> str:
    query = {**callback_query(location), "state": state}
    return "/auth/oidc/callback?" + "&".join(f"{k}={v}" for k, v in query.items())


async def started(app: OAuthApp, http: httpx.AsyncClient) -> str:
    return await app.approve(await app.authorize(http))


async def test_callback_refuses_fastapi_users_states(
    db_kind: str,
    session_maker: async_sessionmaker[AsyncSession],
    oidc_provider: OIDCProvider,
) -> None:
    """Deliberate (SECURITY 31, 32): a state in FastAPI Users' format, even one bound to
    this browser's cookie, has no `jti` (single use), no route and no PKCE verifier, and
    is refused before the code is exchanged. An expired one is reported as expired."""
    if db_kind != "sqlite":
        pytest.skip("the state is checked before any storage")
    app = build_oauth_app(session_maker, oidc_provider)
    async with app.client() as http:
        location = await started(app, http)
        binding = http.cookies[STATE_COOKIE]
        foreign = generate_state_token({CSRF_TOKEN_KEY: binding}, STATE_SECRET)
        answer = await http.get(callback_with_state(location, foreign))
        assert answer.status_code == 400
        assert answer.json() == {"detail": "ACCESS_TOKEN_DECODE_ERROR"}

        expired = generate_state_token({CSRF_TOKEN_KEY: binding}, STATE_SECRET, -1)
        answer = await http.get(callback_with_state(location, expired))
        assert answer.status_code == 400
        assert answer.json() == {"detail": "ACCESS_TOKEN_ALREADY_EXPIRED"}
        assert oidc_provider.counts["token"] == 0

        # The genuine state of the same flow still works.
        assert (await app.follow(http, location)).status_code == 200


# --- schemas.model_dump / model_validate (FastAPI Users 12-14) -----------------------


class UserRead(schemas.BaseUser[uuid.UUID]):
    first_name: str | None = None


class Row:
    """An ORM-like object, as `model_validate(UserRead, user)` gets it on register."""

    def __init__(self) -> None:
        self.id = uuid.UUID(int=7)
        self.email = "king.arthur@camelot.bt"
        self.is_active = True
        self.is_superuser = False
        self.is_verified = True
        self.first_name = "Arthur"
        self.hashed_password = "$argon2id$..."


def test_model_validate_and_model_dump() -> None:
    assert schemas.PYDANTIC_V2 is True
    read = schemas.model_validate(UserRead, Row())
    assert isinstance(read, UserRead)
    assert read.first_name == "Arthur" and read.id == uuid.UUID(int=7)
    assert schemas.model_dump(read) == read.model_dump()
    assert "hashed_password" not in schemas.model_dump(read)
    assert schemas.model_dump(read, include={"email"}) == {"email": "king.arthur@camelot.bt"}
    assert schemas.model_dump(read, mode="json")["id"] == str(uuid.UUID(int=7))
    # Extra arguments go through to Pydantic, as in FastAPI Users.
    strict = schemas.model_validate(UserRead, {"id": str(uuid.UUID(int=8)), "email": "a@b.co"})
    assert strict.id == uuid.UUID(int=8)
    with pytest.raises(ValueError, match="valid"):
        schemas.model_validate(UserRead, {"id": "x", "email": "a@b.co"}, strict=True)

    class Plain(BaseModel):
        name: str

    assert schemas.model_dump(Plain(name="n"), exclude={"name"}) == {}


# --- a duplicate user: UserAlreadyExists and IntegrityError at once --------------------


@pytest.fixture
def user_db(session: AsyncSession) -> SQLAlchemyUserDatabase[User, uuid.UUID]:
    return SQLAlchemyUserDatabase(session, User, OAuthAccount)


def check_duplicate(error: BaseException) -> None:
    assert isinstance(error, UserAlreadyExists)
    assert isinstance(error, exceptions.FastAPIUsersException)
    assert isinstance(error, IntegrityError)
    assert isinstance(error, UserAlreadyExistsIntegrityError)
    # Built from the database's own error: statement, params and the driver's exception.
    assert error.statement is not None
    assert "user" in error.statement.lower()
    assert error.orig is not None
    assert "integrity" in type(error.orig).__name__.lower() or "unique" in str(error.orig).lower()
    assert error.code == "gkpj"
    # The message names the failure but not the parameters (the password hash).
    assert "not-a-real-hash" not in str(error)
    assert str(error.orig) in str(error)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert isinstance(copy, UserAlreadyExists) and isinstance(copy, IntegrityError)


async def test_duplicate_create_is_both_exceptions(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID], session: AsyncSession
) -> None:
    row = {"email": "lancelot@camelot.bt", "hashed_password": "not-a-real-hash"}
    await user_db.create(row)
    try:
        await user_db.create({**row, "email": "Lancelot@Camelot.bt"})
    except IntegrityError as error:  # FastAPI Users' adapter raised this
        check_duplicate(error)
    else:
        pytest.fail("no IntegrityError")
    with pytest.raises(UserAlreadyExists):  # Doorkeeper's flows catch this
        await user_db.create(row)
    # The session was rolled back and is usable.
    assert len((await session.execute(select(User))).unique().all()) == 1


async def test_duplicate_update_is_both_exceptions(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID],
) -> None:
    await user_db.create({"email": "lancelot@camelot.bt", "hashed_password": "not-a-real-hash"})
    other = await user_db.create({"email": "galahad@camelot.bt", "hashed_password": "h"})
    with pytest.raises(IntegrityError) as caught:
        await user_db.update(other, {"email": "LANCELOT@camelot.bt"})
    check_duplicate(caught.value)
    other = await user_db.get_by_email("galahad@camelot.bt")  # type: ignore[assignment]
    assert other is not None
    with pytest.raises(UserAlreadyExists):
        await user_db.update(other, {"email": "lancelot@camelot.bt"})
    # The compare-and-set update raises the same.
    other = await user_db.get_by_email("galahad@camelot.bt")  # type: ignore[assignment]
    assert other is not None
    with pytest.raises(IntegrityError) as caught:
        await user_db.update_if(other, {"email": "Lancelot@camelot.bt"}, {"hashed_password": "h"})
    assert isinstance(caught.value, UserAlreadyExists)


async def test_manager_and_router_still_see_user_already_exists(
    session: AsyncSession, password_helper: PasswordHelper
) -> None:
    manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
    body = schemas.BaseUserCreate(email="percival@camelot.bt", password="a-long-password-1")
    await manager.create(body)
    with pytest.raises(exceptions.UserAlreadyExists):
        await manager.create(body)


# --- reset_password of a user deleted since the token was issued -------------------


async def test_reset_token_of_a_deleted_user_raises_user_not_exists(
    session: AsyncSession, password_helper: PasswordHelper
) -> None:
    manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
    user = await manager.create(
        schemas.BaseUserCreate(email="bors@camelot.bt", password="a-long-password-1")
    )
    await manager.forgot_password(user)
    token = manager.reset_tokens[-1]
    await manager.user_db.delete(user)
    with pytest.raises(exceptions.UserNotExists):
        await manager.reset_password(token, "a-brand-new-password")
    unknown = generate_jwt(
        {
            "sub": str(uuid.uuid4()),
            "password_fgpt": "x",
            "aud": manager.reset_password_token_audience,
        },
        SECRET,
        60,
    )
    with pytest.raises(exceptions.UserNotExists):
        await manager.reset_password(unknown, "a-brand-new-password")
