"""What the admin routers share: the admin check, the schemas of roles, and the errors.

Every admin route checks its permission (`users:admin` or `roles:admin`; a superuser
passes) as a route dependency, solved before anything is looked up: a caller without it
gets 403 `INSUFFICIENT_PERMISSIONS` whether the target exists or not.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import HTTPException, status
from pydantic import AfterValidator, BaseModel, Field

from doorkeeper.authentication import Authenticator
from doorkeeper.rbac.errors import RoleStoreMissingError
from doorkeeper.rbac.permissions import (
    PERMISSION_MAX_LENGTH,
    ROLE_NAME_MAX_LENGTH,
    validate_permission,
    validate_role_name,
)
from doorkeeper.rbac.records import RoleData, RoleStore
from doorkeeper.router.common import ErrorCode, ErrorModel, OpenAPIResponseType

__all__ = [
    "MAX_PERMISSIONS",
    "Permission",
    "RoleCreate",
    "RoleName",
    "RoleRead",
    "RoleUpdate",
    "admin_dependency",
    "error_response",
    "http_error",
    "require_role_store",
]

MAX_PERMISSIONS = 256
"""The most permissions one request may give a role."""

# The validators give the messages; the schema states the same syntax, so that a client
# (or a fuzzer) can tell a valid name from an invalid one.
_ROLE_NAME_SCHEMA = {
    "minLength": 1,
    "maxLength": ROLE_NAME_MAX_LENGTH,
    "pattern": rf"^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{ROLE_NAME_MAX_LENGTH - 1}}}$",
}
# Segments separated by `:`, each `*` or printable ASCII but space, comma, `:` and `*`.
_SEGMENT = r"(\*|[!-)+\--9;-~]+)"
_PERMISSION_SCHEMA = {
    "minLength": 1,
    "maxLength": PERMISSION_MAX_LENGTH,
    "pattern": rf"^{_SEGMENT}(:{_SEGMENT})*$",
}
RoleName = Annotated[
    str, AfterValidator(validate_role_name), Field(json_schema_extra=_ROLE_NAME_SCHEMA)
]
Permission = Annotated[
    str, AfterValidator(validate_permission), Field(json_schema_extra=_PERMISSION_SCHEMA)
]
Permissions = Annotated[list[Permission], Field(max_length=MAX_PERMISSIONS)]


class RoleRead(BaseModel):
    """A role: its name and the permissions it grants."""

    name: str
    permissions: list[str]

    @classmethod
    def of(cls, role: RoleData) -> "RoleRead":
        return cls(name=role.name, permissions=list(role.permissions))


class RoleCreate(BaseModel):
    name: RoleName
    permissions: Permissions = []


class RoleUpdate(BaseModel):
    """A new name, the new set of permissions (replacing the old one), or both."""

    name: RoleName | None = None
    permissions: Permissions | None = None


def http_error(status_code: int, code: ErrorCode) -> HTTPException:
    return HTTPException(status_code=status_code, detail=code.value)


def error_response(status_code: int, description: str, *codes: ErrorCode) -> OpenAPIResponseType:
    """The OpenAPI documentation of an error answer with these `detail` codes."""
    examples = {
        code.value: {"summary": code.value, "value": {"detail": code.value}} for code in codes
    }
    return {
        status_code: {
            "model": ErrorModel,
            "description": description,
            "content": {"application/json": {"examples": examples}},
        }
    }


ADMIN_ERRORS: OpenAPIResponseType = {
    status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."},
    **error_response(
        status.HTTP_403_FORBIDDEN,
        "Neither a superuser nor a holder of the route's permission.",
        ErrorCode.INSUFFICIENT_PERMISSIONS,
    ),
}


def require_role_store(role_store: RoleStore | None) -> RoleStore:
    if role_store is None:
        raise RoleStoreMissingError(
            "The admin routers need a role store: pass role_store=adapter.role (or another "
            "RoleStore) to FastAPIUsers"
        )
    return role_store


def admin_dependency(
    authenticator: Authenticator[Any, Any], permission: str, requires_verification: bool
) -> Callable[..., Awaitable[Any]]:
    """The signed-in, active user holding `permission` (or a superuser), else 401/403."""
    return authenticator.current_user(
        active=True, verified=requires_verification, permissions=[permission]
    )
