"""User administration, for superusers and holders of `users:admin`:

    GET    /                     one page of users (filters, stable order by id)
    POST   /                     create a user (201)
    GET    /{id}                 a user, with their roles
    PUT    /{id}/password        set their password (ends their sessions; 204)
    POST   /{id}/activate        let them sign in again
    POST   /{id}/deactivate      stop them from signing in (ends their sessions)
    DELETE /{id}/sessions        end all their sessions (204)
    PUT    /{id}/roles/{role}    grant a role (`roles:admin`; 204)
    DELETE /{id}/roles/{role}    take a role back (`roles:admin`; 204)

Include it with a prefix, e.g. `/admin/users`. An admin who is not a superuser cannot
make a superuser nor give roles at creation without `roles:admin`, and manages only
users whose permissions their own cover (never a superuser): 403
`INSUFFICIENT_PERMISSIONS` otherwise. Every change records an audit event naming the
caller (`actor_id`), besides the events of the manager's flows.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, create_model

from doorkeeper import exceptions, models, schemas
from doorkeeper.audit import record_event
from doorkeeper.authentication import AuthenticationBackend, Authenticator
from doorkeeper.authentication.rbac import grants_of
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.rbac.errors import RoleNotFound
from doorkeeper.rbac.permissions import ROLES_ADMIN, USERS_ADMIN, has_permissions
from doorkeeper.rbac.records import RoleStore, UserQuery
from doorkeeper.router.admin_common import (
    ADMIN_ERRORS,
    RoleName,
    admin_dependency,
    error_response,
    http_error,
    require_role_store,
)
from doorkeeper.router.common import (
    DoorkeeperRoute,
    ErrorCode,
    bad_request_responses,
    error,
    error_with_reason,
    example,
)
from doorkeeper.router.register import INVALID_PASSWORD_EXAMPLE
from doorkeeper.router.sessions import BackendSessions
from doorkeeper.router.users import UPDATE_ERRORS, update_or_400

CREATE_ERRORS = bad_request_responses(
    {
        ErrorCode.REGISTER_USER_ALREADY_EXISTS: example(
            "A user with this email already exists.", ErrorCode.REGISTER_USER_ALREADY_EXISTS
        ),
        ErrorCode.REGISTER_INVALID_PASSWORD: INVALID_PASSWORD_EXAMPLE,
    }
)

__all__ = ["MAX_PAGE_SIZE", "get_admin_users_router"]

MAX_PAGE_SIZE = 1000
USER_NOT_FOUND = error_response(
    status.HTTP_404_NOT_FOUND, "No such user.", ErrorCode.USER_NOT_FOUND
)
ROLE_NOT_FOUND = error_response(
    status.HTTP_404_NOT_FOUND,
    "No such user or role.",
    ErrorCode.USER_NOT_FOUND,
    ErrorCode.ROLE_NOT_FOUND,
)


class _WithRoles:
    """A user object with its role names, for `from_attributes` validation."""

    def __init__(self, user: Any, roles: Sequence[str]) -> None:
        self._user = user
        self.roles = list(roles)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)


class PasswordSet(BaseModel):
    password: schemas.Password


def _forbidden() -> HTTPException:
    return http_error(status.HTTP_403_FORBIDDEN, ErrorCode.INSUFFICIENT_PERMISSIONS)


def get_admin_users_router(
    get_user_manager: UserManagerDependency[models.UP, models.ID],
    user_schema: type[schemas.U],
    user_create_schema: type[schemas.UC],
    authenticator: Authenticator[models.UP, models.ID],
    role_store: RoleStore | None,
    backends: Sequence[AuthenticationBackend[models.UP, models.ID]] = (),
    requires_verification: bool = False,
) -> APIRouter:
    """The user administration routes; `backends` with `sessions` have theirs ended too."""
    store: Any = require_role_store(role_store)
    sessions = BackendSessions(backends) if any(b.sessions is not None for b in backends) else None
    get_users_admin = admin_dependency(authenticator, USERS_ADMIN, requires_verification)
    get_roles_admin = admin_dependency(authenticator, ROLES_ADMIN, requires_verification)
    admin_user_schema: Any = create_model(
        f"Admin{user_schema.__name__}", __base__=user_schema, roles=(list[str], [])
    )
    page_schema: Any = create_model(
        f"Admin{user_schema.__name__}Page",
        items=(list[admin_user_schema], ...),
        next_cursor=(str | None, None),
    )
    create_schema: Any = create_model(
        f"Admin{user_create_schema.__name__}",
        __base__=user_create_schema,
        roles=(list[RoleName], Field(default_factory=list, max_length=64)),
    )
    router = APIRouter(route_class=DoorkeeperRoute, responses=ADMIN_ERRORS)
    users_admin = [Depends(get_users_admin)]

    async def get_target(
        id: str, user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager)
    ) -> models.UP:
        # Reached only by admins: the admin check is a route dependency, solved first.
        try:
            return await user_manager.get(user_manager.parse_id(id))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.USER_NOT_FOUND) from None

    async def check_may_manage(request: Request, actor: Any, target: Any) -> None:
        """A non-superuser manages only non-superusers whose permissions theirs cover."""
        if actor.is_superuser:
            return
        if target.is_superuser:
            raise _forbidden()
        held = await grants_of(request, store, actor)
        target_grants = await grants_of(request, store, target)
        if not has_permissions(held.permissions, target_grants.permissions):
            raise _forbidden()

    async def read(user: Any) -> Any:
        return admin_user_schema.model_validate(
            _WithRoles(user, await store.get_user_roles(user.id))
        )

    async def audit(
        user_manager: BaseUserManager[models.UP, models.ID],
        event: str,
        request: Request,
        actor: Any,
        target: Any,
        **details: Any,
    ) -> None:
        await record_event(
            user_manager, event, user=target, request=request, actor_id=str(actor.id), **details
        )

    @router.get("", name="admin:list_users", response_model=page_schema, dependencies=users_admin)
    async def list_users(
        limit: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
        offset: int = Query(0, ge=0),
        after: str | None = Query(None, description="The last id of the previous page."),
        email: str | None = Query(None, max_length=320, description="An e-mail prefix."),
        is_active: bool | None = None,
        is_verified: bool | None = None,
        is_superuser: bool | None = None,
        role: str | None = Query(None, max_length=64),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Any:
        cursor = None
        if after is not None:
            try:
                cursor = user_manager.parse_id(after)
            except exceptions.InvalidID:
                raise RequestValidationError(
                    [{"type": "value_error", "loc": ("query", "after"), "msg": "Not a user id"}]
                ) from None
        query = UserQuery(
            limit=limit,
            offset=offset,
            after=cursor,
            email_prefix=email,
            is_active=is_active,
            is_verified=is_verified,
            is_superuser=is_superuser,
            role=role,
        )
        rows = await store.list_users(query)
        items = [admin_user_schema.model_validate(_WithRoles(u, roles)) for u, roles in rows]
        next_cursor = str(rows[-1][0].id) if len(rows) == limit else None
        return page_schema(items=items, next_cursor=next_cursor)

    @router.post(
        "",
        name="admin:create_user",
        status_code=status.HTTP_201_CREATED,
        response_model=admin_user_schema,
        dependencies=users_admin,
        responses={**ROLE_NOT_FOUND, **CREATE_ERRORS},
    )
    async def create_user(
        request: Request,
        body: create_schema,
        actor: Any = Depends(get_users_admin),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Any:
        roles: list[str] = sorted(set(body.roles))
        if not actor.is_superuser:
            held = await grants_of(request, store, actor)
            superuser = getattr(body, "is_superuser", False)
            if superuser or (roles and not held.has_permissions([ROLES_ADMIN])):
                raise _forbidden()
        for name in roles:
            if await store.get_role(name) is None:
                raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND)
        fields = body.model_dump(exclude_unset=True, exclude={"roles"})
        try:
            user = await user_manager.create(
                user_create_schema.model_validate(fields), safe=False, request=request
            )
        except exceptions.UserAlreadyExists:
            raise error(ErrorCode.REGISTER_USER_ALREADY_EXISTS) from None
        except exceptions.InvalidPasswordException as exc:
            raise error_with_reason(ErrorCode.REGISTER_INVALID_PASSWORD, exc.reason) from None
        for name in roles:
            try:
                await store.assign_role(user.id, name)
            except RoleNotFound:  # deleted meanwhile
                raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND) from None
        await audit(user_manager, "admin_user_create", request, actor, user, roles=",".join(roles))
        return await read(user)

    @router.get(
        "/{id}",
        name="admin:user",
        response_model=admin_user_schema,
        dependencies=users_admin,
        responses=USER_NOT_FOUND,
    )
    async def get_user(target: Any = Depends(get_target)) -> Any:
        return await read(target)

    @router.put(
        "/{id}/password",
        name="admin:set_user_password",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=users_admin,
        responses={**USER_NOT_FOUND, **UPDATE_ERRORS},
    )
    async def set_password(
        request: Request,
        body: PasswordSet,
        actor: Any = Depends(get_users_admin),
        target: Any = Depends(get_target),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Response:
        await check_may_manage(request, actor, target)
        update = schemas.BaseUserUpdate(password=body.password)
        await update_or_400(user_manager, update, target, safe=False, request=request)
        await audit(user_manager, "admin_password_set", request, actor, target)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def set_active(
        request: Request,
        active: bool,
        actor: Any,
        target: Any,
        user_manager: BaseUserManager[models.UP, models.ID],
    ) -> Any:
        await check_may_manage(request, actor, target)
        update = schemas.BaseUserUpdate(is_active=active)
        updated = await update_or_400(user_manager, update, target, safe=False, request=request)
        event = "admin_user_activate" if active else "admin_user_deactivate"
        await audit(user_manager, event, request, actor, target)
        return await read(updated)

    @router.post(
        "/{id}/activate",
        name="admin:activate_user",
        response_model=admin_user_schema,
        dependencies=users_admin,
        responses=USER_NOT_FOUND,
    )
    async def activate(
        request: Request,
        actor: Any = Depends(get_users_admin),
        target: Any = Depends(get_target),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Any:
        return await set_active(request, True, actor, target, user_manager)

    @router.post(
        "/{id}/deactivate",
        name="admin:deactivate_user",
        response_model=admin_user_schema,
        dependencies=users_admin,
        responses=USER_NOT_FOUND,
    )
    async def deactivate(
        request: Request,
        actor: Any = Depends(get_users_admin),
        target: Any = Depends(get_target),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Any:
        return await set_active(request, False, actor, target, user_manager)

    get_strategies = sessions.strategies_dependency() if sessions is not None else dict

    @router.delete(
        "/{id}/sessions",
        name="admin:end_user_sessions",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=users_admin,
        responses=USER_NOT_FOUND,
    )
    async def end_sessions(
        request: Request,
        actor: Any = Depends(get_users_admin),
        target: Any = Depends(get_target),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
        strategies: dict[str, Any] = Depends(get_strategies),
    ) -> Response:
        await check_may_manage(request, actor, target)
        ended = await sessions.end_all(target, strategies) if sessions is not None else []
        await user_manager.revoke_tokens(target)
        await audit(
            user_manager,
            "session_revoked",
            request,
            actor,
            target,
            scope="all",
            count=len(ended),
            by="admin",
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.put(
        "/{id}/roles/{role}",
        name="admin:grant_user_role",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=[Depends(get_roles_admin)],
        responses=ROLE_NOT_FOUND,
    )
    async def grant_role(
        role: str,
        request: Request,
        actor: Any = Depends(get_roles_admin),
        target: Any = Depends(get_target),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Response:
        try:
            changed = await store.assign_role(target.id, role)
        except RoleNotFound:
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND) from None
        except exceptions.UserNotExists:  # deleted meanwhile
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.USER_NOT_FOUND) from None
        await audit(user_manager, "role_grant", request, actor, target, role=role, changed=changed)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        "/{id}/roles/{role}",
        name="admin:revoke_user_role",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=[Depends(get_roles_admin)],
        responses=ROLE_NOT_FOUND,
    )
    async def revoke_role(
        role: str,
        request: Request,
        actor: Any = Depends(get_roles_admin),
        target: Any = Depends(get_target),
        user_manager: BaseUserManager[models.UP, models.ID] = Depends(get_user_manager),
    ) -> Response:
        if await store.get_role(role) is None:
            raise http_error(status.HTTP_404_NOT_FOUND, ErrorCode.ROLE_NOT_FOUND)
        changed = await store.revoke_role(target.id, role)
        await audit(user_manager, "role_revoke", request, actor, target, role=role, changed=changed)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
