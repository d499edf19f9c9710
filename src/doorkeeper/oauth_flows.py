"""The OAuth callbacks of the user manager: create, link or update accounts."""

from typing import Any, Protocol

from fastapi import Request

from doorkeeper import exceptions
from doorkeeper.db import BaseUserDatabase
from doorkeeper.password import PasswordHelperProtocol


class _Manager(Protocol):
    """What the callbacks use of the manager they are mixed into."""

    user_db: BaseUserDatabase[Any, Any]
    password_helper: PasswordHelperProtocol

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> Any: ...

    async def hash_password(self, password: str) -> str: ...

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
    ) -> Any:
        """Sign in with a provider account: update its tokens, link it, or create a user.

        An account already linked is updated. Otherwise, an existing user with the same
        e-mail gets it linked when `associate_by_email` is true, and `UserAlreadyExists`
        is raised when it is false. Otherwise a user is created (with an unusable random
        password) and `on_after_register` is triggered.
        """
        oauth_account_dict: dict[str, Any] = {
            "oauth_name": oauth_name,
            "access_token": access_token,
            "account_id": account_id,
            "account_email": account_email,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
        }
        try:
            user = await self.get_by_oauth_account(oauth_name, account_id)
        except exceptions.UserNotExists:
            pass
        else:
            for existing in user.oauth_accounts:
                if existing.account_id == account_id and existing.oauth_name == oauth_name:
                    user = await self.user_db.update_oauth_account(
                        user, existing, oauth_account_dict
                    )
            return user

        existing_user = await self.user_db.get_by_email(account_email)
        if existing_user is not None:
            if not associate_by_email:
                raise exceptions.UserAlreadyExists()
            return await self.user_db.add_oauth_account(existing_user, oauth_account_dict)

        user_dict = {
            "email": account_email,
            "hashed_password": await self.hash_password(self.password_helper.generate()),
            "is_verified": is_verified_by_default,
        }
        user = await self.user_db.create(user_dict)
        user = await self.user_db.add_oauth_account(user, oauth_account_dict)
        await self.on_after_register(user, request)
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
        """Link a provider account to a signed-in user; triggers `on_after_update`."""
        oauth_account_dict: dict[str, Any] = {
            "oauth_name": oauth_name,
            "access_token": access_token,
            "account_id": account_id,
            "account_email": account_email,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
        }
        user = await self.user_db.add_oauth_account(user, oauth_account_dict)
        await self.on_after_update(user, {}, request)
        return user
