"""The Authenticator over HTTP: 401/403, optional users, several backends, enabled
backends, the OpenAPI security schemes, the token id on the request, and 503 when the
storage is down."""

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis.asyncio as redis_asyncio
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from doorkeeper import BaseUserManager, UUIDIDMixin
from doorkeeper.authentication import (
    AuthenticationBackend,
    Authenticator,
    BearerTransport,
    CookieTransport,
    DuplicateBackendNamesError,
    JWTStrategy,
    RedisStrategy,
)
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.authentication.strategy.digest import hash_token
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from doorkeeper.password import PasswordHelper
from tests.models import AccessToken, User
from tests.test_authentication_jwt import forged_hs256_tokens

SECRET = "a-jwt-secret-for-the-tests-that-is-long-enough"
OTHER_SECRET = "another-jwt-secret-for-the-tests-long-enough"


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


class RecordingJWTStrategy(JWTStrategy[User, uuid.UUID]):
    """Records which strategy read a token."""

    def __init__(self, name: str, calls: list[str], secret: str = SECRET) -> None:
        super().__init__(secret, 3600)
        self.name = name
        self.calls = calls

    async def read_token(self, token: str | None, user_manager: Any) -> User | None:
        self.calls.append(self.name)
        return await super().read_token(token, user_manager)


class PlainStrategy:
    """A FastAPI Users-style strategy: no `token_id`."""

    def __init__(self, user: User) -> None:
        self.user = user

    async def read_token(self, token: str | None, user_manager: Any) -> User | None:
        return self.user if token == "plain" else None

    async def write_token(self, user: User) -> str:
        return "plain"

    async def destroy_token(self, token: str, user: User) -> None:
        return None


class BrokenStrategy(PlainStrategy):
    async def read_token(self, token: str | None, user_manager: Any) -> User | None:
        raise RuntimeError("a bug, not an outage")


@pytest.fixture
def db_kind() -> str:
    return "sqlite"


def manager_dependency(
    session: AsyncSession, password_helper: PasswordHelper
) -> Callable[[], AsyncIterator[UserManager]]:
    async def get_user_manager() -> AsyncIterator[UserManager]:
        yield UserManager(SQLAlchemyUserDatabase(session, User), password_helper)

    return get_user_manager


@dataclass
class Setup:
    app: FastAPI
    session: AsyncSession
    jwt_strategy: JWTStrategy[User, uuid.UUID]
    db_strategy: DatabaseStrategy[User, uuid.UUID, AccessToken]
    jwt_backend: AuthenticationBackend[User, uuid.UUID]
    cookie_backend: AuthenticationBackend[User, uuid.UUID]
    authenticator: Authenticator[User, uuid.UUID]
    manager: UserManager

    async def user(self, email: str = "arthur@camelot.bt", **values: Any) -> User:
        return await self.manager.user_db.create({"email": email, "hashed_password": "x", **values})


def add_routes(app: FastAPI, authenticator: Authenticator[User, uuid.UUID]) -> None:
    def route(path: str, dependency: Callable[..., Any]) -> None:
        @app.get(path)
        async def endpoint(user: User | None = Depends(dependency)) -> dict[str, Any]:
            return {"id": None if user is None else str(user.id)}

    route("/user", authenticator.current_user())
    route("/active", authenticator.current_user(active=True))
    route("/verified", authenticator.current_user(verified=True))
    route("/superuser", authenticator.current_user(superuser=True))
    route("/optional", authenticator.current_user(optional=True))
    route("/optional-active", authenticator.current_user(optional=True, active=True))
    route("/optional-superuser", authenticator.current_user(optional=True, superuser=True))

    @app.get("/token")
    async def token(
        request: Request,
        user_token: tuple[User | None, str | None] = Depends(authenticator.current_user_token()),
    ) -> dict[str, Any]:
        user, token = user_token
        return {
            "id": str(user.id) if user else None,
            "token": token,
            "token_id": getattr(request.state, "doorkeeper_token_id", None),
        }

    @app.get("/optional-token")
    async def optional_token(
        user_token: tuple[User | None, str | None] = Depends(
            authenticator.current_user_token(optional=True, verified=True)
        ),
    ) -> dict[str, Any]:
        user, token = user_token
        return {"id": str(user.id) if user else None, "token": token}


