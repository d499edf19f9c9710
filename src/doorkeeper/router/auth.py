"""POST /login and POST /logout for one authentication backend."""

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from doorkeeper import models
from doorkeeper.authentication import AuthenticationBackend, Authenticator, Strategy
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    OpenAPIResponseType,
    bad_request_responses,
    error,
    example,
    too_long,
)
from doorkeeper.schemas import PASSWORD_MAX_LENGTH


def get_auth_router(
    backend: AuthenticationBackend[models.UP, models.ID],
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    authenticator: Authenticator[models.UP, models.ID],
    requires_verification: bool = False,
) -> APIRouter:
    """A router with the login and logout routes of `backend`."""
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

    @router.post("/login", name=f"auth:{backend.name}.login", responses=login_responses)
    async def login(
        request: Request,
        credentials: OAuth2PasswordRequestForm = Depends(),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
    ) -> Response:
        if len(credentials.password) > PASSWORD_MAX_LENGTH:
            # Refused before any hashing: a huge password must not cost a hash.
            raise too_long("password", PASSWORD_MAX_LENGTH)
        user = await user_manager.authenticate(credentials)
        # Unknown user, wrong password and inactive user: one and the same answer.
        if user is None or not user.is_active:
            raise error(ErrorCode.LOGIN_BAD_CREDENTIALS)
        if requires_verification and not user.is_verified:
            raise error(ErrorCode.LOGIN_USER_NOT_VERIFIED)
        response = await backend.login(strategy, user)
        await user_manager.on_after_login(user, request, response)
        return response

    logout_responses: OpenAPIResponseType = {
        status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."},
        **backend.transport.get_openapi_logout_responses_success(),
    }

    @router.post("/logout", name=f"auth:{backend.name}.logout", responses=logout_responses)
    async def logout(
        user_token: tuple[models.UP, str] = Depends(get_current_user_token),
        strategy: Strategy[models.UP, models.ID] = Depends(backend.get_strategy),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Response:
        user, token = user_token
        return await backend.logout(strategy, user, token, user_manager)

    return router
