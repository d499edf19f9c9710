"""Senders that deliver nothing: the console (development) and memory (tests)."""

from __future__ import annotations

import logging
import sys

from doorkeeper.email.message import EmailMessage

__all__ = ["ConsoleEmailSender", "MemoryEmailSender"]

_RULE = "-" * 72


def format_for_console(message: EmailMessage) -> str:
    """The message as a developer reads it: recipient, subject and text body."""
    return (
        f"{_RULE}\n"
        f"E-mail (console sender, not delivered)\n"
        f"To: {message.to}\n"
        f"Subject: {message.subject}\n"
        f"\n"
        f"{message.text.rstrip()}\n"
        f"{_RULE}"
    )


class ConsoleEmailSender:
    """The development default: shows each message instead of sending it.

    The message (recipient, subject, text body with its link) is logged at INFO on
    `logger_name` and printed to standard output, so that whoever runs the server sees
    verification and reset links in the console. Nothing else is logged.

    Do not use it in production: the links it prints are credentials.
    """

    def __init__(self, logger_name: str = "doorkeeper.email", *, stdout: bool = True) -> None:
        self.logger = logging.getLogger(logger_name)
        self.stdout = stdout

    async def send(self, message: EmailMessage) -> None:
        shown = format_for_console(message)
        self.logger.info("%s", shown)
        if self.stdout:
            # Looked up at send time so that a replaced sys.stdout (tests, daemons) is used.
            print(shown, file=sys.stdout, flush=True)

    def __repr__(self) -> str:
        return f"ConsoleEmailSender(logger_name={self.logger.name!r}, stdout={self.stdout!r})"


class MemoryEmailSender:
    """Keeps every message in `outbox`, in order: for an app's tests."""

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.outbox.append(message)

    def __repr__(self) -> str:
        return f"MemoryEmailSender(outbox=<{len(self.outbox)} messages>)"
