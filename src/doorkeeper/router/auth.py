"""POST /login and POST /logout for one authentication backend."""

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from doorkeeper import models
from doorkeeper.audit import FAILURE, record_event
from doorkeeper.authentication import AuthenticationBackend, Authenticator, Strategy
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.ratelimit import RateLimiter, rate_limit_responses
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    OpenAPIResponseType,
    bad_request_responses,
    error,
    example,
    too_long,
)
from doorkeeper.router.csrf import csrf_dependencies, csrf_of, csrf_responses, get_csrf_router
from doorkeeper.router.refresh import add_refresh_route
from doorkeeper.schemas import PASSWORD_MAX_LENGTH


def get_auth_router(
    backend: AuthenticationBackend[models.UP, models.ID],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    authenticator: Authenticator[models.UP, models.ID],
    requires_verification: bool = False,
    *,
    rate_limiter: RateLimiter | None = None,
    refresh: bool = False,
) -> APIRouter:
    """A router with the login and logout routes of `backend`.

    With `rate_limiter`, failed logins are limited per account and per client IP
    (SECURITY 13). With `refresh` (the backend needs `sessions`), login also returns a
    refresh token, and `POST /refresh` rotates it (SECURITY 21).
    """
    if refresh and backend.sessions is None:
        raise ValueError(f"refresh=True needs a backend with sessions; {backend.name!r} has none")
    router = APIRouter(route_class=DoorkeeperRoute)
    get_current_user_token = authenticator.current_user_token(
        active=True, verified=requires_verification
    )

    login_responses: OpenAPIResponseType = {
        **bad_request_responses(
            {
                ErrorCode.LOGIN_BAD_CREDENTIALS: example(
                    "Bad credentials or the user is inactive.", ErrorCode.LOGIN_BAD_CREDENTIALS
                ),
                ErrorCode.LOGIN_USER_NOT_VERIFIED: example(
                    "The user is not verified.", ErrorCode.LOGIN_USER_NOT_VERIFIED
                ),
            }
        ),
        **backend.transport.get_openapi_login_responses_success(),
    }

    @router.post(
        "/login",
        name=f"auth:{backend.name}.login",
        responses={
            **login_responses,
            **csrf_responses(backend),
            **rate_limit_responses(rate_limiter),
        },
        dependencies=csrf_dependencies(backend),  # login CSRF (SECURITY 30)
    )
    async def login(
        request: Request,
        credentials: OAuth2PasswordRequestForm = Depends(),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
    ) -> Response:
        if len(credentials.password) > PASSWORD_MAX_LENGTH:
            # Refused before any hashing: a huge password must not cost a hash.
            raise too_long("password", PASSWORD_MAX_LENGTH)
        if rate_limiter is not None:
            # Before any hashing: past the limit even the right password gets 429.
            await rate_limiter.check_login(request, credentials.username, user_manager)
        user = await user_manager.authenticate(credentials)

        async def refuse(code: ErrorCode) -> HTTPException:
            await record_event(
                user_manager,
                "login",
                outcome=FAILURE,
                user=user,
                request=request,
                backend=backend.name,
                reason=code.value,
            )
            return error(code)

        # Unknown user, wrong password and inactive user: one and the same answer.
        if user is None or not user.is_active:
            if rate_limiter is not None:
                await rate_limiter.login_failed(request)
            raise await refuse(ErrorCode.LOGIN_BAD_CREDENTIALS)
        if requires_verification and not user.is_verified:
            raise await refuse(ErrorCode.LOGIN_USER_NOT_VERIFIED)
        if rate_limiter is not None:
            await rate_limiter.login_succeeded(credentials.username)
        response = await backend.login(strategy, user, request, issue_refresh_token=refresh)
        await record_event(user_manager, "login", user=user, request=request, backend=backend.name)
        await user_manager.on_after_login(user, request, response)
        return response

    logout_responses: OpenAPIResponseType = {
        status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."},
        # A transport without a logout response of its own (bearer) answers 204.
        **(
            backend.transport.get_openapi_logout_responses_success()
            or {status.HTTP_204_NO_CONTENT: {"description": "Signed out."}}
        ),
    }

    # Logout's CSRF check is the authenticator's, as on every cookie-authenticated route.
    @router.post(
        "/logout",
        name=f"auth:{backend.name}.logout",
        responses={**logout_responses, **csrf_responses(backend)},
    )
    async def logout(
        request: Request,
        user_token: tuple[models.UP, str] = Depends(get_current_user_token),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Response:
        user, token = user_token
        response = await backend.logout(strategy, user, token, user_manager, request)
        await record_event(user_manager, "logout", user=user, request=request, backend=backend.name)
        return response

    if refresh:
        add_refresh_route(
            router, backend, get_user_manager, requires_verification, csrf_dependencies(backend)
        )

    if csrf_of(backend) is not None:
        router.include_router(get_csrf_router(backend))
    return router