@pytest.fixture
def setup(session: AsyncSession, password_helper: PasswordHelper) -> Setup:
    jwt_strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 3600)
    db_strategy: DatabaseStrategy[User, uuid.UUID, AccessToken] = DatabaseStrategy(
        SQLAlchemyAccessTokenDatabase(session, AccessToken), 3600
    )
    jwt_backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        "jwt", BearerTransport("auth/jwt/login"), lambda: jwt_strategy
    )
    cookie_backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        "cookie", CookieTransport(), lambda: db_strategy
    )
    authenticator: Authenticator[User, uuid.UUID] = Authenticator(
        [jwt_backend, cookie_backend], manager_dependency(session, password_helper)
    )
    app = FastAPI()
    add_routes(app, authenticator)

    @app.get("/cookie-only")
    async def cookie_only(
        user: User = Depends(
            authenticator.current_user(get_enabled_backends=lambda: [cookie_backend])
        ),
    ) -> dict[str, Any]:
        return {"id": str(user.id)}

    @app.post("/revoke-others")
    async def revoke_others(
        request: Request,
        user: User = Depends(authenticator.current_user()),
        manager: UserManager = Depends(manager_dependency(session, password_helper)),
    ) -> None:
        await manager.revoke_tokens(user, keep_token_id=request.state.doorkeeper_token_id)

    manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
    return Setup(
        app,
        session,
        jwt_strategy,
        db_strategy,
        jwt_backend,
        cookie_backend,
        authenticator,
        manager,
    )


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"fastapiusersauth={token}"}


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert response.headers["www-authenticate"] == "Bearer"


# --- 401, 403 and optional -------------------------------------------------------------


async def test_no_token_is_401(setup: Setup) -> None:
    async with client(setup.app) as http:
        for path in ("/user", "/active", "/verified", "/superuser", "/token"):
            assert_401(await http.get(path))


async def test_invalid_tokens_are_401(setup: Setup) -> None:
    async with client(setup.app) as http:
        assert_401(await http.get("/user", headers=bearer("invalid")))
        assert_401(await http.get("/user", headers=cookie("invalid")))
        assert_401(await http.get("/user", headers={"Authorization": "Basic abc"}))
        assert_401(await http.get("/user", headers={"Authorization": "Bearer "}))


async def test_forged_jwts_are_401_over_http(setup: Setup) -> None:
    user = await setup.user()
    async with client(setup.app) as http:
        valid = await setup.jwt_strategy.write_token(user)
        assert (await http.get("/user", headers=bearer(valid))).status_code == 200
        for name, token in forged_hs256_tokens(user.id).items():
            if not token or not token.isascii() or not token.isprintable():
                continue  # not sendable in a header
            response = await http.get("/user", headers=bearer(token))
            assert response.status_code == 401, name
            response = await http.get("/user", headers=cookie(token))
            assert response.status_code == 401, name


async def test_valid_tokens_of_each_backend(setup: Setup) -> None:
    user = await setup.user()
    jwt_token = await setup.jwt_strategy.write_token(user)
    db_token = await setup.db_strategy.write_token(user)
    async with client(setup.app) as http:
        for headers in (bearer(jwt_token), cookie(db_token)):
            response = await http.get("/user", headers=headers)
            assert response.status_code == 200
            assert response.json() == {"id": str(user.id)}
        # Each token only works on its own backend's transport and strategy.
        assert_401(await http.get("/user", headers=bearer(db_token)))
        assert_401(await http.get("/user", headers=cookie(jwt_token)))


async def test_inactive_user(setup: Setup) -> None:
    user = await setup.user(is_active=False)
    token = await setup.jwt_strategy.write_token(user)
    async with client(setup.app) as http:
        assert (await http.get("/user", headers=bearer(token))).status_code == 200
        assert_401(await http.get("/active", headers=bearer(token)))
        optional = await http.get("/optional-active", headers=bearer(token))
        assert optional.json() == {"id": None}


async def test_verified_and_superuser_are_403(setup: Setup) -> None:
    plain = await setup.user()
    token = await setup.jwt_strategy.write_token(plain)
    async with client(setup.app) as http:
        for path in ("/verified", "/superuser"):
            response = await http.get(path, headers=bearer(token))
            assert response.status_code == 403
            assert response.json() == {"detail": "Forbidden"}
            assert "www-authenticate" not in response.headers
        assert (await http.get("/optional-superuser", headers=bearer(token))).json() == {"id": None}
    admin = await setup.user("merlin@camelot.bt", is_verified=True, is_superuser=True)
    admin_token = await setup.jwt_strategy.write_token(admin)
    async with client(setup.app) as http:
        for path in ("/active", "/verified", "/superuser", "/optional-superuser"):
            response = await http.get(path, headers=bearer(admin_token))
            assert response.status_code == 200
            assert response.json() == {"id": str(admin.id)}


async def test_optional(setup: Setup) -> None:
    user = await setup.user()
    token = await setup.jwt_strategy.write_token(user)
    async with client(setup.app) as http:
        assert (await http.get("/optional")).json() == {"id": None}
        assert (await http.get("/optional", headers=bearer("bad"))).json() == {"id": None}
        assert (await http.get("/optional", headers=bearer(token))).json() == {"id": str(user.id)}
        unverified = await http.get("/optional-token", headers=bearer(token))
        assert unverified.json() == {"id": None, "token": token}


