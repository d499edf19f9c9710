"""Property-based fuzzing of the whole HTTP API with schemathesis (every check).

Two apps are fuzzed through their own OpenAPI document, in process (ASGI):

* the ready-made server (`doorkeeper.server.create_app`), with a social sign-in provider
  (the GitHub stand-in) so that the batteries' OAuth routes are in it too;
* an app of the building blocks that mounts every router the library has: bearer (JWT
  with sessions and refresh tokens) and cookie (database tokens) sign-in, register,
  verify, reset, users (with confirmed e-mail changes), sessions, the admin users and
  roles routers, and OAuth sign-in, association and linked accounts with the local
  OpenID Connect provider.

Each is fuzzed anonymously, as a normal user (bearer header) and as a superuser (the
cookie, with its CSRF token as a browser page sends it), on SQLite; the PostgreSQL +
Redis variant runs the server with Redis-held tokens and sessions and the full app on
PostgreSQL.

Every case runs with a fresh credential: a route the fuzzer cannot reach (hidden from
the schema) restores the fixture account (active, verified, the right superuser flag)
and signs it in, so that a case that deleted the account, signed it out or changed its
password does not leave the following cases anonymous.

The run is bounded and deterministic (`derandomize`, a few examples per operation, no
deadline). `DOORKEEPER_TEST_FUZZ_EXAMPLES=200` makes it a long run (docs/development.md).
"""

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import Depends, FastAPI, Response
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi as schemathesis_asgi

from doorkeeper import BaseUserManager, DoorkeeperSettings, FastAPIUsers, UUIDIDMixin, schemas
from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    CSRFProtection,
    JWTStrategy,
)
from doorkeeper.authentication.sessions import SessionService
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.email import MemoryEmailSender
from doorkeeper.oauth import OpenIDConnectClient, github
from doorkeeper.server import create_app
from doorkeeper.singleuse import MemorySingleUseStore
from tests.conftest import cheap_password_helper, create_database, drop_database
from tests.github_standin import GitHubStandIn, github_standin_fixture, shared_standin  # noqa: F401
from tests.oidc_provider import OIDCProvider, oidc_provider_fixture, shared_provider  # noqa: F401
from tests.services import REDIS_URL, service_missing
from tests.test_doorkeeper import SECRET, clean_environment  # noqa: F401

REPORT = os.environ.get("DOORKEEPER_TEST_FUZZ_REPORT")
"""A file that collects each failure as a JSON line (for the long run)."""
EXAMPLES = int(os.environ.get("DOORKEEPER_TEST_FUZZ_EXAMPLES", "2"))
"""Hypothesis examples per operation (besides schemathesis' coverage cases)."""
COVERAGE = os.environ.get("DOORKEEPER_TEST_FUZZ_COVERAGE", "") not in ("", "0", "false")
"""Also send schemathesis' coverage cases (on in the long run)."""

PASSWORD = "correct-horse-battery-staple-42"
STATE_SECRET = "an-oauth-state-secret-for-the-fuzzer-0123456789abcdef"
FUZZ_PATH = "/__fuzz__/credentials/{who}"
WHO = ["anonymous", "user", "superuser"]
BASE_URL = "http://testserver"

load_all_checks()
EXCLUDED_CHECKS = {
    # Needs two identities' objects and the links between operations (stateful phase);
    # one fixture account per run has nothing to compare.
    "object_level_authorization",
    # Starlette answers 405 with the `Allow` of the first route matching the path, and
    # FastAPI registers one route per method: `Allow: GET` for a path that also has
    # PATCH. That is the app's routing (every FastAPI app), not the library's routers.
    "allow_header_conformance",
    # Expects 2xx for every schema-valid body, but FastAPI Users' API refuses with a 400
    # and a stable ErrorCode what no JSON Schema states (a bad or expired token, the
    # password policy, the current password, an OAuth state or code); FastAPI's
    # `OAuth2PasswordRequestForm` treats an empty form field as missing (422); pydantic's
    # `EmailStr` refuses addresses that JSON Schema's `format: email` allows (special-use
    # domains such as `.test`); and the admin list's `after` cursor is a user id whose
    # type (UUID or integer) the router does not know.
    "positive_data_acceptance",
}
CHECKS_RUN = [
    check
    for name, check in zip(CHECKS.get_all_names(), CHECKS.get_all(), strict=True)
    if name not in EXCLUDED_CHECKS
]


# --- the apps ------------------------------------------------------------------------


