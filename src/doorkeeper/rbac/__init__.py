"""Role-based access control: permission strings and their wildcards, roles as records,
the protocol of their storage, and the errors. Storage on SQL is in
`doorkeeper.rbac.sqlalchemy`; the checks are `current_user(..., roles=, permissions=)`
(`doorkeeper.authentication.rbac`). See docs/rbac.md."""

from doorkeeper.rbac.errors import (
    FORBIDDEN_ROLE,
    INSUFFICIENT_PERMISSIONS,
    RBACError,
    RoleAlreadyExists,
    RoleNotFound,
    RoleStillGranted,
    RoleStoreMissingError,
)
from doorkeeper.rbac.permissions import (
    ROLES_ADMIN,
    USERS_ADMIN,
    has_permissions,
    missing_permissions,
    permission_covers,
    validate_permission,
    validate_role_name,
)
from doorkeeper.rbac.records import Grants, RoleData, RoleStore, UserQuery

__all__ = [
    "FORBIDDEN_ROLE",
    "INSUFFICIENT_PERMISSIONS",
    "ROLES_ADMIN",
    "USERS_ADMIN",
    "Grants",
    "RBACError",
    "RoleAlreadyExists",
    "RoleData",
    "RoleNotFound",
    "RoleStillGranted",
    "RoleStore",
    "RoleStoreMissingError",
    "UserQuery",
    "has_permissions",
    "missing_permissions",
    "permission_covers",
    "validate_permission",
    "validate_role_name",
]
