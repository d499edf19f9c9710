"""POST /request-verify-token and POST /verify."""

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, status
from pydantic import BaseModel, EmailStr

from doorkeeper import exceptions, models, schemas
from doorkeeper.manager import BaseUserManager, UserManagerDependency
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
        except (
            exceptions.UserNotExists,
            exceptions.UserInactive,
            exceptions.UserAlreadyVerified,
        ):
            pass

    await run_quietly(job, "request-verify-token", user_manager)


def get_verify_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
) -> APIRouter:
    """A router with the e-mail verification routes."""
    router = APIRouter(route_class=DoorkeeperRoute)

    @router.post(
        "/request-verify-token",
        status_code=status.HTTP_202_ACCEPTED,
        name="verify:request-token",
    )
    async def request_verify_token(
        request: Request,
        background_tasks: BackgroundTasks,
        email: EmailStr = Body(..., embed=True),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> None:
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

    @router.post("/verify", response_model=user_schema, name="verify:verify", responses=responses)
    async def verify(
        request: Request,
        token: str = Body(..., embed=True),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> BaseModel:
        try:
            user = await user_manager.verify(token, request)
        except (exceptions.InvalidVerifyToken, exceptions.UserNotExists):
            raise error(ErrorCode.VERIFY_USER_BAD_TOKEN) from None
        except exceptions.UserAlreadyVerified:
            raise error(ErrorCode.VERIFY_USER_ALREADY_VERIFIED) from None
        return user_schema.model_validate(user)

    return router
