"""The `Doorkeeper` object over HTTP: DESIGN.md's five-line example on the three
databases, the mails and their links, the strategies, and the settings it applies."""

import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI

from doorkeeper import Doorkeeper, DoorkeeperSettings, SQLAlchemyAdapter, schemas
from doorkeeper.adapter.models import User
from doorkeeper.email import ConsoleEmailSender, EmailMessage, MemoryEmailSender
from doorkeeper.settings import ENV_PREFIX, RESERVED_ENV_PREFIX, ConfigurationError
from tests.conftest import cheap_password_helper

SECRET = "a-doorkeeper-test-secret-of-more-than-32-bytes-0123456789"
PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-long-passphrase-for-tests-77"
LOCAL_URL = "http://localhost:8000"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DOORKEEPER_* setting nor `.env` of the machine leaks into a test."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and not upper.startswith(RESERVED_ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def make_auth(database_url: str, **options: Any) -> tuple[Doorkeeper, MemoryEmailSender]:
    sender = MemoryEmailSender()
    options.setdefault("password_helper", cheap_password_helper())
    auth = Doorkeeper(database_url=database_url, secret=SECRET, email_sender=sender, **options)
    return auth, sender


def design_example(auth: Doorkeeper) -> FastAPI:
    """DESIGN.md's example, line for line."""
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)  # /auth/..., /users/...

    @app.get("/hello")
    async def hello(user: User = Depends(auth.current_user(active=True))) -> dict[str, str]:
        return {"hello": user.email}

    return app


