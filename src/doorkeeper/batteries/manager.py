"""The user manager of the `Doorkeeper` object: mails through its `Mailer`, then calls
its hooks (which call the callables the app passed)."""

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response

from doorkeeper import exceptions
from doorkeeper.adapter.models import User
from doorkeeper.manager import BaseUserManager, UUIDIDMixin
from doorkeeper.router.common import background_tasks_of

if TYPE_CHECKING:
    from doorkeeper.doorkeeper import Doorkeeper

__all__ = ["DoorkeeperUserManager"]


class DoorkeeperUserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """`BaseUserManager` for the adapter's `User`, wired to one `Doorkeeper`.

    The mail hooks (verification after registration and on request, password reset,
    "this address already has an account", the e-mail change mails) send through
    `doorkeeper.mailer` (after the response when the route allows it), never
    raising when the mail cannot be sent; every hook then calls the `Doorkeeper` method
    of the same name. Subclass it and pass the class as `user_manager_class` to change
    a flow; call `super()` in a hook to keep the mail.

    The secrets, token lifetimes and password policy are set by `Doorkeeper` from its
    settings, unless the subclass sets them itself.
    """

    doorkeeper: "Doorkeeper"

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        """Give the default role (setting `default_role`), then send the verification
        mail (unless the user is verified already, e.g. made by `doorkeeper users create`)."""
        await self.doorkeeper.grant_default_role(user)
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

    async def _mail(
        self,
        request: Request | None,
        method: Callable[..., Awaitable[None]],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Send after the response when the route shared its background tasks, else now."""
        tasks = background_tasks_of(request)
        if tasks is not None:
            self.doorkeeper.mailer.send_later(tasks, method, *args, **kwargs)
        else:
            await self.doorkeeper.mailer.send_safely(method, *args, **kwargs)

    async def on_after_request_email_change(
        self, user: User, new_email: str, token: str, request: Request | None = None
    ) -> None:
        """Send the confirmation link to the new address."""
        await self._mail(request, self.doorkeeper.mailer.send_email_change, new_email, token)
        await self.doorkeeper.on_after_request_email_change(user, new_email, token, request)

    async def on_email_change_pending(
        self, user: User, new_email: str, request: Request | None = None
    ) -> None:
        """Tell the current address that a change to `new_email` awaits confirmation."""
        mailer = self.doorkeeper.mailer
        await self._mail(request, mailer.send_email_changed_notice, user.email, new_email)
        await self.doorkeeper.on_email_change_pending(user, new_email, request)

    async def on_after_request_email_change_existing(
        self, owner: User, request: Request | None = None
    ) -> None:
        """Tell the owner of a taken address that someone asked to use it."""
        await self._mail(request, self.doorkeeper.mailer.send_email_change_existing, owner.email)
        await self.doorkeeper.on_after_request_email_change_existing(owner, request)

    async def on_after_email_change(
        self, user: User, old_email: str, request: Request | None = None
    ) -> None:
        """Tell the old address that the account moved to its new one."""
        mailer = self.doorkeeper.mailer
        notice = mailer.send_email_changed_notice
        await self._mail(request, notice, old_email, user.email, confirmed=True)
        await self.doorkeeper.on_after_email_change(user, old_email, request)
