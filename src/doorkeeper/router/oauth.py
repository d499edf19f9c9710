"""OAuth2 / OpenID Connect sign-in (`get_oauth_router`) and linking a provider account
to a signed-in user (`get_oauth_associate_router`), with FastAPI Users' arguments,
routes, route names and error codes, on httpx-oauth clients (the `oauth` extra).

Safer than FastAPI Users (SECURITY 31-35): the state is bound to the browser,
single-use and short-lived (`doorkeeper.router.oauth_state`); every flow uses PKCE S256
and OpenID Connect clients a nonce and a checked ID token; the state is checked before
the code is exchanged; redirect targets are checked against an allow-list
(`doorkeeper.router.oauth_redirect`); e-mail association needs a verified address and
revokes an unverified account's password and sessions (`doorkeeper.oauth_flows`);
provider tokens are stored encrypted (`doorkeeper.oauth.crypto`); every provider
failure is a 400 with a stable code or a 502, never a 500.
"""

import inspect
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from httpx_oauth.oauth2 import BaseOAuth2
from starlette.routing import NoMatchFound

from doorkeeper import models
from doorkeeper.audit import record_event
from doorkeeper.authentication import AuthenticationBackend, Strategy
from doorkeeper.authentication.transport import CookieTransport
from doorkeeper.exceptions import UserAlreadyExists
from doorkeeper.jwt import SecretType
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.oauth.crypto import TokenCipher
from doorkeeper.oauth_flows import EMAIL_VERIFIED_STATE
from doorkeeper.router.common import DoorkeeperRoute, ErrorCode
from doorkeeper.router.oauth_associate import get_oauth_associate_router
from doorkeeper.router.oauth_exchange import (
    DEFAULT_EXCHANGE_CODE_LIFETIME_SECONDS,
    ExchangeCodes,
    add_exchange_route,
)
from doorkeeper.router.oauth_flow import (
    CALLBACK_DESCRIPTION,
    OAuth2AuthorizeResponse,
    authorize_responses,
    build_flow,
    callback_responses,
    redirect_to,
    refuse,
)
from doorkeeper.router.oauth_redirect import with_query
from doorkeeper.router.oauth_state import (
    CSRF_TOKEN_COOKIE_NAME,
    CSRF_TOKEN_KEY,
    DEFAULT_STATE_LIFETIME_SECONDS,
    STATE_TOKEN_AUDIENCE,
    StateCookie,
    generate_csrf_token,
    generate_state_token,
)
from doorkeeper.singleuse import SingleUseStore

__all__ = [
    "CSRF_TOKEN_COOKIE_NAME",
    "CSRF_TOKEN_KEY",
    "STATE_TOKEN_AUDIENCE",
    "OAuth2AuthorizeResponse",
    "generate_csrf_token",
    "generate_state_token",
    "get_oauth_associate_router",
    "get_oauth_router",
]


def _accepts(method: Any, name: str) -> bool:
    parameters = inspect.signature(method).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _request_at(request: Request, path: str) -> Request:
    """`request` as if it were for `path`: the backend scopes the refresh cookie to the
    sibling `refresh` route of the request's path."""
    return Request({**request.scope, "path": path, "root_path": ""}, request.receive)


def _route_path(request: Request, name: str) -> str | None:
    """The path of the app's route `name`, if it has one."""
    try:
        return request.url_for(name).path
    except NoMatchFound:
        return None


