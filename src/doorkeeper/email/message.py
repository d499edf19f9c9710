"""The message every sender delivers, and the protocol a sender follows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["RESERVED_HEADERS", "EmailMessage", "EmailSender"]

#: Headers a sender sets itself; `EmailMessage.headers` may not carry them.
RESERVED_HEADERS = frozenset(
    {
        "bcc",
        "cc",
        "content-transfer-encoding",
        "content-type",
        "date",
        "from",
        "message-id",
        "mime-version",
        "subject",
        "to",
    }
)

# RFC 5322 field name: printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_LINE_BREAK = re.compile(r"[\r\n\x00]")


def _single_line(what: str, value: str) -> None:
    if _LINE_BREAK.search(value):
        raise ValueError(f"{what} must be a single line")


@dataclass(frozen=True)
class EmailMessage:
    """One e-mail to one recipient: a text body and an optional HTML body.

    Values that end up in headers (`to`, `subject`, `headers`) must be single lines,
    so that no caller can inject a header.
    """

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.to.strip():
            raise ValueError("to must not be empty")
        _single_line("to", self.to)
        _single_line("subject", self.subject)
        for name, value in self.headers.items():
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the sender")
            _single_line(f"header {name}", value)


@runtime_checkable
class EmailSender(Protocol):
    """Delivers a message; raises when it cannot (the `Mailer` logs and swallows)."""

    async def send(self, message: EmailMessage) -> None: ...
