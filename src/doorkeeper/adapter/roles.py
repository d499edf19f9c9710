"""`adapter.role`: roles, their permissions and who holds them, one session per call
(the checks of `current_user(..., roles=, permissions=)`, the admin routes, the CLI)."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.adapter.models import Role, RolePermission, User, UserRole
from doorkeeper.rbac.sqlalchemy import SQLAlchemyRoleStore

__all__ = ["AdapterRoleStore"]


class AdapterRoleStore(SQLAlchemyRoleStore):
    """`SQLAlchemyRoleStore` over the adapter's tables (`doorkeeper_role`,
    `doorkeeper_role_permission`, `doorkeeper_user_role`) and its `User`."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(session_maker, Role, RolePermission, UserRole, User)
