"""The hook methods of the user manager: no-ops an app overrides to send mails, log,
or react to a flow. `BaseUserManager` inherits them."""

from typing import Any, Generic

from fastapi import Request, Response

from doorkeeper import models
from doorkeeper.audit import AuditEvent

__all__ = ["UserManagerHooks"]


class UserManagerHooks(Generic[models.UP]):
    """FastAPI Users' hooks, plus `on_after_register_existing` and `on_event`."""

    async def on_after_register(self, user: models.UP, request: Request | None = None) -> None:
        """Called after a user registered."""

    async def on_after_register_existing(
        self, user: models.UP, request: Request | None = None
    ) -> None:
        """Called, in enumeration-safe registration, when someone tried to register with
        the address of `user`: tell the owner (the batteries send a notice mail)."""

    async def on_after_update(
        self,
        user: models.UP,
        update_dict: dict[str, Any],
        request: Request | None = None,
    ) -> None:
        """Called after a user was updated, with the fields that changed."""

    async def on_after_request_verify(
        self, user: models.UP, token: str, request: Request | None = None
    ) -> None:
        """Called with a verification token: send it to the user."""

    async def on_after_verify(self, user: models.UP, request: Request | None = None) -> None:
        """Called after a user verified their e-mail."""

    async def on_after_forgot_password(
        self, user: models.UP, token: str, request: Request | None = None
    ) -> None:
        """Called with a reset-password token: send it to the user."""

    async def on_after_reset_password(
        self, user: models.UP, request: Request | None = None
    ) -> None:
        """Called after a user reset their password."""

    async def on_after_login(
        self,
        user: models.UP,
        request: Request | None = None,
        response: Response | None = None,
    ) -> None:
        """Called after a successful login."""

    async def on_before_delete(self, user: models.UP, request: Request | None = None) -> None:
        """Called before a user is deleted."""

    async def on_after_delete(self, user: models.UP, request: Request | None = None) -> None:
        """Called after a user was deleted."""

    async def on_event(self, event: AuditEvent, request: Request | None = None) -> None:
        """Called with every audit event (SECURITY 45); also logged to `doorkeeper.audit`."""
