"""Roles as records, what a user holds, a query over users, and the protocol of the
storage of roles (`RoleStore`), whose method names follow FastAuth's `RoleAdapter`."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from doorkeeper.rbac.permissions import missing_permissions

__all__ = ["Grants", "RoleData", "RoleStore", "UserQuery"]


@dataclass(frozen=True)
class RoleData:
    """A role: its name and the permissions it grants (sorted)."""

    name: str
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grants:
    """The roles a user holds and the permissions they grant."""

    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()

    def has_roles(self, roles: Iterable[str]) -> bool:
        """Whether the user holds every one of `roles`."""
        return all(role in self.roles for role in roles)

    def has_permissions(self, permissions: Iterable[str]) -> bool:
        """Whether the granted permissions cover every one of `permissions` (wildcards)."""
        return not missing_permissions(self.permissions, permissions)


@dataclass(frozen=True)
class UserQuery:
    """One page of users, ordered by id (stable, unique).

    :param limit: the page size.
    :param offset: rows skipped (after `after`, if given).
    :param after: keyset cursor: only users whose id sorts after this one.
    :param email_prefix: addresses starting with it (compared normalized).
    :param role: users holding the role of this name.
    """

    limit: int = 50
    offset: int = 0
    after: Any = None
    email_prefix: str | None = None
    is_active: bool | None = None
    is_verified: bool | None = None
    is_superuser: bool | None = None
    role: str | None = None


class RoleStore(Protocol):
    """Where roles, their permissions and who holds them are kept.

    User ids may be given as the id type or as strings.
    """

    async def create_role(self, name: str, permissions: Sequence[str] | None = None) -> RoleData:
        """Raise `RoleAlreadyExists` if the name is taken."""
        ...

    async def get_role(self, name: str) -> RoleData | None: ...

    async def list_roles(self) -> list[RoleData]: ...

    async def rename_role(self, name: str, new_name: str) -> RoleData:
        """Raise `RoleNotFound` or `RoleAlreadyExists`."""
        ...

    async def set_permissions(self, name: str, permissions: Sequence[str]) -> RoleData:
        """Replace the role's permissions; raise `RoleNotFound`."""
        ...

    async def delete_role(self, name: str, *, force: bool = False) -> int:
        """Delete the role; return how many users held it. Raise `RoleNotFound`, or
        `RoleStillGranted` unless `force`."""
        ...

    async def assign_role(self, user_id: Any, role_name: str) -> bool:
        """Grant the role; whether the user did not hold it yet. Raise `RoleNotFound`."""
        ...

    async def revoke_role(self, user_id: Any, role_name: str) -> bool:
        """Take the role back; whether the user held it."""
        ...

    async def get_user_roles(self, user_id: Any) -> list[str]: ...

    async def get_grants(self, user_id: Any) -> Grants:
        """The user's roles and permissions, in one query."""
        ...
