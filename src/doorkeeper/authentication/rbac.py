"""Role and permission checks on top of a `current_user` dependency.

`access_checked(dependency, store, roles=..., permissions=...)` wraps the dependency of
the authenticated user: a superuser passes; anyone else needs every role and every
permission asked for (wildcards: see `doorkeeper.rbac.permissions`), else 403
`FORBIDDEN_ROLE` or `INSUFFICIENT_PERMISSIONS`.

Cost: the user's roles and permissions are read in one query (`store.get_grants`), only
on routes that check them, at most once per request and user (kept on `request.state`,
never longer): a role taken away applies from the next request, whatever token the user
holds.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Depends, HTTPException, Request, status

from doorkeeper.authentication.errors import is_unavailable_error, service_unavailable
from doorkeeper.rbac.errors import FORBIDDEN_ROLE, INSUFFICIENT_PERMISSIONS, RoleStoreMissingError
from doorkeeper.rbac.permissions import as_names, validate_permission, validate_role_name
from doorkeeper.rbac.records import Grants, RoleStore

__all__ = ["GRANTS_STATE", "access_checked", "grants_of"]

logger = logging.getLogger("doorkeeper.authentication")

GRANTS_STATE = "doorkeeper_grants"
"""The attribute of `request.state` caching each user's grants for one request."""


async def grants_of(request: Request, store: RoleStore, user: Any) -> Grants:
    """The user's roles and permissions: read once per request, then from the request."""
    cache: dict[str, Grants] | None = getattr(request.state, GRANTS_STATE, None)
    if cache is None:
        cache = {}
        setattr(request.state, GRANTS_STATE, cache)
    key = str(user.id)
    if key not in cache:
        try:
            cache[key] = await store.get_grants(user.id)
        except Exception as error:
            if not is_unavailable_error(error):
                raise
            logger.warning("The role store is unavailable (%s)", type(error).__name__)
            raise service_unavailable() from None
    return cache[key]


def access_checked(
    dependency: Callable[..., Awaitable[Any]],
    store: RoleStore | None,
    *,
    roles: str | Sequence[str] | None = None,
    permissions: str | Sequence[str] | None = None,
    optional: bool = False,
) -> Callable[..., Awaitable[Any]]:
    """A dependency giving the user of `dependency` if they hold every role and every
    permission asked for (`None` instead of 403 when `optional`).

    Raises `RoleStoreMissingError` without a store, and `ValueError` for a malformed
    role name or permission, when it is built (at start-up), not on requests.
    """
    required_roles = tuple(validate_role_name(role) for role in as_names(roles))
    required_permissions = tuple(validate_permission(p) for p in as_names(permissions))
    if store is None:
        raise RoleStoreMissingError(
            "current_user(roles=..., permissions=...) needs a role store: pass "
            "role_store=adapter.role (or another RoleStore) to FastAPIUsers"
        )
    role_store: RoleStore = store

    async def checked_user(request: Request, user: Any = Depends(dependency)) -> Any:
        if user is None or user.is_superuser:
            return user
        grants = await grants_of(request, role_store, user)
        if not grants.has_roles(required_roles):
            code = FORBIDDEN_ROLE
        elif not grants.has_permissions(required_permissions):
            code = INSUFFICIENT_PERMISSIONS
        else:
            return user
        if optional:
            return None
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=code)

    return checked_user
