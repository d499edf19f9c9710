"""POST /forgot-password and POST /reset-password."""

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, status
from pydantic import EmailStr

from doorkeeper import exceptions, models
from doorkeeper.audit_flows import record_failure
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
    run_quietly,
)
from doorkeeper.schemas import PASSWORD_MAX_LENGTH

RESET_PASSWORD_RESPONSES: OpenAPIResponseType = bad_request_responses(
    {
        ErrorCode.RESET_PASSWORD_BAD_TOKEN: example(
            "Bad or expired token.", ErrorCode.RESET_PASSWORD_BAD_TOKEN
        ),
        ErrorCode.RESET_PASSWORD_INVALID_PASSWORD: example(
            "Password validation failed.",
            {
                "code": ErrorCode.RESET_PASSWORD_INVALID_PASSWORD,
                "reason": "Password should be at least 3 characters",
            },
        ),
    }
)


async def forgot_password_in_background(
    user_manager: BaseUserManager[models.UP, models.ID], email: str, request: Request
) -> None:
    """Look the address up and start a reset, after the response is sent.

    Whether the address is unknown or inactive never shows in the answer, nor in its
    timing (SECURITY C 11).
    """

    async def job() -> None:
        try:
            user = await user_manager.get_by_email(email)
            await user_manager.forgot_password(user, request)
        except exceptions.UserNotExists as unknown:
            await record_failure(user_manager, "forgot_password", unknown, request=request)
        except exceptions.UserInactive:
            pass  # recorded by the manager

    await run_quietly(job, "forgot-password", user_manager)


def get_reset_password_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    *,
    rate_limiter: RateLimiter | None = None,
) -> APIRouter:
    """A router with the reset-password routes.

    With `rate_limiter`, forgot-password is limited per address and per client IP, and
    bad reset tokens per client IP (SECURITY 16); a reset clears the account's failed
    logins (SECURITY 14).
    """
    router = APIRouter(route_class=DoorkeeperRoute)

    @router.post(
        "/forgot-password",
        status_code=status.HTTP_202_ACCEPTED,
        name="reset:forgot_password",
        responses=rate_limit_responses(rate_limiter),
    )
    async def forgot_password(
        request: Request,
        background_tasks: BackgroundTasks,
        email: EmailStr = Body(..., embed=True),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> None:
        if rate_limiter is not None:
            # The same for every address, known or not: the lookup waits for the response.
            await rate_limiter.check_email_request(request, email, user_manager, "forgot-password")
        background_tasks.add_task(forgot_password_in_background, user_manager, email, request)

    @router.post(
        "/reset-password",
        name="reset:reset_password",
        responses={**RESET_PASSWORD_RESPONSES, **rate_limit_responses(rate_limiter)},
    )
    async def reset_password(
        request: Request,
        token: str = Body(...),
        password: str = Body(..., max_length=PASSWORD_MAX_LENGTH),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> None:
        if rate_limiter is not None:
            await rate_limiter.check_token(request, user_manager, "reset-password")
        try:
            user = await user_manager.reset_password(token, password, request)
        except (
            exceptions.InvalidResetPasswordToken,
            exceptions.UserNotExists,
            exceptions.UserInactive,
        ):
            if rate_limiter is not None:
                await rate_limiter.token_failed(request)
            raise error(ErrorCode.RESET_PASSWORD_BAD_TOKEN) from None
        except exceptions.InvalidPasswordException as exc:
            raise error_with_reason(ErrorCode.RESET_PASSWORD_INVALID_PASSWORD, exc.reason) from None
        if rate_limiter is not None:
            await rate_limiter.password_was_reset(user.email)

    return router
