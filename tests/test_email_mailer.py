"""The Mailer: links from the configured public URL only, sending after the response,
and failures logged (without the token) instead of raised."""

import logging
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI, status

from doorkeeper.email import (
    DEFAULT_PATHS,
    EmailMessage,
    EmailTemplates,
    Mailer,
    MemoryEmailSender,
    SMTPEmailSender,
)

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl+/="


def make_mailer(public_url: str = "https://accounts.example.com", **kwargs: object) -> Mailer:
    return Mailer(MemoryEmailSender(), EmailTemplates(), public_url, **kwargs)  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class FailingSender:
    """Fails with a message that quotes the link, as a careless library might."""

    def __init__(self) -> None:
        self.attempts: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.attempts.append(message)
        link = next(line for line in message.text.splitlines() if "token=" in line)
        raise ConnectionError(f"could not deliver\nthe mail with {link}")


# --- links -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "normalized"),
    [
        ("https://accounts.example.com", "https://accounts.example.com"),
        ("https://accounts.example.com/", "https://accounts.example.com"),
        ("http://localhost:8000//", "http://localhost:8000"),
        ("https://example.com/app/", "https://example.com/app"),
        ("HTTPS://Example.com:8443/a", "https://Example.com:8443/a"),
    ],
)
def test_public_url_is_normalized(public_url: str, normalized: str) -> None:
    mailer = make_mailer(public_url)
    assert mailer.public_url == normalized
    assert mailer.link("verify", "t") == f"{normalized}/verify?token=t"