@dataclass
class Target:
    """An app under fuzzing and who the fuzzer is."""

    app: FastAPI
    who: str
    cookie_name: str = ""
    csrf_cookie_name: str | None = None
    csrf_header_name: str | None = None
    seen_statuses: dict[str, set[int]] = field(default_factory=dict)

    def credentials(self) -> dict[str, str]:
        """The headers of a fresh sign-in of the fixture account (its cookies in a
        `Cookie` header)."""
        if self.who == "anonymous":
            return {}
        transport = "cookie" if self.who == "superuser" else "bearer"
        with schemathesis_asgi.get_client(self.app) as client:
            response = client.post(FUZZ_PATH.format(who=self.who), params={"via": transport})
        assert response.status_code in (200, 204), response.text
        if transport == "bearer":
            return {"Authorization": f"Bearer {response.json()['access_token']}"}
        jar = SimpleCookie()
        for header in response.raw.headers.getlist("set-cookie"):
            jar.load(header)
        cookies = {self.cookie_name: jar[self.cookie_name].value}
        headers: dict[str, str] = {}
        if self.csrf_cookie_name is not None and self.csrf_header_name is not None:
            token = jar[self.csrf_cookie_name].value
            cookies[self.csrf_cookie_name] = token
            headers[self.csrf_header_name] = token
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return headers


def add_credentials_route(
    app: FastAPI,
    get_user_manager: Callable[..., Any],
    backends: dict[str, AuthenticationBackend[Any, Any]],
) -> None:
    """The route (left out of the schema) that restores the fixture account `who` and
    signs it in through the backend named `via`."""
    bearer, cookie = backends["bearer"], backends["cookie"]

    async def credentials(
        who: str,
        via: str,
        manager: BaseUserManager[Any, Any] = Depends(get_user_manager),
        bearer_strategy: Any = Depends(bearer.get_strategy),
        cookie_strategy: Any = Depends(cookie.get_strategy),
    ) -> Response:
        email = f"fuzz-{who}@example.com"
        values = {
            "email": email,
            "hashed_password": manager.password_helper.hash(PASSWORD),
            "is_active": True,
            "is_verified": True,
            "is_superuser": who == "superuser",
        }
        user = await manager.user_db.get_by_email(email)
        if user is None:
            user = await manager.user_db.create(values)
        else:
            user = await manager.user_db.update(user, values)
        if via == "cookie":
            return await cookie.login(cookie_strategy, user)
        return await bearer.login(bearer_strategy, user)

    app.add_api_route(FUZZ_PATH, credentials, methods=["POST"], include_in_schema=False)


def server_app(
    database_url: str, who: str, oauth_client: Any, redis_url: str | None = None
) -> Target:
    settings = DoorkeeperSettings(
        database_url=database_url,
        secret=SECRET,
        redis_url=redis_url,
        public_url="http://testserver",
    )
    app = create_app(
        settings,
        email_sender=MemoryEmailSender(),
        password_helper=cheap_password_helper(),
        oauth_providers=[oauth_client],
    )
    auth = app.state.doorkeeper
    add_credentials_route(
        app, auth.get_user_manager, {"bearer": auth.bearer_backend, "cookie": auth.cookie_backend}
    )
    csrf = auth.cookie_backend.transport.csrf
    return Target(
        app=app,
        who=who,
        cookie_name=auth.settings.cookie_name,
        csrf_cookie_name=csrf.cookie_name,
        csrf_header_name=csrf.header_name,
    )


class FullUserRead(schemas.BaseUser[Any]):
    pass