@asynccontextmanager
async def serving(app: FastAPI, auth: Doorkeeper) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client for it."""
    async with auth.lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def mails_to(sender: MemoryEmailSender, address: str) -> list[EmailMessage]:
    return [message for message in sender.outbox if message.to == address]


def link_token(message: EmailMessage, link: str) -> str:
    """The token of the link in `message`, checked to start with `link` (in the text
    and the HTML bodies)."""
    (url,) = re.findall(r"https?://\S*token=\S+", message.text)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == link
    assert message.html is not None and f'href="{url}"' in message.html
    return parse_qs(parts.query)["token"][0]


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post(
        "/auth/bearer/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_user(auth: Doorkeeper, email: str, **flags: bool) -> User:
    flags.setdefault("is_verified", True)
    manager = auth.create_user_manager(auth.adapter.user)
    return await manager.create(schemas.BaseUserCreate(email=email, password=PASSWORD, **flags))


async def test_design_example_end_to_end(database_url: str) -> None:
    auth, sender = make_auth(database_url)
    app = design_example(auth)
    email = "arthur@camelot.example"
    async with serving(app, auth) as client:
        response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 202
        assert response.json() == {"detail": "CHECK_YOUR_MAILBOX"}

        (mail,) = mails_to(sender, email)
        token = link_token(mail, f"{LOCAL_URL}/verify")
        response = await client.post("/auth/verify", json={"token": token})
        assert response.status_code == 200, response.text
        assert response.json()["is_verified"] is True
        response = await client.post("/auth/verify", json={"token": token})
        assert response.json() == {"detail": "VERIFY_USER_ALREADY_VERIFIED"}

        assert (await client.get("/hello")).status_code == 401
        access = await login(client, email)
        response = await client.get("/hello", headers=bearer(access))
        assert response.json() == {"hello": email}
        me = (await client.get("/users/me", headers=bearer(access))).json()
        assert me["email"] == email and me["is_superuser"] is False
        assert set(me) == {"id", "email", "is_active", "is_superuser", "is_verified"}

        # A cookie login needs the CSRF token (SECURITY 30), from GET /auth/cookie/csrf.
        csrf = (await client.get("/auth/cookie/csrf")).json()["csrf_token"]
        response = await client.post(
            "/auth/cookie/login",
            data={"username": email, "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        assert response.status_code == 204
        cookies = response.headers.get_list("set-cookie")
        cookie = next(c for c in cookies if c.startswith("doorkeeper_auth="))
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        assert "secure" not in cookie.lower()  # the public URL is http://localhost
        assert (await client.get("/hello")).json() == {"hello": email}

        response = await client.post("/auth/bearer/logout", headers=bearer(access))
        assert response.status_code == 204
        client.cookies.clear()
        assert (await client.get("/hello", headers=bearer(access))).status_code == 401


async def test_the_router_has_every_route() -> None:
    auth, _ = make_auth("sqlite+aiosqlite:///./auth.db")
    paths = design_example(auth).openapi()["paths"]
    assert set(paths) == {
        "/auth/bearer/login",
        "/auth/bearer/logout",
        "/auth/cookie/login",
        "/auth/cookie/logout",
        "/auth/register",
        "/auth/forgot-password",
        "/auth/reset-password",
        "/auth/request-verify-token",
        "/auth/verify",
        "/users/me",
        "/users/confirm-email",
        "/users/me/sessions",
        "/users/me/sessions/{session_id}",
        "/users/{id}/sessions",
        "/users/{id}/sessions/{session_id}",
        "/auth/bearer/refresh",
        "/auth/cookie/refresh",
        "/auth/cookie/csrf",
        "/users/{id}",
        "/admin/users",
        "/admin/users/{id}",
        "/admin/users/{id}/password",
        "/admin/users/{id}/activate",
        "/admin/users/{id}/deactivate",
        "/admin/users/{id}/sessions",
        "/admin/users/{id}/roles/{role}",
        "/admin/roles",
        "/admin/roles/{name}",
        "/hello",
    }
    assert set(paths["/users/{id}"]) == {"get", "patch", "delete"}
    assert [backend.name for backend in auth.fastapi_users.authenticator.backends] == [
        "bearer",
        "cookie",
    ]


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_taken_address_gets_the_same_answer_and_its_owner_a_notice(
    database_url: str,
) -> None:
    auth, sender = make_auth(database_url)
    app = design_example(auth)
    async with serving(app, auth) as client:
        first = await client.post(
            "/auth/register", json={"email": "owner@example.com", "password": PASSWORD}
        )
        second = await client.post(
            "/auth/register",
            json={"email": "OWNER@Example.com", "password": NEW_PASSWORD, "is_superuser": True},
        )
        await login(client, "owner@example.com", PASSWORD)  # the password did not change
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    assert second.status_code == 202
    assert set(first.headers) == set(second.headers)
    assert await auth.adapter.user.count() == 1
    owner = await auth.adapter.user.get_by_email("owner@example.com")
    assert owner is not None and owner.is_superuser is False
    verify, notice = mails_to(sender, "owner@example.com")
    assert "token=" in verify.text
    assert "already has an account" in notice.text
    assert "token=" not in notice.text
    assert f"{LOCAL_URL}/forgot-password" in notice.text


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_refused_password_is_still_400(database_url: str) -> None:
    auth, sender = make_auth(database_url)
    async with serving(design_example(auth), auth) as client:
        response = await client.post(
            "/auth/register", json={"email": "carol@example.com", "password": "password"}
        )
        assert response.status_code == 400
        assert response.json()["detail"]["code"] == "REGISTER_INVALID_PASSWORD"
        await create_user(auth, "dave@example.com")
        response = await client.post(
            "/auth/register", json={"email": "dave@example.com", "password": "short"}
        )
        assert response.status_code == 400  # the same for a taken address
    assert await auth.adapter.user.count() == 1
    assert sender.outbox == []


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_compatible_registration_when_enumeration_safety_is_off(database_url: str) -> None:
    settings = DoorkeeperSettings(
        database_url=database_url, secret=SECRET, enumeration_safe_registration=False
    )
    auth, sender = make_auth(database_url, settings=settings)
    async with serving(design_example(auth), auth) as client:
        body = {"email": "erin@example.com", "password": PASSWORD}
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 201
        assert response.json()["email"] == "erin@example.com"
        response = await client.post("/auth/register", json=body)
        assert response.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}
    (mail,) = sender.outbox
    link_token(mail, f"{LOCAL_URL}/verify")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_reset_and_verify_mails_and_their_links(database_url: str) -> None:
    auth, sender = make_auth(database_url)
    await auth.startup()
    await create_user(auth, "frank@example.com", is_verified=False)
    await create_user(auth, "grace@example.com", is_verified=True)
    async with serving(design_example(auth), auth) as client:
        # Users made outside a request are verified by the verify mail like the others.
        (verify_mail,) = mails_to(sender, "frank@example.com")
        for address in ("frank@example.com", "grace@example.com", "nobody@example.com"):
            response = await client.post("/auth/request-verify-token", json={"email": address})
            assert response.status_code == 202
        assert len(mails_to(sender, "frank@example.com")) == 2
        assert mails_to(sender, "grace@example.com") == []  # verified already
        token = link_token(mails_to(sender, "frank@example.com")[-1], f"{LOCAL_URL}/verify")
        assert (await client.post("/auth/verify", json={"token": token})).status_code == 200

        response = await client.post("/auth/forgot-password", json={"email": "grace@example.com"})
        assert response.status_code == 202
        (reset_mail,) = mails_to(sender, "grace@example.com")
        token = link_token(reset_mail, f"{LOCAL_URL}/reset-password")
        response = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert response.status_code == 200, response.text
        await login(client, "grace@example.com", NEW_PASSWORD)
    assert verify_mail.subject.startswith("Verify")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_hooks_passed_as_callables_sync_or_async(database_url: str) -> None:
    events: list[tuple[str, str]] = []

    def sync_hook(name: str) -> Any:
        def hook(user: User, *args: Any) -> None:
            events.append((name, user.email))

        return hook

    def async_hook(name: str) -> Any:
        async def hook(user: User, *args: Any) -> None:
            events.append((name, user.email))

        return hook

    from doorkeeper.batteries.hooks import HOOK_NAMES

    hooks = {
        name: (async_hook if index % 2 else sync_hook)(name)
        for index, name in enumerate(HOOK_NAMES)
    }
    auth, sender = make_auth(database_url, **hooks)
    assert set(auth.hooks) == set(HOOK_NAMES)
    await auth.startup()
    admin = await create_user(auth, "admin@example.com", is_superuser=True, is_verified=True)
    async with serving(design_example(auth), auth) as client:
        body = {"email": "heidi@example.com", "password": PASSWORD}
        await client.post("/auth/register", json=body)
        await client.post("/auth/register", json=body)
        (verify_mail, _) = mails_to(sender, "heidi@example.com")
        await client.post(
            "/auth/verify", json={"token": link_token(verify_mail, f"{LOCAL_URL}/verify")}
        )
        await client.post("/auth/forgot-password", json={"email": "heidi@example.com"})
        reset_mail = mails_to(sender, "heidi@example.com")[-1]
        token = link_token(reset_mail, f"{LOCAL_URL}/reset-password")
        await client.post("/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})
        access = await login(client, "heidi@example.com", NEW_PASSWORD)
        await client.patch("/users/me", headers=bearer(access), json={})
        heidi = (await client.get("/users/me", headers=bearer(access))).json()
        admin_access = await login(client, "admin@example.com")
        response = await client.delete(f"/users/{heidi['id']}", headers=bearer(admin_access))
        assert response.status_code == 204
    heidi_events = [name for name, email in events if email == "heidi@example.com"]
    assert heidi_events == [
        "on_after_request_verify",
        "on_after_register",
        "on_after_register_existing",
        "on_after_verify",
        "on_after_forgot_password",
        "on_after_reset_password",
        "on_after_login",
        "on_after_update",
        "on_before_delete",
        "on_after_delete",
    ]
    assert ("on_after_register", admin.email) in events


class RecordingDoorkeeper(Doorkeeper):
    """Hooks overridden by subclassing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.registered: list[str] = []
        super().__init__(*args, **kwargs)

    async def on_after_register(self, user: User, request: Any = None) -> None:
        self.registered.append(user.email)
        await super().on_after_register(user, request)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_subclass_overrides_and_a_manager_class_of_ones_own(database_url: str) -> None:
    from doorkeeper.batteries.manager import DoorkeeperUserManager
    from doorkeeper.exceptions import InvalidPasswordException

    class StrictManager(DoorkeeperUserManager):
        verification_token_lifetime_seconds = 600

        async def validate_password(self, password: str, user: Any) -> None:
            if "doorkeeper" in password:
                raise InvalidPasswordException(reason="NO_PRODUCT_NAMES")
            await super().validate_password(password, user)

    sender = MemoryEmailSender()
    auth = RecordingDoorkeeper(
        database_url,
        SECRET,
        user_manager_class=StrictManager,
        email_sender=sender,
        password_helper=cheap_password_helper(),
    )
    manager = auth.create_user_manager(auth.adapter.user)
    assert isinstance(manager, StrictManager)
    assert manager.verification_token_lifetime_seconds == 600  # the subclass's own
    assert manager.reset_password_token_lifetime_seconds == 3600  # from the settings
    assert manager.verification_token_secret == auth.settings.verification_token_secret
    async with serving(design_example(auth), auth) as client:
        response = await client.post(
            "/auth/register", json={"email": "ivan@example.com", "password": "my-doorkeeper-pw"}
        )
        assert response.json()["detail"] == {
            "code": "REGISTER_INVALID_PASSWORD",
            "reason": "NO_PRODUCT_NAMES",
        }
        body = {"email": "ivan@example.com", "password": PASSWORD}
        await client.post("/auth/register", json=body)
    assert auth.registered == ["ivan@example.com"]
    assert len(sender.outbox) == 1


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_current_user_options(database_url: str) -> None:
    auth, _ = make_auth(database_url)
    app = design_example(auth)

    @app.get("/admin")
    async def admin(user: User = Depends(auth.current_user(superuser=True))) -> str:
        return user.email

    @app.get("/maybe")
    async def maybe(user: User | None = Depends(auth.current_user(optional=True))) -> str | None:
        return None if user is None else user.email

    @app.get("/verified")
    async def verified(user: User = Depends(auth.current_user(verified=True))) -> str:
        return user.email

    async with serving(app, auth) as client:
        await create_user(auth, "judy@example.com", is_verified=False)
        access = await login(client, "judy@example.com")
        assert (await client.get("/maybe")).json() is None
        assert (await client.get("/maybe", headers=bearer(access))).json() == "judy@example.com"
        assert (await client.get("/admin", headers=bearer(access))).status_code == 403
        assert (await client.get("/verified", headers=bearer(access))).status_code == 403


