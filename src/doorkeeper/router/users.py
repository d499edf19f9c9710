"""GET/PATCH /me, POST /confirm-email and, for superusers, GET/PATCH/DELETE /{id}."""

from typing import Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    HTTPException,
    Request,
    Response,
    status,
)
from pydantic import BaseModel

from doorkeeper import exceptions, models, schemas
from doorkeeper.authentication import Authenticator
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.ratelimit import RateLimiter, rate_limit_responses
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    OpenAPIResponseType,
    bad_request_responses,
    error,
    error_with_reason,
    example,
    share_background_tasks,
)

UNAUTHORIZED: OpenAPIResponseType = {
    status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."}
}
SUPERUSER_ONLY: OpenAPIResponseType = {
    **UNAUTHORIZED,
    status.HTTP_403_FORBIDDEN: {"description": "Not a superuser."},
    status.HTTP_404_NOT_FOUND: {"description": "The user does not exist."},
}
UPDATE_ERRORS: OpenAPIResponseType = bad_request_responses(
    {
        ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS: example(
            "A user with this email already exists.", ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS
        ),
        ErrorCode.UPDATE_USER_INVALID_PASSWORD: example(
            "Password validation failed.",
            {
                "code": ErrorCode.UPDATE_USER_INVALID_PASSWORD,
                "reason": "Password should be at least 3 characters",
            },
        ),
    }
)

CONFIRM_EMAIL_ERRORS: OpenAPIResponseType = bad_request_responses(
    {
        ErrorCode.EMAIL_CHANGE_BAD_TOKEN: example(
            "Bad, expired or used token, or the account changed since.",
            ErrorCode.EMAIL_CHANGE_BAD_TOKEN,
        ),
        ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS: example(
            "The new address got an account in the meantime.",
            ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS,
        ),
    }
)


async def update_or_400(
    user_manager: BaseUserManager[models.UP, models.ID],
    user_update: schemas.BaseUserUpdate,
    user: models.UP,
    *,
    safe: bool,
    request: Request,
) -> models.UP:
    """Apply an update, mapping refusals to their 400 answers."""
    try:
        return await user_manager.update(user_update, user, safe=safe, request=request)
    except exceptions.InvalidPasswordException as exc:
        raise error_with_reason(ErrorCode.UPDATE_USER_INVALID_PASSWORD, exc.reason) from None
    except exceptions.UserAlreadyExists:
        raise error(ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS) from None


def get_users_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
    user_update_schema: type[schemas.UU],
    authenticator: Authenticator[models.UP, models.ID],
    requires_verification: bool = False,
    *,
    rate_limiter: RateLimiter | None = None,
    email_change: bool = False,
) -> APIRouter:
    """A router with the routes that read and manage users.

    With `email_change`, it also has POST /confirm-email, which applies an e-mail change
    confirmed from the new address (for managers with
    `email_change_requires_confirmation`; SECURITY 39). With `rate_limiter`, bad tokens
    there count per client IP, as on /verify and /reset-password (SECURITY 16).
    """
    router = APIRouter(route_class=DoorkeeperRoute)

    get_current_active_user = authenticator.current_user(
        active=True, verified=requires_verification
    )
    get_current_superuser = authenticator.current_user(
        active=True, verified=requires_verification, superuser=True
    )

    async def get_user_or_404(
        id: str,
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> models.UP:
        # Only reached by superusers: the superuser check is a route dependency, solved
        # first, so anyone else gets 403 whether the id exists, or even parses.
        try:
            return await user_manager.get(user_manager.parse_id(id))
        except (exceptions.UserNotExists, exceptions.InvalidID):
            raise HTTPException(status_code=status.HTTP_404_NOT_FOUND) from None

    @router.get(
        "/me", response_model=user_schema, name="users:current_user", responses=UNAUTHORIZED
    )
    async def me(user: models.UP = Depends(get_current_active_user)) -> BaseModel:
        return user_schema.model_validate(user)

    @router.patch(
        "/me",
        response_model=user_schema,
        dependencies=[Depends(get_current_active_user)],
        name="users:patch_current_user",
        responses={**UNAUTHORIZED, **UPDATE_ERRORS},
    )
    async def update_me(
        request: Request,
        background_tasks: BackgroundTasks,
        user_update: user_update_schema,  # type: ignore[valid-type]
        user: models.UP = Depends(get_current_active_user),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> BaseModel:
        # safe=True: a user cannot make themselves superuser, active or verified, and
        # changing the password requires the current one. A new e-mail may wait for a
        # confirmation (the manager's `email_change_requires_confirmation`).
        share_background_tasks(request, background_tasks)
        updated = await update_or_400(user_manager, user_update, user, safe=True, request=request)
        return user_schema.model_validate(updated)

    if email_change:

        @router.post(
            "/confirm-email",
            response_model=user_schema,
            name="users:confirm_email",
            responses={**CONFIRM_EMAIL_ERRORS, **rate_limit_responses(rate_limiter)},
            description="Apply the e-mail change that the token (mailed to the new address) "
            "confirms; ends every session of the user. Needs no sign-in.",
        )
        async def confirm_email(
            request: Request,
            background_tasks: BackgroundTasks,
            token: str = Body(..., embed=True),
            user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        ) -> BaseModel:
            share_background_tasks(request, background_tasks)
            if rate_limiter is not None:
                await rate_limiter.check_token(request, user_manager, "confirm-email")
            try:
                user = await user_manager.confirm_email_change(token, request)
            except exceptions.InvalidEmailChangeToken:
                if rate_limiter is not None:
                    await rate_limiter.token_failed(request)
                raise error(ErrorCode.EMAIL_CHANGE_BAD_TOKEN) from None
            except exceptions.UserAlreadyExists:
                raise error(ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS) from None
            return user_schema.model_validate(user)

    @router.get(
        "/{id}",
        response_model=user_schema,
        dependencies=[Depends(get_current_superuser)],
        name="users:user",
        responses=SUPERUSER_ONLY,
    )
    async def get_user(user: Any = Depends(get_user_or_404)) -> BaseModel:
        return user_schema.model_validate(user)

    @router.patch(
        "/{id}",
        response_model=user_schema,
        dependencies=[Depends(get_current_superuser)],
        name="users:patch_user",
        responses={**SUPERUSER_ONLY, **UPDATE_ERRORS},
    )
    async def update_user(
        user_update: user_update_schema,  # type: ignore[valid-type]
        request: Request,
        user: Any = Depends(get_user_or_404),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> BaseModel:
        updated = await update_or_400(user_manager, user_update, user, safe=False, request=request)
        return user_schema.model_validate(updated)

    @router.delete(
        "/{id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=[Depends(get_current_superuser)],
        name="users:delete_user",
        responses=SUPERUSER_ONLY,
    )
    async def delete_user(
        request: Request,
        user: Any = Depends(get_user_or_404),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> None:
        await user_manager.delete(user, request=request)

    return router
