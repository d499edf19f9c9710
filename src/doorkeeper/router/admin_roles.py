"""Role administration, for superusers and holders of `roles:admin`:

    GET    /              every role, by name, with its permissions
    POST   /              create a role (201; 409 ROLE_ALREADY_EXISTS)
    GET    /{name}        one role (404 ROLE_NOT_FOUND)
    PATCH  /{name}        rename it and/or replace its permissions
    DELETE /{name}        delete it (409 ROLE_STILL_GRANTED while users hold it,
                          unless ?force=true)

Include it with a prefix, e.g. `/admin/roles`. Every change records an audit event
(`role_create`, `role_rename`, `role_permissions_change`, `role_delete`) naming the
caller (`actor_id`).
"""

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from doorkeeper import models
from doorkeeper.audit import record_event
from doorkeeper.authentication import Authenticator
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.rbac.errors import RoleAlreadyExists, RoleNotFound, RoleStillGranted
from doorkeeper.rbac.permissions import ROLES_ADMIN
from doorkeeper.rbac.records import RoleData, RoleStore
from doorkeeper.router.admin_common import (
    ADMIN_ERRORS,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    admin_dependency,
    error_response,
    http_error,
    require_role_store,
)
from doorkeeper.router.common import DoorkeeperRoute, ErrorCode

__all__ = ["get_admin_roles_router"]

NOT_FOUND = error_response(status.HTTP_404_NOT_FOUND, "No such role.", ErrorCode.ROLE_NOT_FOUND)
CONFLICT = error_response(
    status.HTTP_409_CONFLICT, "The name is taken.", ErrorCode.ROLE_ALREADY_EXISTS
)


def get_admin_roles_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    authenticator: Authenticator[models.UP, models.ID],
    role_store: RoleStore | None,
    requires_verification: bool = False,
) -> APIRouter:
    """The role administration routes over `role_store`."""
    store: RoleStore = require_role_store(role_store)
    get_admin = admin_dependency(authenticator, ROLES_ADMIN, requires_verification)
    router = APIRouter(
        route_class=DoorkeeperRoute, dependencies=[Depends(get_admin)], responses=ADMIN_ERRORS
    )

    async def audit(
        user_manager: BaseUserManager[models.UP, models.ID],
        event: str,
        request: Request,
        actor: Any,
        **details: Any,
    ) -> None:
        await record_event(user_manager, event, request=request, actor_id=str(actor.id), **details)

    async def found(name: str) -> RoleData:
        role = await store.get_role(name)
        if role is None:
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND)
        return role

    @router.get("", name="admin:list_roles", response_model=list[RoleRead])
    async def list_roles() -> list[RoleRead]:
        return [RoleRead.of(role) for role in await store.list_roles()]

    @router.post(
        "",
        name="admin:create_role",
        status_code=status.HTTP_201_CREATED,
        response_model=RoleRead,
        responses=CONFLICT,
    )
    async def create_role(
        body: RoleCreate,
        request: Request,
        actor: Any = Depends(get_admin),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> RoleRead:
        try:
            role = await store.create_role(body.name, body.permissions)
        except RoleAlreadyExists:
            raise http_error(status.HTTP_409_CONFLICT, ErrorCode.ROLE_ALREADY_EXISTS) from None
        await audit(
            user_manager,
            "role_create",
            request,
            actor,
            role=role.name,
            permissions=",".join(role.permissions),
        )
        return RoleRead.of(role)

    @router.get("/{name}", name="admin:role", response_model=RoleRead, responses=NOT_FOUND)
    async def get_role(name: str) -> RoleRead:
        return RoleRead.of(await found(name))

    @router.patch(
        "/{name}",
        name="admin:patch_role",
        response_model=RoleRead,
        responses={**NOT_FOUND, **CONFLICT},
    )
    async def update_role(
        name: str,
        body: RoleUpdate,
        request: Request,
        actor: Any = Depends(get_admin),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> RoleRead:
        try:
            role = await found(name)
            if body.name is not None and body.name != name:
                role = await store.rename_role(name, body.name)
                await audit(
                    user_manager, "role_rename", request, actor, role=role.name, old_name=name
                )
            if body.permissions is not None:
                role = await store.set_permissions(role.name, body.permissions)
                await audit(
                    user_manager,
                    "role_permissions_change",
                    request,
                    actor,
                    role=role.name,
                    permissions=",".join(role.permissions),
                )
        except RoleNotFound:  # deleted meanwhile
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND) from None
        except RoleAlreadyExists:
            raise http_error(status.HTTP_409_CONFLICT, ErrorCode.ROLE_ALREADY_EXISTS) from None
        return RoleRead.of(role)

    @router.delete(
        "/{name}",
        name="admin:delete_role",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={
            **NOT_FOUND,
            **error_response(
                status.HTTP_409_CONFLICT,
                "Users still hold the role: delete it with ?force=true.",
                ErrorCode.ROLE_STILL_GRANTED,
            ),
        },
    )
    async def delete_role(
        name: str,
        request: Request,
        force: bool = Query(False, description="Delete the role even if users hold it."),
        actor: Any = Depends(get_admin),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Response:
        try:
            holders = await store.delete_role(name, force=force)
        except RoleNotFound:
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND) from None
        except RoleStillGranted:
            raise http_error(status.HTTP_409_CONFLICT, ErrorCode.ROLE_STILL_GRANTED) from None
        await audit(user_manager, "role_delete", request, actor, role=name, holders=holders)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
