"""The errors of role-based access control, and the stable codes of its 403 answers."""

__all__ = [
    "FORBIDDEN_ROLE",
    "INSUFFICIENT_PERMISSIONS",
    "RBACError",
    "RoleAlreadyExists",
    "RoleNotFound",
    "RoleStillGranted",
    "RoleStoreMissingError",
]

FORBIDDEN_ROLE = "FORBIDDEN_ROLE"
"""`detail` of the 403 when the user lacks a required role."""
INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
"""`detail` of the 403 when the user lacks a required permission (admin routes too)."""


class RBACError(Exception):
    """Base class of the errors of the role store."""


class RoleNotFound(RBACError):
    """No role has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no role is named {name!r}")
        self.name = name


class RoleAlreadyExists(RBACError):
    """A role has this name already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a role is named {name!r} already")
        self.name = name


class RoleStillGranted(RBACError):
    """The role is still granted to users (`count` of them): delete it with `force`."""

    def __init__(self, name: str, count: int) -> None:
        super().__init__(f"the role {name!r} is granted to {count} user(s)")
        self.name = name
        self.count = count


class RoleStoreMissingError(RuntimeError):
    """A role or permission check was asked for where no role store is configured."""