@pytest.mark.parametrize("strategy", ["jwt", "redis"])
@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_jwt_and_redis_strategies(database_url: str, strategy: str, redis: Any) -> None:
    from tests.services import REDIS_URL

    class PrefixedDoorkeeper(Doorkeeper):
        redis_key_prefix = redis.test_prefix

    settings = DoorkeeperSettings(secret=SECRET, strategy=strategy, redis_url=REDIS_URL)
    auth = PrefixedDoorkeeper(
        database_url,
        settings=settings,
        email_sender=MemoryEmailSender(),
        password_helper=cheap_password_helper(),
    )
    assert auth.settings.auth_strategy == strategy
    async with serving(design_example(auth), auth) as client:
        await create_user(auth, "ken@example.com")
        access = await login(client, "ken@example.com")
        assert (await client.get("/hello", headers=bearer(access))).status_code == 200
        keys = [key async for key in redis.scan_iter(match=redis.test_prefix + "*")]
        assert len(keys) == (1 if strategy == "redis" else 0)
        assert (access.count(".") == 2) is (strategy == "jwt")
        response = await client.post("/auth/bearer/logout", headers=bearer(access))
        assert response.status_code == 204
        assert (await client.get("/hello", headers=bearer(access))).status_code == 401


async def test_redis_url_alone_means_the_redis_strategy() -> None:
    auth = Doorkeeper("sqlite+aiosqlite:///./auth.db", SECRET, "redis://127.0.0.1:6379/0")
    assert auth.settings.auth_strategy == "redis"
    assert auth.redis is not None
    await auth.shutdown()