class FullUserManager(UUIDIDMixin, BaseUserManager[Any, Any]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


def full_app(database_url: str, who: str, client: Any) -> Target:
    adapter = SQLAlchemyAdapter(database_url)

    async def get_user_manager(user_db: Any = Depends(adapter.get_user_db)) -> Any:
        yield FullUserManager(user_db, cheap_password_helper())

    sessions = SessionService(adapter.login_sessions)
    jwt_strategy = JWTStrategy[Any, Any](SECRET, 3600, sessions=sessions)

    async def get_jwt_strategy() -> JWTStrategy[Any, Any]:
        return jwt_strategy

    async def get_database_strategy(
        access_token_db: Any = Depends(adapter.get_access_token_db),
    ) -> DatabaseStrategy[Any, Any, Any]:
        return DatabaseStrategy(access_token_db, 3600)

    csrf = CSRFProtection(SECRET, cookie_secure=False)
    bearer = AuthenticationBackend[Any, Any](
        name="jwt",
        transport=BearerTransport(tokenUrl="auth/jwt/login"),
        get_strategy=get_jwt_strategy,
        sessions=sessions,
    )
    cookie = AuthenticationBackend[Any, Any](
        name="cookie",
        transport=CookieTransport(cookie_max_age=3600, cookie_secure=False, csrf=csrf),
        get_strategy=get_database_strategy,
    )
    users = FastAPIUsers[Any, Any](get_user_manager, [bearer, cookie], role_store=adapter.role)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await adapter.create_tables()
        try:
            yield
        finally:
            await adapter.dispose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(users.get_auth_router(bearer, refresh=True), prefix="/auth/jwt")
    app.include_router(users.get_auth_router(cookie), prefix="/auth/cookie")
    app.include_router(
        users.get_register_router(FullUserRead, schemas.BaseUserCreate), prefix="/auth"
    )
    app.include_router(users.get_verify_router(FullUserRead), prefix="/auth")
    app.include_router(users.get_reset_password_router(), prefix="/auth")
    app.include_router(users.get_sessions_router(), prefix="/users")
    app.include_router(
        users.get_users_router(FullUserRead, schemas.BaseUserUpdate, email_change=True),
        prefix="/users",
    )
    app.include_router(
        users.get_admin_users_router(FullUserRead, schemas.BaseUserCreate), prefix="/admin/users"
    )
    app.include_router(users.get_admin_roles_router(), prefix="/admin/roles")
    store = MemorySingleUseStore()
    app.include_router(
        users.get_oauth_router(client, bearer, STATE_SECRET, state_store=store, refresh=True),
        prefix="/auth/oidc",
    )
    app.include_router(
        users.get_oauth_associate_router(client, FullUserRead, STATE_SECRET, state_store=store),
        prefix="/auth/oidc/associate",
    )
    app.include_router(users.get_oauth_accounts_router(), prefix="/users")
    add_credentials_route(app, get_user_manager, {"bearer": bearer, "cookie": cookie})
    return Target(
        app=app,
        who=who,
        cookie_name=cookie.transport.cookie_name,  # type: ignore[attr-defined]
        csrf_cookie_name=csrf.cookie_name,
        csrf_header_name=csrf.header_name,
    )


# --- the fuzzing ---------------------------------------------------------------------


class Targets:
    """The apps under fuzzing, one per (app, who, storage), each on a database of its
    own, made on first use and kept for the module (every operation reuses them)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.made: dict[tuple[str, str, str], Target] = {}
        self.databases: list[str] = []

    def get(self, app_kind: str, who: str, storage: str) -> Target:
        key = (app_kind, who, storage)
        if key not in self.made:
            self.made[key] = self._make(app_kind, who, storage)
        return self.made[key]

    def _make(self, app_kind: str, who: str, storage: str) -> Target:
        kind = "sqlite" if storage == "sqlite" else "postgresql"
        database_url = asyncio.run(create_database(kind, self.tmp_path))
        if kind != "sqlite":
            self.databases.append(database_url)
        if app_kind == "server":
            redis_url = None
            if storage == "postgresql+redis":
                check_redis()
                redis_url = REDIS_URL
            return server_app(database_url, who, shared_standin().client(), redis_url)
        return full_app(database_url, who, shared_provider().client(name="oidc"))

    def close(self) -> None:
        schemathesis_asgi.shutdown_lifespans()
        for url in self.databases:
            asyncio.run(drop_database(url))


def check_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        service_missing("Redis", error)
    finally:
        client.close()


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    made = Targets(tmp_path_factory.mktemp("fuzz"))
    yield made
    made.close()


def fuzz(case: Any, target: Target) -> None:
    """Send the case with a fresh credential of the target's fixture account (given as
    explicit headers, so that `ignored_auth` probes the route without and with a wrong
    one) and run every check on the answer."""
    # The schema was read once, from an app with the same routes: the case (and the
    # checks' probes, which re-send it) go to this target's app.
    case.operation.app = case.operation.schema.app = target.app
    headers = target.credentials() or None
    response = case.call(base_url=BASE_URL, headers=headers)
    try:
        case.validate_response(
            response,
            checks=CHECKS_RUN,
            headers=headers,
            transport_kwargs={"base_url": BASE_URL, "headers": headers},
        )
    except FailureGroup as group:
        if REPORT is not None:
            record(REPORT, case, target, group, response)
        raise


def record(path: str, case: Any, target: Target, group: FailureGroup, response: Any) -> None:
    """One JSON line per failure, for the long run's summary."""
    with open(path, "a", encoding="utf-8") as report:
        for failure in group.exceptions:
            line = {
                "operation": case.operation.label,
                "who": target.who,
                "failure": failure.title,
                "message": str(failure.message)[:300],
                "status": response.status_code,
                "body": response.text[:300],
            }
            report.write(json.dumps(line) + "\n")


def schema_of(app: FastAPI) -> Any:
    """The schemathesis schema of the app's OpenAPI document (read without starting the
    app: the apps under test are built per storage, with the same routes)."""
    return schemathesis.openapi.from_dict(app.openapi())


