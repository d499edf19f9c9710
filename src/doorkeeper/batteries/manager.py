"""The user manager of the `Doorkeeper` object: mails through its `Mailer`, then calls
its hooks (which call the callables the app passed)."""

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response

from doorkeeper import exceptions
from doorkeeper.adapter.models import User
from doorkeeper.manager import BaseUserManager, UUIDIDMixin

if TYPE_CHECKING:
    from doorkeeper.doorkeeper import Doorkeeper

__all__ = ["DoorkeeperUserManager"]


class DoorkeeperUserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """`BaseUserManager` for the adapter's `User`, wired to one `Doorkeeper`.

    The mail hooks (verification after registration and on request, password reset,
    "this address already has an account") send through `doorkeeper.mailer`, never
    raising when the mail cannot be sent; every hook then calls the `Doorkeeper` method
    of the same name. Subclass it and pass the class as `user_manager_class` to change
    a flow; call `super()` in a hook to keep the mail.

    The secrets, token lifetimes and password policy are set by `Doorkeeper` from its
    settings, unless the subclass sets them itself.
    """

    doorkeeper: "Doorkeeper"

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        """Send the verification mail (unless the user is verified already, e.g. made
        by `doorkeeper users create`)."""
        if user.is_active and not user.is_verified:
            # Changed by a concurrent request in between: nothing to verify then.
            with contextlib.suppress(exceptions.UserInactive, exceptions.UserAlreadyVerified):
                await self.request_verify(user, request)
        await self.doorkeeper.on_after_register(user, request)

    async def on_after_register_existing(self, user: User, request: Request | None = None) -> None:
        """Someone tried to register with `user`'s address (enumeration-safe mode)."""
        mailer = self.doorkeeper.mailer
        await mailer.send_safely(mailer.send_already_registered, user.email)
        await self.doorkeeper.on_after_register_existing(user, request)

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        mailer = self.doorkeeper.mailer
        await mailer.send_safely(mailer.send_verify, user.email, token)
        await self.doorkeeper.on_after_request_verify(user, token, request)

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        mailer = self.doorkeeper.mailer
        await mailer.send_safely(mailer.send_reset_password, user.email, token)
        await self.doorkeeper.on_after_forgot_password(user, token, request)

    async def on_after_verify(self, user: User, request: Request | None = None) -> None:
        await self.doorkeeper.on_after_verify(user, request)

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        await self.doorkeeper.on_after_reset_password(user, request)

    async def on_after_login(
        self, user: User, request: Request | None = None, response: Response | None = None
    ) -> None:
        await self.doorkeeper.on_after_login(user, request, response)

    async def on_after_update(
        self, user: User, update_dict: dict[str, Any], request: Request | None = None
    ) -> None:
        await self.doorkeeper.on_after_update(user, update_dict, request)

    async def on_before_delete(self, user: User, request: Request | None = None) -> None:
        await self.doorkeeper.on_before_delete(user, request)

    async def on_after_delete(self, user: User, request: Request | None = None) -> None:
        await self.doorkeeper.on_after_delete(user, request)
