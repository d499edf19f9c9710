"""Delivery to a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS and implicit
TLS, with AUTH; the delivered message is parsed back and its link carries the token."""

import datetime
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage as MIMEMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from doorkeeper.email import EmailTemplates, Mailer, SMTPEmailSender

USERNAME = "mailer"
PASSWORD = "s3cret smtp pass"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln+/="
PUBLIC_URL = "https://accounts.example.com"
FROM = "Acme <no-reply@acme.example>"


@dataclass
class Delivery:
    envelope_from: str
    recipients: list[str]
    message: MIMEMessage
    tls: bool
    login: bytes | None


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps what it receives."""

    deliveries: list[Delivery] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, MIMEMessage)
        auth = session.auth_data
        self.deliveries.append(
            Delivery(
                envelope_from=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                message=message,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=auth.login if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == USERNAME.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Server:
    port: int
    inbox: Inbox


StartServer = Callable[..., Server]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Starts aiosmtpd servers on 127.0.0.1 (keyword arguments go to Controller)."""
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> Server:
        inbox = Inbox()
        if kwargs.pop("auth", False):
            kwargs.update(authenticator=inbox.authenticate, auth_required=True)
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return Server(port, inbox)

    yield start
    for controller in controllers:
        controller.stop()


def mailer_for(sender: SMTPEmailSender) -> Mailer:
    return Mailer(sender, EmailTemplates(app_name="Acme"), PUBLIC_URL)


def check_verify_mail(delivery: Delivery, to: str = "alice@example.com") -> None:
    """Both parts, the headers, and a link that gives the token back."""
    message = delivery.message
    assert delivery.envelope_from == "no-reply@acme.example"
    assert delivery.recipients == [to]
    assert message["From"] == FROM
    assert message["To"] == to
    assert message["Subject"] == "Verify your e-mail address for Acme"
    assert message["Message-ID"].endswith("@acme.example>")
    sent_at = message["Date"].datetime
    age = datetime.datetime.now(datetime.timezone.utc) - sent_at
    assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=1)
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    links = [line for line in text.get_content().splitlines() if line.startswith("https://")]
    assert len(links) == 1
    link = urlsplit(links[0])
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{PUBLIC_URL}/verify"
    assert parse_qs(link.query) == {"token": [TOKEN]}
    assert f'href="{links[0]}"' in html.get_content()


async def test_plain_smtp_delivery(smtp_server: StartServer) -> None:
    server = smtp_server()
    sender = SMTPEmailSender("127.0.0.1", server.port, from_address=FROM, security="none")
    await mailer_for(sender).send_verify("alice@example.com", TOKEN)
    (delivery,) = server.inbox.deliveries
    check_verify_mail(delivery)
    assert delivery.tls is False
    assert delivery.login is None


