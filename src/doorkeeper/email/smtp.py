"""Delivery over SMTP with aiosmtplib (the `smtp` extra)."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import importlib
import ssl
from types import ModuleType
from typing import Literal, get_args

from pydantic import SecretStr

from doorkeeper.email.message import EmailMessage

__all__ = ["SMTPEmailSender", "SMTPSecurity"]

SMTPSecurity = Literal["starttls", "tls", "none"]

_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def _load_aiosmtplib() -> ModuleType:
    try:
        return importlib.import_module("aiosmtplib")
    except ImportError as error:
        raise ImportError(
            "SMTPEmailSender needs aiosmtplib: install it with `pip install 'doorkeeper[smtp]'`"
        ) from error


class SMTPEmailSender:
    """Sends each message over its own SMTP connection.

    `security` is "starttls" (default: plain connection upgraded with STARTTLS, which is
    required, port 587), "tls" (implicit TLS, port 465) or "none" (no encryption, port 25;
    only for a relay on a trusted network, and never with credentials). Certificates are
    verified unless `validate_certs=False`; `tls_context` replaces the default context
    (e.g. to trust a private CA). The password is never logged nor shown by `repr`.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | SecretStr | None = None,
        from_address: str,
        security: SMTPSecurity = "starttls",
        timeout: float = 10.0,
        validate_certs: bool = True,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in get_args(SMTPSecurity):
            raise ValueError(f"security must be one of {get_args(SMTPSecurity)}, not {security!r}")
        if not host:
            raise ValueError("host must not be empty")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if username is not None and security == "none":
            raise ValueError(
                "refusing to send SMTP credentials without encryption: "
                'use security="starttls" or "tls"'
            )
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._envelope_from, self._domain = self._parse_from(from_address)
        self._aiosmtplib = _load_aiosmtplib()
        self.host = host
        self.port = _DEFAULT_PORTS[security] if port is None else port
        self.username = username
        if isinstance(password, str):
            password = SecretStr(password)
        self._password: SecretStr | None = password
        self.from_address = from_address
        self.security: SMTPSecurity = security
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.tls_context = tls_context
        self.local_hostname = local_hostname

    @staticmethod
    def _parse_from(from_address: str) -> tuple[str, str]:
        if "\r" in from_address or "\n" in from_address:
            raise ValueError("from_address must be a single line")
        _, address = email.utils.parseaddr(from_address)
        local, at, domain = address.rpartition("@")
        if not (local and at and domain):
            raise ValueError(f"from_address is not an e-mail address: {from_address!r}")
        return address, domain

    def build(self, message: EmailMessage) -> email.message.EmailMessage:
        """The MIME message: text, or multipart/alternative text + HTML."""
        mime = email.message.EmailMessage(policy=email.policy.SMTP)
        mime["From"] = self.from_address
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = email.utils.formatdate(usegmt=True)
        mime["Message-ID"] = email.utils.make_msgid(domain=self._domain)
        if not any(name.lower() == "auto-submitted" for name in message.headers):
            # RFC 3834: keeps out-of-office replies away from a no-reply address.
            mime["Auto-Submitted"] = "auto-generated"
        for name, value in message.headers.items():
            mime[name] = value
        mime.set_content(message.text)
        if message.html is not None:
            mime.add_alternative(message.html, subtype="html")
        return mime

    async def send(self, message: EmailMessage) -> None:
        password = None if self._password is None else self._password.get_secret_value()
        await self._aiosmtplib.send(
            self.build(message),
            sender=self._envelope_from,
            recipients=[message.to],
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=password,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            validate_certs=self.validate_certs,
            tls_context=self.tls_context,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )

    def __repr__(self) -> str:
        return (
            f"SMTPEmailSender(host={self.host!r}, port={self.port!r}, "
            f"security={self.security!r}, username={self.username!r}, "
            f"password={'**********' if self._password is not None else None}, "
            f"from_address={self.from_address!r})"
        )
