"""The OAuth callbacks of the user manager: create, link or update accounts.

FastAPI Users' behaviour, made safer (SECURITY 34):

* an existing account is linked by e-mail only when `associate_by_email` is on **and**
  the provider reported the address verified (`email_verified=True`); otherwise a sign-in
  with a taken address raises `UserAlreadyExists`, as FastAPI Users does without
  `associate_by_email`. Linking otherwise goes by provider and account id;
* when such a sign-in takes over an account whose e-mail was never verified (someone may
  have registered the address before its owner: pre-account-hijacking), that account's
  password is made unusable and every session of it ends;
* users created from a provider account get an unusable password (`!` and random
  characters: no password verifies against it) rather than the hash of a random one;
  forgot-password still lets them set one;
* a provider account already linked to another user is never moved
  (`OAuthAccountAlreadyLinked`).

Provider tokens that do not fit their column (an app table of FastAPI Users' layout
keeps 1,024 characters) are not stored, with a warning, rather than failing the sign-in.
"""

import logging
import secrets
from typing import Any, Protocol

from fastapi import Request

from doorkeeper import exceptions
from doorkeeper.audit import record_event
from doorkeeper.db import BaseUserDatabase
from doorkeeper.password import PasswordHelperProtocol

__all__ = [
    "EMAIL_VERIFIED_STATE",
    "UNUSABLE_PASSWORD_PREFIX",
    "OAuthAccountAlreadyLinked",
    "OAuthCallbacksMixin",
    "has_usable_password",
    "unusable_password",
]

logger = logging.getLogger("doorkeeper.oauth")

UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 - a marker, not a password
"""What starts a `hashed_password` that no password verifies against."""
EMAIL_VERIFIED_STATE = "doorkeeper_oauth_email_verified"
"""`request.state` attribute where the OAuth router leaves what the provider said of the
address, for a manager whose `oauth_callback` override does not pass `email_verified`."""