async def test_current_user_token_and_token_id(setup: Setup) -> None:
    user = await setup.user()
    jwt_token = await setup.jwt_strategy.write_token(user)
    db_token = await setup.db_strategy.write_token(user)
    async with client(setup.app) as http:
        by_jwt = (await http.get("/token", headers=bearer(jwt_token))).json()
        assert by_jwt == {
            "id": str(user.id),
            "token": jwt_token,
            "token_id": jwt.decode(jwt_token, options={"verify_signature": False})["jti"],
        }
        by_cookie = (await http.get("/token", headers=cookie(db_token))).json()
        assert by_cookie == {
            "id": str(user.id),
            "token": db_token,
            "token_id": hash_token(db_token),
        }


async def test_revoking_during_a_request_spares_the_callers_token(setup: Setup) -> None:
    user = await setup.user()
    caller = await setup.jwt_strategy.write_token(user)
    other = await setup.jwt_strategy.write_token(user)
    cookie_token = await setup.db_strategy.write_token(user)
    async with client(setup.app) as http:
        assert (await http.post("/revoke-others", headers=bearer(caller))).status_code == 200
        assert (await http.get("/user", headers=bearer(caller))).status_code == 200
        assert_401(await http.get("/user", headers=bearer(other)))
        assert_401(await http.get("/user", headers=cookie(cookie_token)))


# --- several backends ------------------------------------------------------------------


def two_jwt_backends(
    calls: list[str], second_secret: str
) -> list[AuthenticationBackend[User, uuid.UUID]]:
    first = RecordingJWTStrategy("first", calls)
    second = RecordingJWTStrategy("second", calls, second_secret)
    return [
        AuthenticationBackend("first", BearerTransport("login"), lambda: first),
        AuthenticationBackend("second", BearerTransport("login"), lambda: second),
    ]


async def test_first_backend_wins_then_fallback(
    session: AsyncSession, password_helper: PasswordHelper
) -> None:
    calls: list[str] = []
    backends = two_jwt_backends(calls, OTHER_SECRET)
    authenticator: Authenticator[User, uuid.UUID] = Authenticator(
        backends, manager_dependency(session, password_helper)
    )
    app = FastAPI()
    add_routes(app, authenticator)
    manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
    user = await manager.user_db.create({"email": "a@camelot.bt", "hashed_password": "x"})
    first_token = await JWTStrategy(SECRET, 60).write_token(user)
    second_token = await JWTStrategy(OTHER_SECRET, 60).write_token(user)
    async with client(app) as http:
        assert (await http.get("/user", headers=bearer(first_token))).status_code == 200
        assert calls == ["first"]
        calls.clear()
        assert (await http.get("/user", headers=bearer(second_token))).status_code == 200
        assert calls == ["first", "second"]
        calls.clear()
        assert_401(await http.get("/user", headers=bearer("nope")))
        assert calls == ["first", "second"]


async def test_get_enabled_backends(setup: Setup) -> None:
    user = await setup.user()
    jwt_token = await setup.jwt_strategy.write_token(user)
    db_token = await setup.db_strategy.write_token(user)
    async with client(setup.app) as http:
        assert_401(await http.get("/cookie-only", headers=bearer(jwt_token)))
        response = await http.get("/cookie-only", headers=cookie(db_token))
        assert response.json() == {"id": str(user.id)}


async def test_strategy_without_token_id(
    session: AsyncSession, password_helper: PasswordHelper
) -> None:
    manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
    user = await manager.user_db.create({"email": "a@camelot.bt", "hashed_password": "x"})
    strategy = PlainStrategy(user)
    backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        "plain", BearerTransport("login"), lambda: strategy
    )
    app = FastAPI()
    add_routes(app, Authenticator([backend], manager_dependency(session, password_helper)))
    async with client(app) as http:
        response = await http.get("/token", headers=bearer("plain"))
        assert response.json() == {"id": str(user.id), "token": "plain", "token_id": None}


async def test_a_bug_in_a_strategy_is_not_hidden(
    session: AsyncSession, password_helper: PasswordHelper
) -> None:
    manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
    user = await manager.user_db.create({"email": "a@camelot.bt", "hashed_password": "x"})
    strategy = BrokenStrategy(user)
    backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        "broken", BearerTransport("login"), lambda: strategy
    )
    app = FastAPI()
    add_routes(app, Authenticator([backend], manager_dependency(session, password_helper)))
    async with client(app) as http:
        with pytest.raises(RuntimeError, match="a bug"):
            await http.get("/user", headers=bearer("anything"))


