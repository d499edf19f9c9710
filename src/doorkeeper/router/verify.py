"""POST /request-verify-token and POST /verify."""

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, status
from pydantic import BaseModel, EmailStr

from doorkeeper import exceptions, models, schemas
from doorkeeper.audit_flows import record_failure
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.ratelimit import RateLimiter, rate_limit_responses
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    bad_request_responses,
    error,
    example,
    run_quietly,
)


async def request_verify_in_background(
    user_manager: BaseUserManager[models.UP, models.ID], email: str, request: Request
) -> None:
    """Look the address up and start its verification, after the response is sent.

    Whether the address is unknown, inactive or already verified never shows in the
    answer, nor in its timing (SECURITY C 11).
    """

    async def job() -> None:
        try:
            user = await user_manager.get_by_email(email)
            await user_manager.request_verify(user, request)
        except exceptions.UserNotExists as unknown:
            await record_failure(user_manager, "request_verify", unknown, request=request)
        except (exceptions.UserInactive, exceptions.UserAlreadyVerified):
            pass  # recorded by the manager

    await run_quietly(job, "request-verify-token", user_manager)


def get_verify_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
    *,
    rate_limiter: RateLimiter | None = None,
) -> APIRouter:
    """A router with the e-mail verification routes.

    With `rate_limiter`, request-verify-token is limited per address and per client IP,
    and bad tokens per client IP (SECURITY 16).
    """
    router = APIRouter(route_class=DoorkeeperRoute)

    @router.post(
        "/request-verify-token",
        status_code=status.HTTP_202_ACCEPTED,
        name="verify:request-token",
        responses=rate_limit_responses(rate_limiter),
    )
    async def request_verify_token(
        request: Request,
        background_tasks: BackgroundTasks,
        email: EmailStr = Body(..., embed=True),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> None:
        if rate_limiter is not None:
            # The same for every address, known or not: the lookup waits for the response.
            await rate_limiter.check_email_request(
                request, email, user_manager, "request-verify-token"
            )
        background_tasks.add_task(request_verify_in_background, user_manager, email, request)

    responses = bad_request_responses(
        {
            ErrorCode.VERIFY_USER_BAD_TOKEN: example(
                "Bad token, not existing user or not the e-mail currently set for the user.",
                ErrorCode.VERIFY_USER_BAD_TOKEN,
            ),
            ErrorCode.VERIFY_USER_ALREADY_VERIFIED: example(
                "The user is already verified.", ErrorCode.VERIFY_USER_ALREADY_VERIFIED
            ),
        }
    )

    @router.post(
        "/verify",
        response_model=user_schema,
        name="verify:verify",
        responses={**responses, **rate_limit_responses(rate_limiter)},
    )
    async def verify(
        request: Request,
        token: str = Body(..., embed=True),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> BaseModel:
        if rate_limiter is not None:
            await rate_limiter.check_token(request, user_manager, "verify")
        try:
            user = await user_manager.verify(token, request)
        except (exceptions.InvalidVerifyToken, exceptions.UserNotExists):
            if rate_limiter is not None:
                await rate_limiter.token_failed(request)
            raise error(ErrorCode.VERIFY_USER_BAD_TOKEN) from None
        except exceptions.UserAlreadyVerified:
            raise error(ErrorCode.VERIFY_USER_ALREADY_VERIFIED) from None
        return user_schema.model_validate(user)

    return router
