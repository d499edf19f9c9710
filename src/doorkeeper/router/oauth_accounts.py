"""The signed-in user's linked provider accounts: `GET /me/oauth-accounts` lists them
(never a provider token, SECURITY 35), `DELETE /me/oauth-accounts/{id}` unlinks one
unless it is the last way to sign in (no usable password and no other account)."""

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict

from doorkeeper import models
from doorkeeper.audit import record_event
from doorkeeper.authentication import Authenticator
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.oauth_flows import has_usable_password
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    ErrorModel,
    OpenAPIResponseType,
    example,
)

__all__ = ["OAuthAccountRead", "get_oauth_accounts_router"]


class OAuthAccountRead(BaseModel):
    """A linked provider account, as listed: no provider token, ever."""

    id: str
    oauth_name: str
    account_id: str
    account_email: str

    model_config = ConfigDict(extra="ignore")


def _read(account: Any) -> OAuthAccountRead:
    return OAuthAccountRead(
        id=str(account.id),
        oauth_name=account.oauth_name,
        account_id=account.account_id,
        account_email=account.account_email,
    )


def get_oauth_accounts_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    authenticator: Authenticator[models.UP, models.ID],
    requires_verification: bool = False,
) -> APIRouter:
    """The routes of the caller's linked accounts; include it with the users router's
    prefix (`/users`)."""
    router = APIRouter(route_class=DoorkeeperRoute)
    get_current_active_user = authenticator.current_user(
        active=True, verified=requires_verification
    )
    unauthorized: OpenAPIResponseType = {
        status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."}
    }

    @router.get(
        "/me/oauth-accounts",
        name="users:oauth_accounts",
        response_model=list[OAuthAccountRead],
        responses=unauthorized,
    )
    async def list_oauth_accounts(
        user: models.UP = Depends(get_current_active_user),
    ) -> list[OAuthAccountRead]:
        accounts = getattr(user, "oauth_accounts", None) or []
        return sorted(
            (_read(account) for account in accounts),
            key=lambda item: (item.oauth_name, item.account_id),
        )

    @router.delete(
        "/me/oauth-accounts/{id}",
        name="users:delete_oauth_account",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={
            **unauthorized,
            status.HTTP_404_NOT_FOUND: {
                "model": ErrorModel,
                "content": {
                    "application/json": {
                        "example": {"detail": ErrorCode.OAUTH_ACCOUNT_NOT_FOUND.value}
                    }
                },
            },
            status.HTTP_409_CONFLICT: {
                "model": ErrorModel,
                "content": {
                    "application/json": {
                        "examples": {
                            ErrorCode.OAUTH_LAST_SIGN_IN_METHOD.value: example(
                                "The last way to sign in: set a password first.",
                                ErrorCode.OAUTH_LAST_SIGN_IN_METHOD.value,
                            )
                        }
                    }
                },
            },
        },
    )
    async def delete_oauth_account(
        id: str,
        request: Request,
        user: models.UP = Depends(get_current_active_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> None:
        accounts = list(getattr(user, "oauth_accounts", None) or [])
        account = next((item for item in accounts if str(item.id) == id), None)
        if account is None:
            raise HTTPException(
                status_code=status.HTTP_404_NOT_FOUND,
                detail=ErrorCode.OAUTH_ACCOUNT_NOT_FOUND.value,
            )
        if len(accounts) == 1 and not has_usable_password(user):
            raise HTTPException(
                status_code=status.HTTP_409_CONFLICT,
                detail=ErrorCode.OAUTH_LAST_SIGN_IN_METHOD.value,
            )
        await user_manager.user_db.delete_oauth_account(user, account)
        await record_event(
            user_manager,
            "oauth_unlink",
            user=user,
            request=request,
            provider=account.oauth_name,
        )

    return router