def get_oauth_router(
    oauth_client: BaseOAuth2[Any],
    backend: AuthenticationBackend[models.UP, models.ID],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    state_secret: SecretType,
    redirect_url: str | None = None,
    associate_by_email: bool = False,
    is_verified_by_default: bool = False,
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
    exchange_code_lifetime_seconds: int = DEFAULT_EXCHANGE_CODE_LIFETIME_SECONDS,
    token_cipher: TokenCipher | None = None,
    encrypt_tokens: bool = True,
    assume_email_verified: bool = False,
    refresh: bool = False,
    refresh_path: str | None = None,
) -> APIRouter:
    """A router with `GET /authorize` and `GET /callback` signing in with `oauth_client`
    through `backend` (FastAPI Users' arguments first; the rest is Doorkeeper's).

    :param state_lifetime_seconds: how long a sign-in at the provider may take.
    :param state_store: where spent states (and one-time codes) are recorded; share one
        SQL or Redis store between the app's instances. Default: this process's memory.
    :param frontend_url: end the callback with a 303 to this URL (or to the `next` given
        to `/authorize`) instead of the backend's login response: a cookie backend sets
        its cookie on the redirect; any other backend adds a one-time `code` that the
        front end exchanges at `POST /exchange` for the login response.
    :param allowed_redirect_origins: further origins `next` and `redirect_url` may be on.
    :param exchange_code_lifetime_seconds: how long a one-time code lives.
    :param token_cipher: encrypts the provider tokens before they are stored; default:
        a key derived from `state_secret`.
    :param encrypt_tokens: `False` stores provider tokens as they are (FastAPI Users).
    :param assume_email_verified: take the e-mail of a client that cannot tell (a plain
        httpx-oauth client) as verified, so that `associate_by_email` applies to it.
    :param refresh: the sign-in also issues a refresh token (the backend needs sessions).
    :param refresh_path: the path a cookie backend's refresh cookie is scoped to; default:
        the path of the backend's refresh route (`auth:{backend}.refresh`) in the app.
    """
    if refresh and backend.sessions is None:
        raise ValueError(f"refresh=True needs a backend with sessions; {backend.name!r} has none")
    is_cookie = isinstance(backend.transport, CookieTransport)
    router = APIRouter(route_class=DoorkeeperRoute)
    prefix = f"oauth:{oauth_client.name}.{backend.name}"
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
        assume_email_verified=assume_email_verified,
    )
    codes = ExchangeCodes(
        flow.states.store,
        route=f"{prefix}.callback",
        lifetime_seconds=exchange_code_lifetime_seconds,
    )

    @router.get(
        "/authorize",
        name=f"{prefix}.authorize",
        response_model=OAuth2AuthorizeResponse,
        responses=authorize_responses(),
    )
    async def authorize(
        request: Request,
        response: Response,
        scopes: list[str] = Query(None),
        next: str | None = Query(None, description="Where to go after signing in."),
    ) -> OAuth2AuthorizeResponse:
        return await flow.authorize(request, response, scopes, next)

    async def sign_in(
        user: models.UP,
        request: Request,
        user_manager: BaseUserManager[models.UP, models.ID],
        strategy: Strategy[models.UP, models.ID],
    ) -> Response:
        login_request = request
        if refresh and is_cookie:
            path = refresh_path or _route_path(request, f"auth:{backend.name}.refresh")
            login_request = request if path is None else _request_at(request, path)
        response = await backend.login(strategy, user, login_request, issue_refresh_token=refresh)
        await record_event(
            user_manager,
            "oauth_login",
            user=user,
            request=request,
            provider=flow.name,
            backend=backend.name,
        )
        await user_manager.on_after_login(user, request, response)
        return response

    @router.get(
        "/callback",
        name=f"{prefix}.callback",
        description=CALLBACK_DESCRIPTION,
        responses=callback_responses(
            ErrorCode.OAUTH_USER_ALREADY_EXISTS, ErrorCode.LOGIN_BAD_CREDENTIALS
        ),
    )
    async def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
    ) -> Response:
        completed = await flow.complete(
            request, user_manager, "oauth_login", code=code, state=state, error=error
        )
        setattr(request.state, EMAIL_VERIFIED_STATE, completed.email_verified)
        options: dict[str, Any] = {
            "associate_by_email": associate_by_email,
            "is_verified_by_default": is_verified_by_default,
        }
        if _accepts(user_manager.oauth_callback, "email_verified"):
            options["email_verified"] = completed.email_verified
        try:
            user = await user_manager.oauth_callback(
                *flow.account_arguments(completed), request, **options
            )
        except UserAlreadyExists:
            raise await refuse(
                flow, user_manager, request, "oauth_login", ErrorCode.OAUTH_USER_ALREADY_EXISTS
            ) from None
        if not user.is_active:
            raise await refuse(
                flow, user_manager, request, "oauth_login", ErrorCode.LOGIN_BAD_CREDENTIALS
            )
        if flow.redirect is None:
            return await sign_in(user, request, user_manager, strategy)
        target = completed.state.next_url or flow.redirect.frontend_url
        if is_cookie:
            return redirect_to(target, await sign_in(user, request, user_manager, strategy))
        return redirect_to(with_query(target, code=await codes.issue(user)))

    if frontend_url is not None and not is_cookie:
        add_exchange_route(
            router,
            route_name=f"{prefix}.exchange",
            backend=backend,
            get_user_manager=get_user_manager,
            codes=codes,
            sign_in=sign_in,
        )
    return router