_SCHEMA_DIR = Path(tempfile.mkdtemp(prefix="doorkeeper-fuzz-schema-"))
SERVER_SCHEMA = schema_of(
    server_app(
        f"sqlite+aiosqlite:///{_SCHEMA_DIR / 'unused.db'}", "anonymous", github("x", "y")
    ).app
)
FULL_SCHEMA = schema_of(
    full_app(
        f"sqlite+aiosqlite:///{_SCHEMA_DIR / 'unused.db'}",
        "anonymous",
        OpenIDConnectClient("x", "y", "https://issuer.invalid", name="oidc"),
    ).app
)

FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    # schemathesis' coverage cases (boundary and negative values of every parameter, tens
    # per operation) are Hypothesis' explicit examples: the long run adds them.
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate]
    if COVERAGE
    else [hypothesis.Phase.generate],
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture(autouse=True)
def providers(github_standin: GitHubStandIn, oidc_provider: OIDCProvider) -> None:
    """The stand-in providers, reset for each test."""


@SERVER_SCHEMA.parametrize()
@pytest.mark.parametrize("who", WHO)
@FUZZ_SETTINGS
def test_server(case: Any, who: str, targets: Targets) -> None:
    fuzz(case, targets.get("server", who, "sqlite"))


@FULL_SCHEMA.parametrize()
@pytest.mark.parametrize("who", WHO)
@FUZZ_SETTINGS
def test_full_app(case: Any, who: str, targets: Targets) -> None:
    fuzz(case, targets.get("full", who, "sqlite"))


@SERVER_SCHEMA.parametrize()
@pytest.mark.parametrize("who", ["superuser"])
@FUZZ_SETTINGS
def test_server_postgresql_redis(case: Any, who: str, targets: Targets) -> None:
    fuzz(case, targets.get("server", who, "postgresql+redis"))


@FULL_SCHEMA.parametrize()
@pytest.mark.parametrize("who", ["user"])
@FUZZ_SETTINGS
def test_full_app_postgresql(case: Any, who: str, targets: Targets) -> None:
    fuzz(case, targets.get("full", who, "postgresql"))


# --- what the fuzzer found, pinned -----------------------------------------------------


def responses_of(app: FastAPI, path: str, method: str) -> set[str]:
    return set(app.openapi()["paths"][path][method]["responses"])


def test_the_schemas_declare_the_answers_the_routes_give() -> None:
    server = server_app(
        f"sqlite+aiosqlite:///{_SCHEMA_DIR / 'unused.db'}", "user", github("x", "y")
    )
    app = server.app
    assert {"401"} <= responses_of(app, "/users/me/sessions", "delete")
    assert {"401", "404"} <= responses_of(app, "/users/me/sessions/{session_id}", "delete")
    for method in ("get", "delete"):
        assert {"401", "403", "404"} <= responses_of(app, "/users/{id}/sessions", method)
    assert "204" in responses_of(app, "/auth/bearer/logout", "post")
    assert "403" in responses_of(app, "/auth/cookie/refresh", "post")  # its CSRF check
    assert "400" in responses_of(app, "/auth/github/bearer/authorize", "get")
    assert {"400", "401"} <= responses_of(app, "/auth/github/associate/authorize", "get")
    assert "401" in responses_of(app, "/auth/github/associate/callback", "get")
    assert "400" in responses_of(app, "/admin/users", "post")
    assert "400" in responses_of(app, "/admin/users/{id}/password", "put")
    schemas_ = app.openapi()["components"]["schemas"]
    role = next(s for name, s in schemas_.items() if name.startswith("RoleCreate"))
    assert role["properties"]["name"]["pattern"].startswith("^[A-Za-z0-9]")
    assert "pattern" in role["properties"]["permissions"]["items"]


async def test_a_null_in_an_update_changes_nothing(database_url: str) -> None:
    settings = DoorkeeperSettings(database_url=database_url, secret=SECRET)
    app = create_app(
        settings, email_sender=MemoryEmailSender(), password_helper=cheap_password_helper()
    )
    auth = app.state.doorkeeper
    async with auth.lifespan(app):
        manager = auth.create_user_manager(auth.adapter.user)
        admin = await manager.create(
            schemas.BaseUserCreate(email="admin@example.com", password=PASSWORD, is_superuser=True),
            safe=False,
        )
        other = await manager.create(
            schemas.BaseUserCreate(email="other@example.com", password=PASSWORD), safe=False
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            login = await client.post(
                "/auth/bearer/login", data={"username": admin.email, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            me = await client.patch("/users/me", json={"email": None}, headers=headers)
            assert (me.status_code, me.json()["email"]) == (200, admin.email)
            nulls = {"email": None, "is_active": None, "is_verified": None, "is_superuser": None}
            patched = await client.patch(f"/users/{other.id}", json=nulls, headers=headers)
            assert patched.status_code == 200, patched.text
            body = patched.json()
            assert (body["email"], body["is_active"], body["is_superuser"]) == (
                other.email,
                True,
                False,
            )
