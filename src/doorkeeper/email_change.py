"""Self-service e-mail change confirmed from the new address (SECURITY 39 and 12).

Mixed into `BaseUserManager`. With `email_change_requires_confirmation` on, a user
changing their own address (`PATCH /users/me`) keeps it until the new one is confirmed:
the new address gets a token (`on_after_request_email_change`), the current one a
notice (`on_email_change_pending`), and `confirm_email_change(token)` (route
`POST /users/confirm-email`) makes the change, marks the user verified and ends every
session of the user. With it off (the default), the address changes at once, as in
FastAPI Users.

The token is a JWT of its own audience, signed with `verification_token_secret`. It
carries the new address and a fingerprint of the account's current address and password
hash: it dies when either changes, so it works once (at most one of concurrent uses),
and a password reset cancels a change that someone else requested.

With `email_change_enumeration_safe` also on, a taken new address gets the same answer
as a free one; its owner is told instead (`on_after_request_email_change_existing`).
"""

import hashlib
import hmac
from typing import Any, Protocol

import jwt
from fastapi import Request

from doorkeeper import exceptions
from doorkeeper.audit import FAILURE, record_event
from doorkeeper.audit_flows import audited, record_failure
from doorkeeper.db import BaseUserDatabase
from doorkeeper.jwt import SecretType, _get_secret_value, decode_jwt, generate_jwt
from doorkeeper.normalization import normalize_email

__all__ = ["EMAIL_CHANGE_TOKEN_AUDIENCE", "EmailChangeMixin"]

EMAIL_CHANGE_TOKEN_AUDIENCE = "doorkeeper:email-change"  # noqa: S105 - an audience


class _Manager(Protocol):
    """What the e-mail change uses of the manager it is mixed into (read-only members,
    so that an app's manager setting them to narrower types still matches)."""

    @property
    def user_db(self) -> BaseUserDatabase[Any, Any]: ...

    @property
    def verification_token_secret(self) -> SecretType: ...

    @property
    def revoke_sessions_on_change(self) -> bool: ...

    @property
    def email_change_requires_confirmation(self) -> bool: ...

    @property
    def email_change_enumeration_safe(self) -> bool: ...

    @property
    def email_change_token_lifetime_seconds(self) -> int: ...

    @property
    def email_change_token_audience(self) -> str: ...

    def parse_id(self, value: Any) -> Any: ...

    async def get(self, id: Any) -> Any: ...

    def _revocation_values(self, user: Any, keep_token_id: str | None) -> dict[str, Any]: ...

    async def on_after_update(
        self, user: Any, update_dict: dict[str, Any], request: Request | None = None
    ) -> None: ...

    async def on_after_request_email_change(
        self, user: Any, new_email: str, token: str, request: Request | None = None
    ) -> None: ...

    async def on_email_change_pending(
        self, user: Any, new_email: str, request: Request | None = None
    ) -> None: ...

    async def on_after_request_email_change_existing(
        self, owner: Any, request: Request | None = None
    ) -> None: ...

    async def on_after_email_change(
        self, user: Any, old_email: str, request: Request | None = None
    ) -> None: ...


