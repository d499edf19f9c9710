"""The mails of the account flows, sent after the response and never failing a request."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import BackgroundTasks

from doorkeeper.email.links import LinkBuilder
from doorkeeper.email.message import EmailSender
from doorkeeper.email.templates import EmailTemplates

__all__ = ["Mailer"]

logger = logging.getLogger("doorkeeper.email")

_REDACTED = "[redacted]"


def _recipient(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The `to` argument, else the first positional argument that looks like an address."""
    candidates = [kwargs.get("to"), *args]
    for candidate in candidates:
        if isinstance(candidate, str) and "@" in candidate:
            return candidate
    return "(unknown recipient)"


def _redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


class Mailer:
    """Renders the account mails and hands them to a sender.

    Links come from `public_url` (an absolute http(s) URL) and `paths` (see
    `doorkeeper.email.links.DEFAULT_PATHS`), never from a request. The `send_*` methods
    raise when the sender fails; `send_later` runs one after the response and turns a
    failure into one WARNING line on the "doorkeeper.email" logger, without the token.
    Extra keyword arguments of the `send_*` methods reach the template as variables.
    """

    def __init__(
        self,
        sender: EmailSender,
        templates: EmailTemplates,
        public_url: str,
        *,
        paths: Mapping[str, str] | None = None,
    ) -> None:
        self.sender = sender
        self.templates = templates
        self.links = LinkBuilder(public_url, paths)

    @property
    def public_url(self) -> str:
        return self.links.public_url

    def link(self, name: str, token: str | None = None) -> str:
        """The link `name` ("verify", "reset_password", "email_change", "forgot_password",
        "login"), carrying `token` if given."""
        return self.links(name, token)

    async def send_template(self, name: str, to: str, **context: Any) -> None:
        """Renders template `name` for `to` (available as `email`) and sends it."""
        values = {**context, "email": to, "public_url": self.public_url}
        rendered = self.templates.render(name, **values)
        await self.sender.send(rendered.to_message(to))

    async def send_verify(self, to: str, token: str, **context: Any) -> None:
        await self.send_template("verify", to, **context, link=self.link("verify", token))

    async def send_reset_password(self, to: str, token: str, **context: Any) -> None:
        link = self.link("reset_password", token)
        await self.send_template("reset_password", to, **context, link=link)

    async def send_email_change(self, to: str, token: str, **context: Any) -> None:
        """To the NEW address: the link that confirms it."""
        await self.send_template(
            "email_change", to, **context, link=self.link("email_change", token)
        )

    async def send_email_changed_notice(
        self, to: str, new_email: str, *, confirmed: bool = False, **context: Any
    ) -> None:
        """To the OLD address: a change to `new_email` was requested (or, with
        `confirmed=True`, done)."""
        link = self.link("forgot_password")
        await self.send_template(
            "email_changed_notice",
            to,
            **context,
            new_email=new_email,
            confirmed=confirmed,
            link=link,
        )

    async def send_email_change_existing(self, to: str, **context: Any) -> None:
        """To the owner of an address someone asked to move another account to."""
        link = self.link("forgot_password")
        await self.send_template(
            "email_change_existing", to, **context, link=link, login_url=self.link("login")
        )

    async def send_already_registered(
        self, to: str, *, reset_token: str | None = None, **context: Any
    ) -> None:
        """To the owner of an address someone tried to register again. The reset link
        carries `reset_token` if given, else points to the forgot-password page."""
        if reset_token is None:
            link = self.link("forgot_password")
        else:
            link = self.link("reset_password", reset_token)
        await self.send_template(
            "already_registered", to, **context, link=link, login_url=self.link("login")
        )

    async def send_safely(
        self, method: Callable[..., Awaitable[None]], /, *args: Any, **kwargs: Any
    ) -> bool:
        """Awaits `method(*args, **kwargs)`; on failure logs one WARNING line (the
        recipient and the reason, with the other arguments, such as the token,
        redacted) and returns False instead of raising."""
        try:
            await method(*args, **kwargs)
        except Exception as error:
            recipient = _recipient(args, kwargs)
            secrets = [
                value
                for value in (*args, *kwargs.values())
                if isinstance(value, str) and value and value != recipient
            ]
            secrets += [quote(value, safe="") for value in secrets]
            reason = _redact(f"{type(error).__name__}: {error}", secrets)
            name = getattr(method, "__name__", "send")
            logger.warning("%s to %s failed: %s", name, recipient, " ".join(reason.split()))
            return False
        return True

    def send_later(
        self,
        background_tasks: BackgroundTasks,
        method: Callable[..., Awaitable[None]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Runs `method(*args, **kwargs)` after the response (see `send_safely`): a mail
        that cannot be sent never turns into an error response."""
        background_tasks.add_task(self.send_safely, method, *args, **kwargs)