def test_settings_and_arguments_together() -> None:
    settings = DoorkeeperSettings(secret=SECRET, public_url="https://auth.example.com/")
    auth = Doorkeeper(database_url="sqlite+aiosqlite:///./other.db", settings=settings)
    assert auth.settings.database_url == "sqlite+aiosqlite:///./other.db"
    assert auth.settings.public_url == "https://auth.example.com"
    assert auth.cookie_backend.transport.cookie_secure is True  # type: ignore[attr-defined]
    assert auth.mailer.link("verify", "t") == "https://auth.example.com/verify?token=t"
    assert isinstance(auth.mailer.sender, ConsoleEmailSender)
    other = Doorkeeper(settings=auth.settings, secret=SECRET + "-2")
    assert other.settings.secure_cookies is True
    assert other.settings.verification_token_secret != auth.settings.verification_token_secret
    assert Doorkeeper(settings=DoorkeeperSettings(secret=SECRET)).settings.secure_cookies is False


def test_smtp_settings_make_an_smtp_sender() -> None:
    from doorkeeper.email import SMTPEmailSender

    settings = DoorkeeperSettings(
        secret=SECRET,
        smtp_host="smtp.example.com",
        smtp_username="mailer",
        smtp_password="hunter2-hunter2",
        email_from="Accounts <accounts@example.com>",
        smtp_security="tls",
    )
    sender = Doorkeeper(settings=settings).mailer.sender
    assert isinstance(sender, SMTPEmailSender)
    assert (sender.host, sender.port, sender.security) == ("smtp.example.com", 465, "tls")
    assert "hunter2" not in repr(sender)
    broken = settings.model_copy(update={"smtp_password": None})
    with pytest.raises(ConfigurationError, match=r"^DOORKEEPER_SMTP_\*: give both"):
        Doorkeeper(settings=broken)


