"""Handing an OAuth sign-in to a front end that uses bearer tokens: the callback
redirects the browser with a one-time `code` (256 bits, single-use, short-lived, stored
as a digest), and the front end trades it at `POST /exchange` for the login response.
No token ever travels in a URL."""

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from doorkeeper import exceptions, models
from doorkeeper.authentication import AuthenticationBackend, Strategy
from doorkeeper.authentication.strategy.digest import generate_token
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.router.common import ErrorCode, bad_request_responses, error, example
from doorkeeper.singleuse import SingleUseStore, single_use_key

__all__ = ["DEFAULT_EXCHANGE_CODE_LIFETIME_SECONDS", "ExchangeCodes", "add_exchange_route"]

DEFAULT_EXCHANGE_CODE_LIFETIME_SECONDS = 60
_PURPOSE = "oauth-exchange"

SignIn = Callable[
    [Any, Request, BaseUserManager[Any, Any], Strategy[Any, Any]], Awaitable[Response]
]


class OAuthExchangeRequest(BaseModel):
    code: str = Field(min_length=1, max_length=128)


class ExchangeCodes:
    """One-time codes of one callback route, in a shared `SingleUseStore`."""

    def __init__(self, store: SingleUseStore, *, route: str, lifetime_seconds: int) -> None:
        if lifetime_seconds <= 0:
            raise ValueError("exchange_code_lifetime_seconds must be positive")
        self.store = store
        self.route = route
        self.lifetime = timedelta(seconds=lifetime_seconds)

    async def issue(self, user: Any) -> str:
        code = generate_token()
        value = json.dumps({"user_id": str(user.id), "route": self.route})
        await self.store.put(
            single_use_key(_PURPOSE, code), value, datetime.now(timezone.utc) + self.lifetime
        )
        return code

    async def redeem(self, code: str) -> str | None:
        """The user id of a good code, which is spent; `None` otherwise."""
        value = await self.store.take(single_use_key(_PURPOSE, code))
        if value is None:
            return None
        try:
            data = json.loads(value)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("route") != self.route:
            return None
        user_id = data.get("user_id")
        return user_id if isinstance(user_id, str) else None


def add_exchange_route(
    router: APIRouter,
    *,
    route_name: str,
    backend: AuthenticationBackend[models.UP, models.ID],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    codes: ExchangeCodes,
    sign_in: SignIn,
) -> None:
    """`POST /exchange`: a one-time code from the callback's redirect → the backend's
    login response (400 `OAUTH_EXCHANGE_CODE_INVALID` for an unknown, used or expired
    code; 400 `LOGIN_BAD_CREDENTIALS` for a user deactivated meanwhile)."""

    @router.post(
        "/exchange",
        name=route_name,
        responses={
            **bad_request_responses(
                {
                    ErrorCode.OAUTH_EXCHANGE_CODE_INVALID: example(
                        "Unknown, used or expired code.", ErrorCode.OAUTH_EXCHANGE_CODE_INVALID
                    ),
                    ErrorCode.LOGIN_BAD_CREDENTIALS: example(
                        "The user is inactive.", ErrorCode.LOGIN_BAD_CREDENTIALS
                    ),
                }
            ),
            **backend.transport.get_openapi_login_responses_success(),
        },
    )
    async def exchange(
        request: Request,
        body: OAuthExchangeRequest,
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
    ) -> Response:
        user_id = await codes.redeem(body.code)
        if user_id is None:
            raise error(ErrorCode.OAUTH_EXCHANGE_CODE_INVALID)
        try:
            user = await user_manager.get(user_manager.parse_id(user_id))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            raise error(ErrorCode.OAUTH_EXCHANGE_CODE_INVALID) from None
        if not user.is_active:
            raise error(ErrorCode.LOGIN_BAD_CREDENTIALS)
        response = await sign_in(user, request, user_manager, strategy)
        response.headers["Cache-Control"] = "no-store"
        return response