def _fingerprint(manager: _Manager, user: Any) -> str:
    """Binds a token to the account's current address and password."""
    key = _get_secret_value(manager.verification_token_secret).encode()
    message = f"email-change\0{user.email}\0{user.hashed_password}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class EmailChangeMixin:
    """`request_email_change`, `confirm_email_change` and their hooks."""

    email_change_requires_confirmation: bool = False
    """A user changing their own address keeps it until the new one is confirmed
    (SECURITY 39); `False` changes it at once, as FastAPI Users does."""
    email_change_enumeration_safe: bool = False
    """With confirmation on, a taken new address gets the answer a free one gets, and
    its owner a notice (SECURITY 12)."""
    email_change_token_lifetime_seconds: int = 86400
    email_change_token_audience: str = EMAIL_CHANGE_TOKEN_AUDIENCE

    async def _pending_email_change(
        self: _Manager,
        user: Any,
        update_dict: dict[str, Any],
        safe: bool,
        request: Request | None,
    ) -> str | None:
        """Take the new address out of a self-service update when it must be confirmed.

        Raises `UserAlreadyExists` before anything changes for a taken address, unless
        enumeration-safe.
        """
        new_email = update_dict.get("email")
        if not safe or not self.email_change_requires_confirmation or new_email is None:
            return None
        if normalize_email(new_email) == normalize_email(user.email):
            return None  # the same address in another letter case: no proof needed
        taken = await self.user_db.get_by_email(new_email) is not None
        if taken and not self.email_change_enumeration_safe:
            error = exceptions.UserAlreadyExists()
            await record_failure(
                self, "email_change_request", error, user_id=user.id, request=request
            )
            raise error
        del update_dict["email"]
        return str(new_email)

    async def request_email_change(
        self: _Manager, user: Any, new_email: str, request: Request | None = None
    ) -> None:
        """Start a change of `user`'s address to `new_email`; nothing changes until it
        is confirmed.

        Calls `on_email_change_pending`, then `on_after_request_email_change` with the
        token, or, for an address that has an account, `on_after_request_email_change_existing`
        with its owner (enumeration-safe mode) or raises `UserAlreadyExists`.
        """
        owner = await self.user_db.get_by_email(new_email)
        if owner is not None and not self.email_change_enumeration_safe:
            error = exceptions.UserAlreadyExists()
            await record_failure(
                self, "email_change_request", error, user_id=user.id, request=request
            )
            raise error
        await self.on_email_change_pending(user, new_email, request)
        if owner is not None:
            await self.on_after_request_email_change_existing(owner, request)
            await record_event(
                self,
                "email_change_request",
                outcome=FAILURE,
                user=user,
                request=request,
                reason="already_exists",
            )
            return
        token_data = {
            "sub": str(user.id),
            "email": new_email,
            "fgpt": _fingerprint(self, user),
            "aud": self.email_change_token_audience,
        }
        token = generate_jwt(
            token_data,
            self.verification_token_secret,
            self.email_change_token_lifetime_seconds,
        )
        await self.on_after_request_email_change(user, new_email, token, request)
        await record_event(self, "email_change_request", user=user, request=request)

    @audited("email_change")
    async def confirm_email_change(
        self: _Manager, token: str, request: Request | None = None
    ) -> Any:
        """Apply the change a token confirms: the new address, verified; every session
        of the user ends. Triggers `on_after_update` and `on_after_email_change`.

        Raises `InvalidEmailChangeToken` (bad, expired, used, or the account's address
        or password changed since, or the user is inactive) or `UserAlreadyExists` (the
        address got an account in the meantime).
        """
        try:
            data = decode_jwt(
                token,
                self.verification_token_secret,
                [self.email_change_token_audience],
                require=("exp",),
            )
        except jwt.PyJWTError:
            raise exceptions.InvalidEmailChangeToken() from None
        user_id, new_email, fingerprint = data.get("sub"), data.get("email"), data.get("fgpt")
        if not isinstance(user_id, str) or not isinstance(new_email, str):
            raise exceptions.InvalidEmailChangeToken()
        if not isinstance(fingerprint, str):
            raise exceptions.InvalidEmailChangeToken()
        try:
            user = await self.get(self.parse_id(user_id))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            raise exceptions.InvalidEmailChangeToken() from None
        if not hmac.compare_digest(fingerprint, _fingerprint(self, user)) or not user.is_active:
            raise exceptions.InvalidEmailChangeToken()
        if await self.user_db.get_by_email(new_email) is not None:
            raise exceptions.UserAlreadyExists()
        old_email: str = user.email
        values: dict[str, Any] = {"email": new_email, "is_verified": True}
        if self.revoke_sessions_on_change:
            values.update(self._revocation_values(user, None))
        expected = {"email": old_email, "hashed_password": user.hashed_password}
        updated = await self.user_db.update_if(user, values, expected=expected)
        if updated is None:
            raise exceptions.InvalidEmailChangeToken()  # a concurrent use won
        await self.on_after_update(updated, {"email": new_email}, request)
        await self.on_after_email_change(updated, old_email, request)
        return updated

    async def on_after_request_email_change(
        self, user: Any, new_email: str, token: str, request: Request | None = None
    ) -> None:
        """Called with the token that confirms `new_email`: send it to `new_email`."""

    async def on_email_change_pending(
        self, user: Any, new_email: str, request: Request | None = None
    ) -> None:
        """Called when a change of `user`'s address to `new_email` awaits confirmation,
        whether or not `new_email` has an account: tell the current address."""

    async def on_after_request_email_change_existing(
        self, owner: Any, request: Request | None = None
    ) -> None:
        """Called, in enumeration-safe mode, when someone asked to move their account to
        the address of `owner`: tell the owner (nothing changed)."""

    async def on_after_email_change(
        self, user: Any, old_email: str, request: Request | None = None
    ) -> None:
        """Called after a confirmed change: tell `old_email` it is no longer used."""