def test_templates_directory(tmp_path: Path) -> None:
    (tmp_path / "verify.subject.txt").write_text("Welcome to {{ app_name }}")
    settings = DoorkeeperSettings(secret=SECRET, email_templates_dir=tmp_path, app_name="Camelot")
    rendered = Doorkeeper(settings=settings).mailer.templates.render(
        "verify", email="a@example.com", link="https://x", public_url="https://x"
    )
    assert rendered.subject == "Welcome to Camelot"
    missing = settings.model_copy(update={"email_templates_dir": tmp_path / "nope"})
    with pytest.raises(ConfigurationError, match=r"^DOORKEEPER_EMAIL_TEMPLATES_DIR: "):
        Doorkeeper(settings=missing)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"secret": None}, "DOORKEEPER_SECRET is not set: generate one with `doorkeeper secret"),
        ({"secret": "short"}, "DOORKEEPER_SECRET is 5 bytes long, it needs at least 32"),
        ({"database_url": "not a url"}, "DOORKEEPER_DATABASE_URL: The database URL"),
        ({"database_url": "oracle+nope://x/y"}, "DOORKEEPER_DATABASE_URL: The database URL"),
        ({"database_url": "sqlite:///./sync.db"}, "synchronous driver"),
    ],
)
def test_unusable_arguments_are_one_readable_line(arguments: dict[str, Any], message: str) -> None:
    arguments = {"database_url": "sqlite+aiosqlite:///./a.db", "secret": SECRET, **arguments}
    with pytest.raises(ConfigurationError) as caught:
        Doorkeeper(**arguments)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_redis_strategy_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'doorkeeper\[redis\]'"):
        Doorkeeper("sqlite+aiosqlite:///./a.db", SECRET, "redis://localhost:6379/0")


