"""Linking a provider account to the signed-in user (`get_oauth_associate_router`), with
FastAPI Users' arguments, routes, route names and error codes; the checks are those of
the sign-in router (`doorkeeper.router.oauth`)."""

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from httpx_oauth.oauth2 import BaseOAuth2

from doorkeeper import models, schemas
from doorkeeper.authentication import Authenticator
from doorkeeper.exceptions import UserAlreadyExists
from doorkeeper.jwt import SecretType
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.oauth.crypto import TokenCipher
from doorkeeper.oauth_flows import OAuthAccountAlreadyLinked
from doorkeeper.router.common import DoorkeeperRoute, ErrorCode
from doorkeeper.router.oauth_flow import (
    CALLBACK_DESCRIPTION,
    OAuth2AuthorizeResponse,
    authorize_responses,
    build_flow,
    callback_responses,
    redirect_to,
    refuse,
    signed_in_responses,
)
from doorkeeper.router.oauth_state import (
    CSRF_TOKEN_COOKIE_NAME,
    DEFAULT_STATE_LIFETIME_SECONDS,
    StateCookie,
)
from doorkeeper.singleuse import SingleUseStore

__all__ = ["get_oauth_associate_router"]


def get_oauth_associate_router(
    oauth_client: BaseOAuth2[Any],
    authenticator: Authenticator[models.UP, models.ID],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
    state_secret: SecretType,
    redirect_url: str | None = None,
    requires_verification: bool = False,
    *,
    csrf_token_cookie_name: str = CSRF_TOKEN_COOKIE_NAME,
    csrf_token_cookie_path: str = "/",  # noqa: S107 - a cookie path
    csrf_token_cookie_domain: str | None = None,
    csrf_token_cookie_secure: bool = True,
    csrf_token_cookie_httponly: bool = True,
    csrf_token_cookie_samesite: Literal["lax", "strict", "none"] = "lax",  # noqa: S107
    state_lifetime_seconds: int = DEFAULT_STATE_LIFETIME_SECONDS,
    state_store: SingleUseStore | None = None,
    frontend_url: str | None = None,
    allowed_redirect_origins: Sequence[str] = (),
    token_cipher: TokenCipher | None = None,
    encrypt_tokens: bool = True,
) -> APIRouter:
    """A router with `GET /authorize` and `GET /callback` linking an `oauth_client`
    account to the signed-in user (FastAPI Users' arguments first). The callback answers
    the user, or with `frontend_url` a 303 to it (or to `/authorize`'s `next`).

    The keyword arguments after FastAPI Users' are those of `get_oauth_router`.
    """
    router = APIRouter(route_class=DoorkeeperRoute)
    get_current_active_user = authenticator.current_user(
        active=True, verified=requires_verification
    )
    prefix = f"oauth-associate:{oauth_client.name}"
    cookie = StateCookie(
        csrf_token_cookie_name,
        csrf_token_cookie_path,
        csrf_token_cookie_domain,
        csrf_token_cookie_secure,
        csrf_token_cookie_httponly,
        csrf_token_cookie_samesite,
    )
    flow = build_flow(
        oauth_client,
        state_secret,
        f"{prefix}.callback",
        redirect_url,
        cookie,
        state_lifetime_seconds=state_lifetime_seconds,
        state_store=state_store,
        frontend_url=frontend_url,
        allowed_redirect_origins=allowed_redirect_origins,
        token_cipher=token_cipher,
        encrypt_tokens=encrypt_tokens,
    )

    @router.get(
        "/authorize",
        name=f"{prefix}.authorize",
        response_model=OAuth2AuthorizeResponse,
        responses={**authorize_responses(), **signed_in_responses(requires_verification)},
    )
    async def authorize(
        request: Request,
        response: Response,
        scopes: list[str] = Query(None),
        next: str | None = Query(None, description="Where to go after linking."),
        user: models.UP = Depends(get_current_active_user),
    ) -> OAuth2AuthorizeResponse:
        return await flow.authorize(request, response, scopes, next, subject=str(user.id))

    @router.get(
        "/callback",
        name=f"{prefix}.callback",
        response_model=user_schema,
        description=CALLBACK_DESCRIPTION,
        responses={
            **callback_responses(ErrorCode.OAUTH_ACCOUNT_ALREADY_LINKED),
            **signed_in_responses(requires_verification),
        },
    )
    async def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
        user: models.UP = Depends(get_current_active_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Any:
        completed = await flow.complete(
            request,
            user_manager,
            "oauth_link",
            code=code,
            state=state,
            error=error,
            subject=str(user.id),
        )
        try:
            user = await user_manager.oauth_associate_callback(
                user, *flow.account_arguments(completed), request
            )
        except (OAuthAccountAlreadyLinked, UserAlreadyExists):
            raise await refuse(
                flow, user_manager, request, "oauth_link", ErrorCode.OAUTH_ACCOUNT_ALREADY_LINKED
            ) from None
        if flow.redirect is not None:
            return redirect_to(completed.state.next_url or flow.redirect.frontend_url)
        return user_schema.model_validate(user)

    return router