async def test_starttls_with_auth(smtp_server: StartServer, certificate: Certificate) -> None:
    server = smtp_server(tls_context=certificate.server_context(), require_starttls=True, auth=True)
    sender = SMTPEmailSender(
        "127.0.0.1",
        server.port,
        username=USERNAME,
        password=PASSWORD,
        from_address=FROM,
        validate_certs=False,
    )
    await mailer_for(sender).send_verify("alice@example.com", TOKEN)
    (delivery,) = server.inbox.deliveries
    check_verify_mail(delivery)
    assert delivery.tls is True
    assert delivery.login == USERNAME.encode()
    assert server.inbox.logins == [(USERNAME.encode(), PASSWORD.encode())]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_implicit_tls_with_auth_and_a_trusted_certificate(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    # aiosmtpd does not see implicit TLS as TLS: it must be told AUTH is fine.
    server = smtp_server(
        ssl_context=certificate.server_context(), auth=True, auth_require_tls=False
    )
    sender = SMTPEmailSender(
        "localhost",
        server.port,
        username=USERNAME,
        password=PASSWORD,
        from_address=FROM,
        security="tls",
        tls_context=certificate.client_context(),
        local_hostname="doorkeeper.test",
    )
    await mailer_for(sender).send_verify("alice@example.com", TOKEN)
    (delivery,) = server.inbox.deliveries
    check_verify_mail(delivery)
    assert delivery.tls is True
    assert delivery.login == USERNAME.encode()


async def test_starttls_is_required_not_optional(smtp_server: StartServer) -> None:
    server = smtp_server()  # offers no STARTTLS
    sender = SMTPEmailSender("127.0.0.1", server.port, from_address=FROM, timeout=5)
    with pytest.raises(aiosmtplib.SMTPException, match="STARTTLS"):
        await mailer_for(sender).send_verify("alice@example.com", TOKEN)
    assert server.inbox.deliveries == []


async def test_certificates_are_verified_by_default(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    server = smtp_server(ssl_context=certificate.server_context())
    sender = SMTPEmailSender("127.0.0.1", server.port, from_address=FROM, security="tls", timeout=5)
    with pytest.raises(aiosmtplib.SMTPConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await mailer_for(sender).send_verify("alice@example.com", TOKEN)
    assert server.inbox.deliveries == []


async def test_wrong_password_fails_and_is_logged_without_it(
    smtp_server: StartServer, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server(tls_context=certificate.server_context(), require_starttls=True, auth=True)
    sender = SMTPEmailSender(
        "127.0.0.1",
        server.port,
        username=USERNAME,
        password="wrong-password-123",
        from_address=FROM,
        validate_certs=False,
        timeout=5,
    )
    mailer = mailer_for(sender)
    caplog.set_level(logging.DEBUG)
    assert await mailer.send_safely(mailer.send_verify, "alice@example.com", TOKEN) is False
    assert server.inbox.deliveries == []
    # aiosmtplib tries each mechanism the server offers.
    assert set(server.inbox.logins) == {(USERNAME.encode(), b"wrong-password-123")}
    (record,) = [r for r in caplog.records if r.name == "doorkeeper.email"]
    assert record.getMessage().startswith(
        "send_verify to alice@example.com failed: SMTPAuthenticationError:"
    )
    assert "wrong-password" not in caplog.text
    assert "eyJ" not in caplog.text


async def test_a_server_requiring_auth_refuses_a_sender_without_credentials(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    server = smtp_server(tls_context=certificate.server_context(), require_starttls=True, auth=True)
    sender = SMTPEmailSender(
        "127.0.0.1", server.port, from_address=FROM, validate_certs=False, timeout=5
    )
    with pytest.raises(aiosmtplib.SMTPResponseException, match=r"[Aa]uthentication required"):
        await mailer_for(sender).send_verify("alice@example.com", TOKEN)
    assert server.inbox.deliveries == []
    assert server.inbox.logins == []


async def test_every_account_mail_is_delivered_with_both_parts(smtp_server: StartServer) -> None:
    server = smtp_server()
    mailer = mailer_for(
        SMTPEmailSender("127.0.0.1", server.port, from_address=FROM, security="none")
    )
    await mailer.send_reset_password("alice@example.com", TOKEN)
    await mailer.send_email_change("new@example.com", TOKEN)
    await mailer.send_email_changed_notice("alice@example.com", "new@example.com")
    await mailer.send_already_registered("alice@example.com")
    got = [(d.recipients, d.message["Subject"]) for d in server.inbox.deliveries]
    assert got == [
        (["alice@example.com"], "Reset your Acme password"),
        (["new@example.com"], "Confirm your new e-mail address for Acme"),
        (["alice@example.com"], "A change of your Acme e-mail address was requested"),
        (["alice@example.com"], "Someone tried to sign up to Acme with your address"),
    ]
    for delivery in server.inbox.deliveries:
        assert delivery.message.get_content_type() == "multipart/alternative"
        assert delivery.message["Auto-Submitted"] == "auto-generated"
    reset_text = server.inbox.deliveries[0].message.get_body(preferencelist=("plain",))
    assert reset_text is not None
    (link,) = [x for x in reset_text.get_content().splitlines() if x.startswith(PUBLIC_URL)]
    assert parse_qs(urlsplit(link).query) == {"token": [TOKEN]}