def test_a_bad_redis_url() -> None:
    with pytest.raises(ConfigurationError, match=r"^DOORKEEPER_REDIS_URL: "):
        Doorkeeper("sqlite+aiosqlite:///./a.db", SECRET, "http://not-redis")


async def test_an_adapter_of_ones_own_keeps_its_engine(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'own.db'}")
    auth = Doorkeeper(secret=SECRET, adapter=SQLAlchemyAdapter(engine=engine))
    async with auth.lifespan():
        await create_user(auth, "leo@example.com")
    async with engine.connect() as connection:  # not disposed by the lifespan
        assert (await connection.execute(text('SELECT count(*) FROM "user"'))).scalar() == 1
    await engine.dispose()


def test_user_id_type_is_uuid() -> None:
    auth = Doorkeeper("sqlite+aiosqlite:///./a.db", SECRET)
    manager = auth.create_user_manager(auth.adapter.user)
    value = uuid.uuid4()
    assert manager.parse_id(str(value)) == value


def test_the_readme_example_runs() -> None:
    from types import SimpleNamespace

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    (example,) = [block for block in blocks if "Doorkeeper(" in block]
    namespace: dict[str, Any] = {"settings": SimpleNamespace(secret=SECRET)}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    paths = namespace["app"].openapi()["paths"]
    assert {"/hello", "/auth/register", "/auth/bearer/login", "/users/me"} <= set(paths)
    assert isinstance(namespace["auth"], Doorkeeper)


def test_importing_doorkeeper_loads_no_server_dependency() -> None:
    import subprocess
    import sys

    code = (
        "import sys, doorkeeper\n"
        "assert doorkeeper.Doorkeeper and doorkeeper.DoorkeeperSettings\n"
        "assert doorkeeper.SQLAlchemyAdapter\n"
        "print(sorted(m for m in ('typer', 'uvicorn', 'aiosmtplib') if m in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_secret_may_be_a_secret_str() -> None:
    from pydantic import SecretStr

    auth = Doorkeeper("sqlite+aiosqlite:///./a.db", SecretStr(SECRET))
    assert auth.settings.secret.get_secret_value() == SECRET


async def check_the_authentication_cache(database_url: str, **options: Any) -> None:
    with pytest.raises(ValueError, match="AUTH_CACHE_SECONDS needs"):
        DoorkeeperSettings(secret=SECRET, auth_cache_seconds=5)
    settings = DoorkeeperSettings(secret=SECRET, auth_cache_seconds=5, **options)
    auth, _ = make_auth(database_url, settings=settings)
    assert auth.auth_cache is not None
    assert (auth.auth_cache.bus is not None) is ("redis_url" in options)
    async with serving(design_example(auth), auth) as client:
        await create_user(auth, "cache@example.com")
        access = await login(client, "cache@example.com")
        for _ in range(50):  # the Redis channel is confirmed within a few requests
            assert (await client.get("/hello", headers=bearer(access))).status_code == 200
            if len(auth.auth_cache):
                break
        assert len(auth.auth_cache) == 1
        response = await client.post("/auth/bearer/logout", headers=bearer(access))
        assert response.status_code == 204
        assert (await client.get("/hello", headers=bearer(access))).status_code == 401
    assert len(auth.auth_cache) == 0  # closed with the app


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_the_authentication_cache_in_one_process(database_url: str) -> None:
    await check_the_authentication_cache(database_url, auth_cache_single_process=True)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_the_authentication_cache_with_redis(database_url: str, redis: Any) -> None:
    from tests.services import REDIS_URL

    await check_the_authentication_cache(database_url, redis_url=REDIS_URL, strategy="jwt")
