"""Permission strings and role names: their syntax, and how a granted permission with
wildcards covers a required one. Pure functions, no I/O.

A permission is free-form text made of segments separated by `:` (`"articles:write"`,
`"billing:invoices:read"`). In a granted permission, a segment `*` stands for any one
segment, and a `*` that ends it for one or more segments:

    "articles:*"   covers "articles:write" and "articles:write:own", not "articles"
    "*:read"       covers "articles:read", not "articles:read:own"
    "*"            covers every permission

A required permission is compared as written: a `*` in it is only covered by a `*`.
"""

import re
from collections.abc import Iterable

__all__ = [
    "PERMISSION_MAX_LENGTH",
    "ROLES_ADMIN",
    "ROLE_NAME_MAX_LENGTH",
    "USERS_ADMIN",
    "WILDCARD",
    "as_names",
    "has_permissions",
    "is_role_name",
    "missing_permissions",
    "permission_covers",
    "validate_permission",
    "validate_role_name",
]

WILDCARD = "*"
SEPARATOR = ":"
ROLE_NAME_MAX_LENGTH = 64
PERMISSION_MAX_LENGTH = 128
USERS_ADMIN = "users:admin"
"""The permission of the user administration routes."""
ROLES_ADMIN = "roles:admin"
"""The permission of the role administration routes (and of granting roles)."""

_ROLE_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{ROLE_NAME_MAX_LENGTH - 1}}}")
# Printable ASCII but space and comma; `:` separates segments.
_PERMISSION_CHARACTERS = re.compile(r"[!-+\--~]+")


def is_role_name(name: str) -> bool:
    """Whether `name` can name a role: 1 to 64 characters among letters, digits and
    `_ . : -`, starting with a letter or a digit."""
    return isinstance(name, str) and _ROLE_NAME.fullmatch(name) is not None


def validate_role_name(name: str) -> str:
    """`name` if it can name a role; `ValueError` otherwise."""
    if not is_role_name(name):
        raise ValueError(
            f"{name!r} is not a role name: 1 to {ROLE_NAME_MAX_LENGTH} letters, digits or "
            "'_.:-', starting with a letter or a digit"
        )
    return name


def validate_permission(permission: str) -> str:
    """`permission` if it is well formed; `ValueError` otherwise.

    Well formed: 1 to 128 printable ASCII characters but space and comma; no empty
    segment; a `*` only as a whole segment.
    """
    if (
        not isinstance(permission, str)
        or len(permission) > PERMISSION_MAX_LENGTH
        or _PERMISSION_CHARACTERS.fullmatch(permission) is None
    ):
        raise ValueError(
            f"{permission!r} is not a permission: 1 to {PERMISSION_MAX_LENGTH} printable "
            "ASCII characters, no space or comma"
        )
    for segment in permission.split(SEPARATOR):
        if not segment:
            raise ValueError(f"{permission!r} is not a permission: it has an empty segment")
        if WILDCARD in segment and segment != WILDCARD:
            raise ValueError(
                f"{permission!r} is not a permission: '*' stands only for a whole segment"
            )
    return permission


def as_names(values: str | Iterable[str] | None) -> tuple[str, ...]:
    """A string, an iterable of strings or `None` as a tuple of strings (a lone string
    is one name, not its characters)."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def permission_covers(granted: str, required: str) -> bool:
    """Whether holding `granted` (wildcards allowed) gives `required`."""
    if granted == required:
        return True
    granted_segments = granted.split(SEPARATOR)
    required_segments = required.split(SEPARATOR)
    last = len(granted_segments) - 1
    for index, segment in enumerate(granted_segments):
        if index >= len(required_segments):
            return False
        if segment == WILDCARD:
            if index == last:
                return True
            continue
        if segment != required_segments[index]:
            return False
    return len(granted_segments) == len(required_segments)


def missing_permissions(granted: Iterable[str], required: Iterable[str]) -> list[str]:
    """The required permissions that no granted permission covers, in order."""
    held = set(granted)
    wildcards = [permission for permission in held if WILDCARD in permission]
    return [
        permission
        for permission in required
        if permission not in held and not any(permission_covers(w, permission) for w in wildcards)
    ]


def has_permissions(granted: Iterable[str], required: Iterable[str]) -> bool:
    """Whether the granted permissions cover every required one."""
    return not missing_permissions(granted, required)
