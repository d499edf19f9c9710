"""POST /register.

By default it answers as FastAPI Users does: 201 with the new user, or 400
`REGISTER_USER_ALREADY_EXISTS`. With `enumeration_safe=True` (SECURITY 12) it answers 202
`{"detail": "CHECK_YOUR_MAILBOX"}` to every acceptable request, whether the address is new
or taken, after the same work (checking the password); the account is created after the
response, and the owner of a taken address is told by the manager's
`on_after_register_existing(user, request)` hook.
"""

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status
from pydantic import BaseModel

from doorkeeper import exceptions, models, schemas
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.openapi import OpenAPIResponseType
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    bad_request_responses,
    error,
    error_with_reason,
    example,
    run_quietly,
)

CHECK_YOUR_MAILBOX = "CHECK_YOUR_MAILBOX"
"""The `detail` of every accepted registration in enumeration-safe mode."""

"""The manager method called, in enumeration-safe mode, with the owner of a taken address."""


class RegisterAcceptedModel(BaseModel):
    """The answer of an enumeration-safe registration: the same for new and taken addresses."""

    detail: str = CHECK_YOUR_MAILBOX


INVALID_PASSWORD_EXAMPLE = example(
    "Password validation failed.",
    {
        "code": ErrorCode.REGISTER_INVALID_PASSWORD,
        "reason": "Password should be at least 3 characters",
    },
)


async def register_in_background(
    user_manager: BaseUserManager[models.UP, models.ID],
    user_create: schemas.BaseUserCreate,
    request: Request,
) -> None:
    """Create the account, or tell the owner of the taken address, after the response."""

    async def job() -> None:
        try:
            await user_manager.create(user_create, safe=True, request=request)
        except exceptions.UserAlreadyExists:
            await notify_owner(user_manager, user_create.email, request)
        except exceptions.InvalidPasswordException:
            pass  # checked before answering; a policy that changed its mind since wins

    await run_quietly(job, "register", user_manager)


async def notify_owner(
    user_manager: BaseUserManager[models.UP, models.ID], email: str, request: Request
) -> None:
    """Hand the owner of `email` to the manager's `on_after_register_existing` hook."""
    try:
        owner = await user_manager.get_by_email(email)
    except exceptions.UserNotExists:
        return  # deleted in the meantime
    await user_manager.on_after_register_existing(owner, request)


def get_register_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
    user_create_schema: type[schemas.UC],
    enumeration_safe: bool = False,
) -> APIRouter:
    """A router with the register route.

    :param enumeration_safe: answer 202 `CHECK_YOUR_MAILBOX` for new and taken addresses
        alike (see the module's documentation); `False` keeps FastAPI Users' answers.
    """
    if enumeration_safe:
        return _enumeration_safe_router(get_user_manager, user_create_schema)
    router = APIRouter(route_class=DoorkeeperRoute)

    responses = bad_request_responses(
        {
            ErrorCode.REGISTER_USER_ALREADY_EXISTS: example(
                "A user with this email already exists.", ErrorCode.REGISTER_USER_ALREADY_EXISTS
            ),
            ErrorCode.REGISTER_INVALID_PASSWORD: INVALID_PASSWORD_EXAMPLE,
        }
    )

    @router.post(
        "/register",
        response_model=user_schema,
        status_code=status.HTTP_201_CREATED,
        name="register:register",
        responses=responses,
    )
    async def register(
        request: Request,
        user_create: user_create_schema,  # type: ignore[valid-type]
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> BaseModel:
        try:
            # safe=True: privileged fields of the body (is_superuser, ...) are ignored.
            created_user = await user_manager.create(user_create, safe=True, request=request)
        except exceptions.UserAlreadyExists:
            raise error(ErrorCode.REGISTER_USER_ALREADY_EXISTS) from None
        except exceptions.InvalidPasswordException as exc:
            raise error_with_reason(ErrorCode.REGISTER_INVALID_PASSWORD, exc.reason) from None
        return user_schema.model_validate(created_user)

    return router


def _enumeration_safe_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_create_schema: type[schemas.UC],
) -> APIRouter:
    router = APIRouter(route_class=DoorkeeperRoute)
    responses: OpenAPIResponseType = bad_request_responses(
        {ErrorCode.REGISTER_INVALID_PASSWORD: INVALID_PASSWORD_EXAMPLE}
    )

    @router.post(
        "/register",
        response_model=RegisterAcceptedModel,
        status_code=status.HTTP_202_ACCEPTED,
        name="register:register",
        responses=responses,
        description=(
            "Answers 202 CHECK_YOUR_MAILBOX whether the address is new or taken: a new "
            "address gets its verification mail, the owner of a taken one a notice."
        ),
    )
    async def register(
        request: Request,
        background_tasks: BackgroundTasks,
        user_create: user_create_schema,  # type: ignore[valid-type]
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> RegisterAcceptedModel:
        # Only what does not depend on the address being taken happens before the answer.
        body: schemas.BaseUserCreate = user_create
        try:
            await user_manager.validate_password(body.password, body)
        except exceptions.InvalidPasswordException as exc:
            raise error_with_reason(ErrorCode.REGISTER_INVALID_PASSWORD, exc.reason) from None
        background_tasks.add_task(register_in_background, user_manager, body, request)
        return RegisterAcceptedModel()

    return router
