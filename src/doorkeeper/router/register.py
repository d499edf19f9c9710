"""POST /register."""

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel

from doorkeeper import exceptions, models, schemas
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    bad_request_responses,
    error,
    error_with_reason,
    example,
)


def get_register_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
    user_create_schema: type[schemas.UC],
) -> APIRouter:
    """A router with the register route."""
    router = APIRouter(route_class=DoorkeeperRoute)

    responses = bad_request_responses(
        {
            ErrorCode.REGISTER_USER_ALREADY_EXISTS: example(
                "A user with this email already exists.", ErrorCode.REGISTER_USER_ALREADY_EXISTS
            ),
            ErrorCode.REGISTER_INVALID_PASSWORD: example(
                "Password validation failed.",
                {
                    "code": ErrorCode.REGISTER_INVALID_PASSWORD,
                    "reason": "Password should be at least 3 characters",
                },
            ),
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
