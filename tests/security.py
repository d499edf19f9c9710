"""Helpers of the SECURITY.md item tests: the e-mail change hooks of the test manager,
a clock moved forward, and "the same response" as SECURITY.md defines it."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import Request

import doorkeeper.jwt
from tests.apps import UserManager
from tests.models import User


@dataclass
class ChangeMails:
    """What the e-mail change hooks of `tests.apps.UserManager` would have mailed."""

    confirm: list[tuple[str, str]] = field(default_factory=list)
    """(new address, token)"""
    pending: list[tuple[str, str]] = field(default_factory=list)
    """(current address, new address)"""
    existing: list[str] = field(default_factory=list)
    """owners of taken addresses"""
    changed: list[tuple[str, str]] = field(default_factory=list)
    """(old address, new address)"""

    def token_for(self, new_email: str) -> str:
        tokens = [token for address, token in self.confirm if address == new_email]
        assert tokens, f"no confirmation was sent to {new_email}"
        return tokens[-1]


def enable_email_change(
    monkeypatch: pytest.MonkeyPatch, *, enumeration_safe: bool = False
) -> ChangeMails:
    """Switch the pending e-mail change on for `tests.apps.UserManager` (for this test)."""
    mails = ChangeMails()

    async def on_after_request_email_change(
        self: UserManager, user: User, new_email: str, token: str, request: Request | None = None
    ) -> None:
        mails.confirm.append((new_email, token))

    async def on_email_change_pending(
        self: UserManager, user: User, new_email: str, request: Request | None = None
    ) -> None:
        mails.pending.append((user.email, new_email))

    async def on_after_request_email_change_existing(
        self: UserManager, owner: User, request: Request | None = None
    ) -> None:
        mails.existing.append(owner.email)

    async def on_after_email_change(
        self: UserManager, user: User, old_email: str, request: Request | None = None
    ) -> None:
        mails.changed.append((old_email, user.email))

    monkeypatch.setattr(UserManager, "email_change_requires_confirmation", True)
    monkeypatch.setattr(UserManager, "email_change_enumeration_safe", enumeration_safe)
    hooks = [
        on_after_request_email_change,
        on_email_change_pending,
        on_after_request_email_change_existing,
        on_after_email_change,
    ]
    for hook in hooks:
        monkeypatch.setattr(UserManager, hook.__name__, hook)
    return mails


def clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every JWT is checked as if `seconds` had passed."""
    real = datetime

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return real.now(tz or timezone.utc) + timedelta(seconds=seconds)

    monkeypatch.setattr(doorkeeper.jwt, "datetime", Later)


_VARYING_HEADERS = {"date", "x-request-id"}


def assert_same_response(first: httpx.Response, second: httpx.Response) -> None:
    """Same status, same JSON body, same headers (Date and request ids aside)."""
    assert first.status_code == second.status_code
    assert first.content == second.content
    headers = [
        sorted((k, v) for k, v in response.headers.multi_items() if k not in _VARYING_HEADERS)
        for response in (first, second)
    ]
    assert headers[0] == headers[1]