def unusable_password() -> str:
    """A `hashed_password` value that no password verifies against."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(32)


def has_usable_password(user: Any) -> bool:
    """Whether the user can sign in with a password (accounts created through a provider,
    and accounts taken over by one, cannot until they set one)."""
    hashed = getattr(user, "hashed_password", None)
    return (
        isinstance(hashed, str) and bool(hashed) and not hashed.startswith(UNUSABLE_PASSWORD_PREFIX)
    )


class OAuthAccountAlreadyLinked(exceptions.FastAPIUsersException):
    """The provider account is linked to another user already."""


def _reported_email_verified(email_verified: bool | None, request: Request | None) -> bool | None:
    if email_verified is not None or request is None:
        return email_verified
    reported = getattr(request.state, EMAIL_VERIFIED_STATE, None)
    return reported if isinstance(reported, bool) else None


def _column_length(user_db: Any, column: str) -> int | None:
    """The length limit of a column of the OAuth account table, when it has one."""
    table = getattr(getattr(user_db, "oauth_account_table", None), "__table__", None)
    columns = getattr(table, "c", None)
    if columns is None or column not in columns:
        return None
    length = getattr(columns[column].type, "length", None)
    return length if isinstance(length, int) else None


def _fit_tokens(user_db: Any, account: dict[str, Any]) -> dict[str, Any]:
    """`account` without the provider tokens that are too long for their column."""
    fitted = dict(account)
    for column, empty in (("access_token", ""), ("refresh_token", None)):
        value, limit = fitted.get(column), _column_length(user_db, column)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            logger.warning(
                "The %s of a %s account (%d characters) does not fit its column (%d): "
                "not stored; widen the column (docs/oauth.md)",
                column,
                account.get("oauth_name"),
                len(value),
                limit,
            )
            fitted[column] = empty
    return fitted


class _Manager(Protocol):
    """What the callbacks use of the manager they are mixed into."""

    user_db: BaseUserDatabase[Any, Any]
    password_helper: PasswordHelperProtocol

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> Any: ...

    def _revocation_values(self, user: Any, keep_token_id: str | None) -> dict[str, Any]: ...

    async def _link_by_email(
        self,
        user: Any,
        account: dict[str, Any],
        is_verified_by_default: bool,
        request: Request | None,
    ) -> Any: ...

    async def on_after_register(self, user: Any, request: Request | None = None) -> None: ...

    async def on_after_update(
        self, user: Any, update_dict: dict[str, Any], request: Request | None = None
    ) -> None: ...


class OAuthCallbacksMixin:
    """`oauth_callback` and `oauth_associate_callback`, mixed into `BaseUserManager`."""

    async def oauth_callback(
        self: _Manager,
        oauth_name: str,
        access_token: str,
        account_id: str,
        account_email: str,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        request: Request | None = None,
        *,
        associate_by_email: bool = False,
        is_verified_by_default: bool = False,
        email_verified: bool | None = None,
    ) -> Any:
        """Sign in with a provider account: update its tokens, link it, or create a user.

        An account already linked (same provider, same account id) is updated. Otherwise
        an existing user with the same e-mail gets it linked when `associate_by_email`
        is true and the provider said the address is verified (`email_verified=True`);
        else `UserAlreadyExists` is raised. Linking takes over an account whose e-mail
        was never verified: its password becomes unusable and its sessions end.
        Otherwise a user is created, with an unusable password, verified when
        `is_verified_by_default` is true and the provider did not say the address is
        unverified; `on_after_register` is triggered.

        :param email_verified: what the provider said of the address (`None`: nothing);
            the OAuth router passes it.
        """
        verified = _reported_email_verified(email_verified, request)
        account = _fit_tokens(
            self.user_db,
            {
                "oauth_name": oauth_name,
                "access_token": access_token,
                "account_id": account_id,
                "account_email": account_email,
                "expires_at": expires_at,
                "refresh_token": refresh_token,
            },
        )
        try:
            user = await self.get_by_oauth_account(oauth_name, account_id)
        except exceptions.UserNotExists:
            pass
        else:
            for existing in user.oauth_accounts:
                if existing.account_id == account_id and existing.oauth_name == oauth_name:
                    user = await self.user_db.update_oauth_account(user, existing, account)
            return user

        existing_user = await self.user_db.get_by_email(account_email)
        if existing_user is not None:
            if not associate_by_email or verified is not True:
                raise exceptions.UserAlreadyExists()
            return await self._link_by_email(
                existing_user, account, is_verified_by_default, request
            )

        user_dict = {
            "email": account_email,
            "hashed_password": unusable_password(),
            "is_verified": is_verified_by_default and verified is not False,
        }
        user = await self.user_db.create(user_dict)
        user = await self.user_db.add_oauth_account(user, account)
        await record_event(self, "register", user=user, request=request, provider=oauth_name)
        await self.on_after_register(user, request)
        return user

    async def _link_by_email(
        self: _Manager,
        user: Any,
        account: dict[str, Any],
        is_verified_by_default: bool,
        request: Request | None,
    ) -> Any:
        """Link `account` to `user`, whose address the provider verified.

        An unverified account is taken over: someone who registered the address before
        its owner (pre-account-hijacking) loses the password and the sessions.
        """
        takeover = not user.is_verified
        changes: dict[str, Any] = {}
        if takeover:
            changes["hashed_password"] = unusable_password()
            changes.update(self._revocation_values(user, None))
            if is_verified_by_default:
                changes["is_verified"] = True
            user = await self.user_db.update(user, changes)
        user = await self.user_db.add_oauth_account(user, account)
        await record_event(
            self,
            "oauth_link",
            user=user,
            request=request,
            provider=account["oauth_name"],
            by_email=True,
            takeover=takeover,
        )
        if takeover:
            await self.on_after_update(user, changes, request)
        return user

    async def oauth_associate_callback(
        self: _Manager,
        user: Any,
        oauth_name: str,
        access_token: str,
        account_id: str,
        account_email: str,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        request: Request | None = None,
    ) -> Any:
        """Link a provider account to a signed-in user; triggers `on_after_update`.

        An account linked to this user already has its tokens updated; one linked to
        another user raises `OAuthAccountAlreadyLinked`.
        """
        account = _fit_tokens(
            self.user_db,
            {
                "oauth_name": oauth_name,
                "access_token": access_token,
                "account_id": account_id,
                "account_email": account_email,
                "expires_at": expires_at,
                "refresh_token": refresh_token,
            },
        )
        try:
            owner = await self.get_by_oauth_account(oauth_name, account_id)
        except exceptions.UserNotExists:
            user = await self.user_db.add_oauth_account(user, account)
        else:
            if owner.id != user.id:
                raise OAuthAccountAlreadyLinked()
            for existing in owner.oauth_accounts:
                if existing.account_id == account_id and existing.oauth_name == oauth_name:
                    user = await self.user_db.update_oauth_account(owner, existing, account)
        await record_event(self, "oauth_link", user=user, request=request, provider=oauth_name)
        await self.on_after_update(user, {}, request)
        return user
