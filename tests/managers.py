"""A user manager of the documented shape that records its hooks, for the tests."""

import uuid
from typing import Any

from fastapi import Request, Response

from doorkeeper import BaseUserManager, UUIDIDMixin
from tests.models import User

SECRET = "test-secret-that-is-long-enough-0123456789"


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, Any]] = []
        self.verify_tokens: list[str] = []
        self.reset_tokens: list[str] = []

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        self.calls.append(("register", user.id))

    async def on_after_update(
        self, user: User, update_dict: dict[str, Any], request: Request | None = None
    ) -> None:
        self.calls.append(("update", dict(update_dict)))

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        self.verify_tokens.append(token)

    async def on_after_verify(self, user: User, request: Request | None = None) -> None:
        self.calls.append(("verify", user.id))

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        self.reset_tokens.append(token)

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        self.calls.append(("reset", user.id))

    async def on_after_login(
        self, user: User, request: Request | None = None, response: Response | None = None
    ) -> None:
        self.calls.append(("login", user.id))

    async def on_before_delete(self, user: User, request: Request | None = None) -> None:
        self.calls.append(("before_delete", user.id))

    async def on_after_delete(self, user: User, request: Request | None = None) -> None:
        self.calls.append(("after_delete", user.id))
