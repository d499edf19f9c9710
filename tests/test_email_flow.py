"""Account mails end to end: the compatible routers, a user manager whose hooks mail
through the Mailer, and a real SMTP server (aiosmtpd). The links in the delivered mails
verify the address and reset the password; a spoofed Host changes no link; an SMTP
server that is down changes no answer."""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin
from doorkeeper.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.email import EmailTemplates, Mailer, SMTPEmailSender
from tests.apps import NEW_PASSWORD, PASSWORD, SECRET, UserCreate, UserRead
from tests.conftest import cheap_password_helper
from tests.models import OAuthAccount, User
from tests.test_email_smtp import Inbox, free_port

PUBLIC_URL = "https://accounts.example.com/app"
SPOOFED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "Forwarded": "host=evil.example;proto=http",
}

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])


class MailingUserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """The hooks run after the response (the routers schedule them): they mail at once,
    through `send_safely`, so a failed send is logged and goes no further."""

    reset_password_token_secret = SECRET
    verification_token_secret = SECRET
    mailer: Mailer

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        await self.mailer.send_safely(self.mailer.send_verify, user.email, token)

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        await self.mailer.send_safely(self.mailer.send_reset_password, user.email, token)


def build_app(session_maker: async_sessionmaker[AsyncSession], mailer: Mailer) -> FastAPI:
    async def get_user_manager() -> AsyncIterator[MailingUserManager]:
        async with session_maker() as session:
            manager = MailingUserManager(
                SQLAlchemyUserDatabase(session, User, OAuthAccount), cheap_password_helper()
            )
            manager.mailer = mailer
            yield manager

    backend = AuthenticationBackend[User, uuid.UUID](
        name="jwt",
        transport=BearerTransport(tokenUrl="auth/jwt/login"),
        get_strategy=lambda: JWTStrategy(secret=SECRET, lifetime_seconds=3600),
    )
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/jwt")
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")
    app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth")
    app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth")

    @app.get("/me")
    async def me(user: User = Depends(fastapi_users.current_user(active=True))) -> str:
        return user.email

    return app


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def last_link(inbox: Inbox, to: str, path: str) -> str:
    delivery = inbox.deliveries[-1]
    assert delivery.recipients == [to]
    text = delivery.message.get_body(preferencelist=("plain",))
    assert text is not None
    (link,) = [line for line in text.get_content().splitlines() if "token=" in line]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC_URL}{path}"
    html = delivery.message.get_body(preferencelist=("html",))
    assert html is not None
    assert f'href="{link}"' in html.get_content()
    return link


async def test_links_in_delivered_mails_verify_and_reset(
    session_maker: async_sessionmaker[AsyncSession], inbox: tuple[Inbox, int]
) -> None:
    smtp_inbox, port = inbox
    sender = SMTPEmailSender(
        "127.0.0.1", port, from_address="no-reply@example.com", security="none"
    )
    app = build_app(session_maker, Mailer(sender, EmailTemplates(), PUBLIC_URL))
    email = "alice@example.com"
    async with client(app) as http:
        response = await http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text

        response = await http.post(
            "/auth/request-verify-token", json={"email": email}, headers=SPOOFED
        )
        assert response.status_code == 202
        assert len(smtp_inbox.deliveries) == 1
        link = last_link(smtp_inbox, email, "/verify")
        assert "evil" not in str(smtp_inbox.deliveries[-1].message)
        token = parse_qs(urlsplit(link).query)["token"][0]
        response = await http.post("/auth/verify", json={"token": token})
        assert response.status_code == 200, response.text
        assert response.json()["is_verified"] is True

        response = await http.post("/auth/forgot-password", json={"email": email}, headers=SPOOFED)
        assert response.status_code == 202
        assert len(smtp_inbox.deliveries) == 2
        link = last_link(smtp_inbox, email, "/reset-password")
        token = parse_qs(urlsplit(link).query)["token"][0]
        response = await http.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert response.status_code == 200, response.text

        response = await http.post(
            "/auth/jwt/login", data={"username": email, "password": NEW_PASSWORD}
        )
        assert response.status_code == 200
        access = response.json()["access_token"]
        me = await http.get("/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json() == email

        # Unknown addresses get the same answer, and no mail.
        response = await http.post("/auth/forgot-password", json={"email": "nobody@example.com"})
        assert response.status_code == 202
        assert len(smtp_inbox.deliveries) == 2


async def test_smtp_down_changes_no_answer_and_logs_no_token(
    session_maker: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    sender = SMTPEmailSender(
        "127.0.0.1", free_port(), from_address="no-reply@example.com", security="none", timeout=5
    )
    tokens: list[str] = []

    class Recording(Mailer):
        async def send_reset_password(self, to: str, token: str, **context: object) -> None:
            tokens.append(token)
            await super().send_reset_password(to, token, **context)

    app = build_app(session_maker, Recording(sender, EmailTemplates(), PUBLIC_URL))
    caplog.set_level(logging.DEBUG)
    async with client(app) as http:
        response = await http.post(
            "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
        )
        assert response.status_code == 201
        response = await http.post("/auth/forgot-password", json={"email": "bob@example.com"})
    assert response.status_code == 202
    assert response.json() is None
    assert len(tokens) == 1
    mail_records = [r for r in caplog.records if r.name == "doorkeeper.email"]
    assert [r.levelno for r in mail_records] == [logging.WARNING]
    assert (
        mail_records[0]
        .getMessage()
        .startswith("send_reset_password to bob@example.com failed: SMTPConnectError")
    )
    assert tokens[0] not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
