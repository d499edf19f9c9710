"""Messages, the console and memory senders, and the SMTP sender's settings and MIME
message (delivery over SMTP: tests/test_email_smtp.py)."""

import email
import email.policy
import logging
import sys

import pytest
from pydantic import SecretStr

from doorkeeper.email import (
    ConsoleEmailSender,
    EmailMessage,
    EmailSender,
    MemoryEmailSender,
    SMTPEmailSender,
)

LINK = "https://accounts.example.com/verify?token=abc.def"


def message(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "to": "alice@example.com",
        "subject": "Verify your address",
        "text": f"Open this link:\n\n{LINK}\n",
        "html": f'<p><a href="{LINK}">Verify</a></p>',
    }
    values.update(overrides)
    return EmailMessage(**values)  # type: ignore[arg-type]


# --- EmailMessage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"to": " "}, "to must not be empty"),
        ({"to": "a@example.com\r\nBcc: x@example.com"}, "to must be a single line"),
        ({"subject": "Hi\nBcc: x@example.com"}, "subject must be a single line"),
        ({"subject": "Hi\x00"}, "subject must be a single line"),
        ({"headers": {"X-Ok": "a\rb"}}, "header X-Ok must be a single line"),
        ({"headers": {"Bad Name": "x"}}, "invalid header name"),
        ({"headers": {"X:Y": "x"}}, "invalid header name"),
        ({"headers": {"": "x"}}, "invalid header name"),
        ({"headers": {"bcc": "x@example.com"}}, "is set by the sender"),
        ({"headers": {"Content-Type": "text/html"}}, "is set by the sender"),
    ],
)
def test_message_refuses_header_injection(overrides: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        message(**overrides)


def test_message_is_frozen_and_multiline_bodies_are_fine() -> None:
    msg = message(headers={"Reply-To": "help@example.com"})
    assert msg.text.count("\n") == 3
    with pytest.raises(AttributeError):
        msg.to = "mallory@example.com"  # type: ignore[misc]


def test_senders_follow_the_protocol() -> None:
    smtp = SMTPEmailSender("smtp.example.com", from_address="no-reply@example.com")
    for sender in (ConsoleEmailSender(), MemoryEmailSender(), smtp):
        assert isinstance(sender, EmailSender)


# --- console and memory ----------------------------------------------------------------


async def test_console_sender_logs_and_prints_the_message(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await ConsoleEmailSender().send(message())
    out = capsys.readouterr().out
    for part in ("To: alice@example.com", "Subject: Verify your address", LINK):
        assert part in out
    assert "<a href" not in out  # the text body only
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.name == "doorkeeper.email"
    assert record.levelno == logging.INFO
    assert record.getMessage() + "\n" == out


async def test_console_sender_uses_its_logger_and_can_stay_off_stdout(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sender = ConsoleEmailSender("myapp.mail", stdout=False)
    await sender.send(message())
    assert capsys.readouterr().out == ""
    assert [record.name for record in caplog.records] == ["myapp.mail"]
    assert LINK in caplog.records[0].getMessage()
    assert repr(sender) == "ConsoleEmailSender(logger_name='myapp.mail', stdout=False)"


async def test_console_sender_prints_to_the_current_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = ConsoleEmailSender()

    class Stream:
        written = ""

        def write(self, text: str) -> int:
            self.written += text
            return len(text)

        def flush(self) -> None:
            pass

    stream = Stream()
    monkeypatch.setattr(sys, "stdout", stream)
    await sender.send(message())
    assert LINK in stream.written


async def test_memory_sender_keeps_messages_in_order() -> None:
    sender = MemoryEmailSender()
    first, second = message(), message(to="bob@example.com")
    await sender.send(first)
    await sender.send(second)
    assert sender.outbox == [first, second]
    assert repr(sender) == "MemoryEmailSender(outbox=<2 messages>)"


# --- SMTP sender settings --------------------------------------------------------------


def test_smtp_default_ports_follow_the_security() -> None:
    def port(security: str) -> int:
        sender = SMTPEmailSender(
            "smtp.example.com",
            from_address="no-reply@example.com",
            security=security,  # type: ignore[arg-type]
        )
        return sender.port

    assert (port("starttls"), port("tls"), port("none")) == (587, 465, 25)
    explicit = SMTPEmailSender("h", 2525, from_address="a@example.com", security="tls")
    assert explicit.port == 2525


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"security": "ssl"}, "security must be one of"),
        ({"host": ""}, "host must not be empty"),
        ({"username": "u"}, "both username and password"),
        ({"password": "p"}, "both username and password"),
        ({"username": "u", "password": "p", "security": "none"}, "without encryption"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"from_address": "no address"}, "not an e-mail address"),
        ({"from_address": "@example.com"}, "not an e-mail address"),
        ({"from_address": "a@example.com\r\nBcc: x@example.com"}, "single line"),
    ],
)
def test_smtp_settings_are_checked(kwargs: dict[str, object], error: str) -> None:
    values: dict[str, object] = {"host": "smtp.example.com", "from_address": "a@example.com"}
    values.update(kwargs)
    with pytest.raises(ValueError, match=error):
        SMTPEmailSender(**values)  # type: ignore[arg-type]