@pytest.mark.parametrize(
    "public_url",
    [
        "accounts.example.com",
        "/verify",
        "ftp://example.com",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "https://user:pass@example.com",
        "https://example.com/?next=x",
        "https://example.com/#top",
        "https://example.com?",
        "https://exa mple.com",
        "https://example.com\r\n",
        "https://example.com\\@evil.example",
        "",
    ],
)
def test_public_url_must_be_absolute_http(public_url: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        make_mailer(public_url)


def test_default_links_and_url_encoding() -> None:
    mailer = make_mailer()
    assert mailer.link("verify", TOKEN) == (
        "https://accounts.example.com/verify?token="
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl%2B%2F%3D"
    )
    for name, path in DEFAULT_PATHS.items():
        link = mailer.link(name, "a b&c=d#e")
        assert link.startswith(f"https://accounts.example.com{path}?token=")
        assert parse_qs(urlsplit(link).query) == {"token": ["a b&c=d#e"]}
    assert mailer.link("login") == "https://accounts.example.com/login"


def test_paths_can_be_changed_per_link() -> None:
    mailer = make_mailer(
        "https://example.com/app",
        paths={
            "verify": "/account/verify-email",
            "reset_password": "https://front.example.org/reset?lang=fr",
            "email_change": "/#/confirm/{token}",
        },
    )
    assert mailer.link("verify", "t") == "https://example.com/app/account/verify-email?token=t"
    assert mailer.link("reset_password", "t/+") == (
        "https://front.example.org/reset?lang=fr&token=t%2F%2B"
    )
    assert mailer.link("email_change", "t/+") == "https://example.com/app/#/confirm/t%2F%2B"
    assert mailer.link("email_change") == "https://example.com/app/#/confirm/"
    assert mailer.link("login") == "https://example.com/app/login"


@pytest.mark.parametrize(
    ("paths", "error"),
    [
        ({"verfy": "/verify"}, "unknown link name"),
        ({"verify": "verify"}, "neither '/...' nor an absolute URL"),
        ({"verify": "@evil.example/verify"}, "neither '/...' nor an absolute URL"),
        ({"verify": "//evil.example/verify"}, "neither '/...' nor an absolute URL"),
        ({"verify": "javascript:alert(1)"}, "neither '/...' nor an absolute URL"),
        ({"verify": "/ver ify"}, "must not contain spaces"),
        ({"verify": "/verify\n"}, "must not contain spaces"),
        ({"verify": "/\\evil.example"}, "must not contain spaces"),
        ({"verify": "https://u:p@front.example/verify"}, "must not contain credentials"),
    ],
)
def test_bad_paths_are_refused(paths: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        make_mailer(paths=paths)


async def test_extra_context_reaches_templates_but_not_over_the_link(tmp_path: Path) -> None:
    (tmp_path / "verify.txt").write_text("Hi {{ first_name }}, {{ email }}: {{ link }}")
    sender = MemoryEmailSender()
    mailer = Mailer(sender, EmailTemplates(tmp_path), "https://accounts.example.com")
    await mailer.send_verify("a@example.com", "t", first_name="Ann", email="other@example.com")
    assert (
        sender.outbox[0].text
        == "Hi Ann, a@example.com: https://accounts.example.com/verify?token=t"
    )
    with pytest.raises(TypeError):
        await mailer.send_verify("a@example.com", "t", link="https://evil.example")
    assert len(sender.outbox) == 1


# --- failures --------------------------------------------------------------------------


async def test_send_methods_raise_but_send_safely_logs_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = FailingSender()
    mailer = Mailer(sender, EmailTemplates(), "https://accounts.example.com")
    with pytest.raises(ConnectionError):
        await mailer.send_verify("alice@example.com", TOKEN)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    assert await mailer.send_safely(mailer.send_reset_password, "alice@example.com", TOKEN) is False
    assert len(sender.attempts) == 2
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert (record.name, record.levelno) == ("doorkeeper.email", logging.WARNING)
    line = record.getMessage()
    assert "\n" not in line
    assert line.startswith("send_reset_password to alice@example.com failed: ConnectionError:")
    assert "could not deliver" in line
    assert "[redacted]" in line
    assert "eyJ" not in line
    assert "c2lnbmF0dXJl" not in line
    assert record.exc_info is None


async def test_send_safely_redacts_keyword_arguments_and_returns_true_on_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = Mailer(FailingSender(), EmailTemplates(), "https://accounts.example.com")
    caplog.set_level(logging.WARNING)
    ok = await failing.send_safely(failing.send_email_change, to="new@example.com", token=TOKEN)
    assert ok is False
    line = caplog.records[0].getMessage()
    assert line.startswith("send_email_change to new@example.com failed:")
    assert "eyJ" not in line

    async def no_recipient() -> None:
        raise RuntimeError("boom")

    caplog.clear()
    link = failing.link("verify", TOKEN)
    sent = await failing.send_safely(failing.send_template, "verify", "c@example.com", link=link)
    assert sent is False
    line = caplog.records[0].getMessage()
    assert line.startswith("send_template to c@example.com failed: ConnectionError:")
    assert "eyJ" not in line

    caplog.clear()
    assert await failing.send_safely(no_recipient) is False
    assert caplog.records[0].getMessage() == (
        "no_recipient to (unknown recipient) failed: RuntimeError: boom"
    )

    working = make_mailer()
    caplog.clear()
    assert await working.send_safely(working.send_verify, "a@example.com", TOKEN) is True
    assert caplog.records == []
    assert isinstance(working.sender, MemoryEmailSender)
    assert len(working.sender.outbox) == 1


def mail_app(mailer: Mailer) -> FastAPI:
    """A tiny app that mails a reset link after answering, like forgot-password."""
    app = FastAPI()

    @app.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED)
    async def forgot_password(background_tasks: BackgroundTasks) -> dict[str, str]:
        mailer.send_later(background_tasks, mailer.send_reset_password, "alice@example.com", TOKEN)
        return {"detail": "check your mailbox"}

    return app


async def test_a_send_that_fails_after_the_response_is_logged_not_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    sender = SMTPEmailSender(
        "127.0.0.1", port, from_address="no-reply@example.com", security="none", timeout=5
    )
    mailer = Mailer(sender, EmailTemplates(), "https://accounts.example.com")
    caplog.set_level(logging.DEBUG, logger="doorkeeper.email")
    transport = httpx.ASGITransport(app=mail_app(mailer))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/forgot-password")
    assert response.status_code == 202
    assert response.json() == {"detail": "check your mailbox"}
    records = [r for r in caplog.records if r.name == "doorkeeper.email"]
    assert len(records) == 1
    line = records[0].getMessage()
    assert records[0].levelno == logging.WARNING
    assert line.startswith("send_reset_password to alice@example.com failed: SMTPConnect")
    assert str(port) in line
    assert "eyJ" not in line
    assert "token" not in caplog.text
    assert "eyJ" not in caplog.text


async def test_mail_is_sent_after_the_response() -> None:
    sender = MemoryEmailSender()
    mailer = Mailer(sender, EmailTemplates(), "https://accounts.example.com")
    seen_when_answering: list[int] = []
    app = FastAPI()

    @app.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED)
    async def forgot_password(background_tasks: BackgroundTasks) -> None:
        mailer.send_later(background_tasks, mailer.send_reset_password, "a@example.com", TOKEN)
        seen_when_answering.append(len(sender.outbox))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/forgot-password")
    assert response.status_code == 202
    assert seen_when_answering == [0]
    assert len(sender.outbox) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
        {"Host": "evil.example", "Forwarded": "host=evil.example;proto=http"},
    ],
)
async def test_host_headers_do_not_change_links(headers: dict[str, str]) -> None:
    sender = MemoryEmailSender()
    mailer = Mailer(sender, EmailTemplates(), "https://accounts.example.com")
    transport = httpx.ASGITransport(app=mail_app(mailer))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/forgot-password", headers=headers)
    assert response.status_code == 202
    (mail,) = sender.outbox
    assert "evil.example" not in mail.text
    assert "evil.example" not in (mail.html or "")
    assert "https://accounts.example.com/reset-password?token=" in mail.text
