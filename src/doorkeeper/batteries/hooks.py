"""The hook methods of the `Doorkeeper` object: each calls the callable passed for it.

`DoorkeeperUserManager` calls them after its own work (the mails). Override them in a
subclass of `Doorkeeper`, or pass callables (sync or async) to its constructor.
"""

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from doorkeeper.adapter.models import User

__all__ = ["EMAIL_CHANGE_HOOK_NAMES", "HOOK_NAMES", "Hook", "HookMethods"]

Hook = Callable[..., Any]
"""A hook callable: sync or async, called with the arguments of the manager's hook."""

HOOK_NAMES = (
    "on_after_register",
    "on_after_register_existing",
    "on_after_login",
    "on_after_request_verify",
    "on_after_verify",
    "on_after_forgot_password",
    "on_after_reset_password",
    "on_after_update",
    "on_before_delete",
    "on_after_delete",
    "on_after_request_email_change",
    "on_email_change_pending",
    "on_after_request_email_change_existing",
    "on_after_email_change",
)
EMAIL_CHANGE_HOOK_NAMES = HOOK_NAMES[-4:]
"""The e-mail change hooks (SECURITY 39)."""


class HookMethods:
    """`hooks` maps a hook name to the callable the app passed."""

    hooks: dict[str, Hook]

    async def _call_hook(self, name: str, *args: Any) -> None:
        hook = self.hooks.get(name)
        if hook is None:
            return
        result = hook(*args)
        if inspect.isawaitable(result):
            await result

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        """After a user registered (the verification mail is on its way)."""
        await self._call_hook("on_after_register", user, request)

    async def on_after_register_existing(self, user: User, request: Request | None = None) -> None:
        """After someone tried to register with `user`'s address (the owner is told)."""
        await self._call_hook("on_after_register_existing", user, request)

    async def on_after_login(
        self, user: User, request: Request | None = None, response: Response | None = None
    ) -> None:
        await self._call_hook("on_after_login", user, request, response)

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        """After a verification mail was handed to the sender."""
        await self._call_hook("on_after_request_verify", user, token, request)

    async def on_after_verify(self, user: User, request: Request | None = None) -> None:
        await self._call_hook("on_after_verify", user, request)

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        """After a reset mail was handed to the sender."""
        await self._call_hook("on_after_forgot_password", user, token, request)

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        await self._call_hook("on_after_reset_password", user, request)

    async def on_after_update(
        self, user: User, update_dict: dict[str, Any], request: Request | None = None
    ) -> None:
        await self._call_hook("on_after_update", user, update_dict, request)

    async def on_before_delete(self, user: User, request: Request | None = None) -> None:
        await self._call_hook("on_before_delete", user, request)

    async def on_after_delete(self, user: User, request: Request | None = None) -> None:
        await self._call_hook("on_after_delete", user, request)

    async def on_after_request_email_change(
        self, user: User, new_email: str, token: str, request: Request | None = None
    ) -> None:
        """After the confirmation mail was handed to the sender (for `new_email`)."""
        await self._call_hook("on_after_request_email_change", user, new_email, token, request)

    async def on_email_change_pending(
        self, user: User, new_email: str, request: Request | None = None
    ) -> None:
        """After the current address was told that a change awaits confirmation."""
        await self._call_hook("on_email_change_pending", user, new_email, request)

    async def on_after_request_email_change_existing(
        self, owner: User, request: Request | None = None
    ) -> None:
        """After the owner of a taken address was told someone asked for it."""
        await self._call_hook("on_after_request_email_change_existing", owner, request)

    async def on_after_email_change(
        self, user: User, old_email: str, request: Request | None = None
    ) -> None:
        """After a confirmed change (the old address was told)."""
        await self._call_hook("on_after_email_change", user, old_email, request)