def test_smtp_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiosmtplib", None)
    with pytest.raises(ImportError, match=r"pip install 'doorkeeper\[smtp\]'"):
        SMTPEmailSender("smtp.example.com", from_address="a@example.com")


@pytest.mark.parametrize("password", ["hunter2-smtp", SecretStr("hunter2-smtp")])
def test_smtp_password_is_never_shown(password: str | SecretStr) -> None:
    sender = SMTPEmailSender(
        "smtp.example.com", username="mailer", password=password, from_address="a@example.com"
    )
    shown = repr(sender) + str(vars(sender))
    assert "hunter2" not in shown
    assert "password=**********" in repr(sender)
    no_password = SMTPEmailSender("smtp.example.com", from_address="a@example.com")
    assert "password=None" in repr(no_password)


def test_smtp_builds_multipart_alternative_with_headers() -> None:
    sender = SMTPEmailSender(
        "smtp.example.com", from_address="Acme Accounts <no-reply@acme.example>"
    )
    mime = sender.build(message(headers={"Reply-To": "help@acme.example"}))
    parsed = email.message_from_bytes(mime.as_bytes(), policy=email.policy.default)
    assert parsed["From"] == "Acme Accounts <no-reply@acme.example>"
    assert parsed["To"] == "alice@example.com"
    assert parsed["Subject"] == "Verify your address"
    assert parsed["Reply-To"] == "help@acme.example"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"].datetime.utcoffset().total_seconds() == 0
    assert parsed["Message-ID"].endswith("@acme.example>")
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert LINK in text.get_content()
    assert f'href="{LINK}"' in html.get_content()
    other = sender.build(message())
    assert other["Message-ID"] != mime["Message-ID"]


def test_smtp_text_only_message_and_own_auto_submitted() -> None:
    sender = SMTPEmailSender("smtp.example.com", from_address="no-reply@acme.example")
    mime = sender.build(message(html=None, headers={"Auto-Submitted": "auto-replied"}))
    assert mime.get_content_type() == "text/plain"
    assert mime.get_all("Auto-Submitted") == ["auto-replied"]
    assert LINK in mime.get_content()


def test_smtp_non_ascii_content_round_trips() -> None:
    sender = SMTPEmailSender("smtp.example.com", from_address="Zoë <no-reply@acme.example>")
    mime = sender.build(message(subject="Vérifiez votre adresse", text="Bonjour, Zoë !\n"))
    parsed = email.message_from_bytes(mime.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Vérifiez votre adresse"
    assert parsed["From"] == "Zoë <no-reply@acme.example>"
    assert "Bonjour, Zoë !" in parsed.get_body(preferencelist=("plain",)).get_content()


# --- packaging -------------------------------------------------------------------------


def test_the_package_imports_no_other_doorkeeper_module() -> None:
    """Batteries floor: `doorkeeper.email` stands on its own (and on floor 1 at most)."""
    import ast
    from pathlib import Path

    import doorkeeper.email

    allowed = ("doorkeeper.email", "doorkeeper.exceptions", "doorkeeper.types")
    for path in Path(doorkeeper.email.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("doorkeeper"):
                    assert name.startswith(allowed), f"{path.name} imports {name}"


def test_the_package_works_without_the_smtp_extra() -> None:
    import subprocess

    code = (
        "import sys; sys.modules['aiosmtplib'] = None\n"
        "import asyncio\n"
        "from doorkeeper.email import ConsoleEmailSender, EmailMessage\n"
        "asyncio.run(ConsoleEmailSender().send(EmailMessage('a@example.com', 'Hi', 'Body')))\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "To: a@example.com" in result.stdout