@pytest.mark.parametrize(
    "names",
    [
        ["jwt", "jwt"],
        ["jwt-a", "jwta"],  # the same once made parameter names
        ["x", "strategy_x"],  # "strategy_x" is also the strategy parameter of "x"
        ["user_manager"],
        ["doorkeeper_request"],
    ],
)
def test_clashing_backend_names(names: list[str]) -> None:
    with pytest.raises(DuplicateBackendNamesError):
        Authenticator(bearer_backends(names), lambda: None)


def bearer_backends(names: list[str]) -> list[AuthenticationBackend[User, uuid.UUID]]:
    return [
        AuthenticationBackend(name, BearerTransport("login"), lambda: None)  # type: ignore[arg-type,return-value]
        for name in names
    ]


def test_backend_name_without_usable_character() -> None:
    with pytest.raises(ValueError, match="no usable character"):
        Authenticator(bearer_backends(["123-!"]), lambda: None)


def test_distinct_backend_names_are_fine() -> None:
    authenticator: Authenticator[User, uuid.UUID] = Authenticator(
        bearer_backends(["jwt", "jwt-2", "Database Backend"]), lambda: None
    )
    assert [backend.name for backend in authenticator.backends] == [
        "jwt",
        "jwt-2",
        "Database Backend",
    ]


def test_openapi_lists_every_scheme(setup: Setup) -> None:
    schema = setup.app.openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"] == {
        "type": "oauth2",
        "flows": {"password": {"scopes": {}, "tokenUrl": "auth/jwt/login"}},
    }
    assert schemes["APIKeyCookie"] == {"type": "apiKey", "in": "cookie", "name": "fastapiusersauth"}
    operation = schema["paths"]["/user"]["get"]
    assert operation["security"] == [{"OAuth2PasswordBearer": []}, {"APIKeyCookie": []}]
    assert "parameters" not in operation  # nothing of the machinery leaks as a parameter


# --- the storage is down ---------------------------------------------------------------


def dead_database_urls(tmp_path: Path) -> dict[str, str]:
    return {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'missing-directory' / 'auth.db'}",
        "postgresql": "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/auth",
        "mariadb": "mysql+aiomysql://root:hunter2@127.0.0.1:1/auth",
    }


def assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.json() == {"detail": "SERVICE_UNAVAILABLE"}
    for leak in ("127.0.0.1", "hunter2", "SELECT", "Traceback", "missing-directory"):
        assert leak not in response.text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
async def test_503_when_the_database_is_gone(
    kind: str, tmp_path: Path, password_helper: PasswordHelper
) -> None:
    engine = create_async_engine(dead_database_urls(tmp_path)[kind])
    try:
        async with async_sessionmaker(engine)() as session:
            jwt_strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 60)
            db_strategy: DatabaseStrategy[User, uuid.UUID, AccessToken] = DatabaseStrategy(
                SQLAlchemyAccessTokenDatabase(session, AccessToken)
            )
            backends: Sequence[AuthenticationBackend[User, uuid.UUID]] = [
                AuthenticationBackend("jwt", BearerTransport("login"), lambda: jwt_strategy),
                AuthenticationBackend("db", CookieTransport(), lambda: db_strategy),
            ]
            app = FastAPI()
            add_routes(app, Authenticator(backends, manager_dependency(session, password_helper)))
            user = User(id=uuid.uuid4(), email="a@camelot.bt", hashed_password="x")
            token = await jwt_strategy.write_token(user)
            async with client(app) as http:
                assert_503(await http.get("/user", headers=bearer(token)))
                assert_503(await http.get("/user", headers=cookie("a-db-token")))
                # Fails closed even where anonymous access is allowed.
                assert_503(await http.get("/optional", headers=bearer(token)))
                # A request without any token never reaches the storage.
                assert_401(await http.get("/user"))
    finally:
        await engine.dispose()


async def test_503_when_redis_is_gone_unless_another_backend_accepts(
    session: AsyncSession, password_helper: PasswordHelper
) -> None:
    dead = redis_asyncio.from_url("redis://:hunter2@127.0.0.1:1/0")
    try:
        redis_strategy: RedisStrategy[User, uuid.UUID] = RedisStrategy(dead, 60)
        jwt_strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 60)
        backends: Sequence[AuthenticationBackend[User, uuid.UUID]] = [
            AuthenticationBackend("redis", BearerTransport("login"), lambda: redis_strategy),
            AuthenticationBackend("jwt", BearerTransport("login"), lambda: jwt_strategy),
        ]
        app = FastAPI()
        add_routes(app, Authenticator(backends, manager_dependency(session, password_helper)))
        manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
        user = await manager.user_db.create({"email": "a@camelot.bt", "hashed_password": "x"})
        async with client(app) as http:
            assert_503(await http.get("/user", headers=bearer("a-redis-token")))
            token = await jwt_strategy.write_token(user)
            response = await http.get("/user", headers=bearer(token))
            assert response.json() == {"id": str(user.id)}
    finally:
        await dead.aclose()
