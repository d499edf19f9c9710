"""Roles on SQL (SQLite, PostgreSQL, MySQL/MariaDB): `SQLAlchemyRoleStore`.

It takes a session maker, so it is built once per app, and opens one database session
per call. `get_grants` reads a user's roles and permissions in one query: it is what a
role or permission check costs. Changes of a role's permissions and grants are
serialized by a lock on the role's row.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.exceptions import UserNotExists
from doorkeeper.rbac.errors import RoleAlreadyExists, RoleNotFound, RoleStillGranted
from doorkeeper.rbac.listing import ROLES_LABEL, split_role_names, user_page_statement
from doorkeeper.rbac.permissions import is_role_name, validate_permission, validate_role_name
from doorkeeper.rbac.records import Grants, RoleData, UserQuery

__all__ = ["SQLAlchemyRoleStore"]


def _permissions(values: Iterable[str]) -> list[str]:
    """Checked, without duplicates, sorted."""
    return sorted({validate_permission(value) for value in values})


class SQLAlchemyRoleStore:
    """:param session_maker: Makes the database sessions (one per call).
    :param role_table: The role model (`SQLAlchemyBaseRoleTable` subclass).
    :param role_permission_table: The model of a role's permissions.
    :param user_role_table: The model of the roles users hold.
    :param user_table: The user model, for `list_users` (the admin listing).
    """

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        role_table: type[Any],
        role_permission_table: type[Any],
        user_role_table: type[Any],
        user_table: type[Any] | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.role_table = role_table
        self.role_permission_table = role_permission_table
        self.user_role_table = user_role_table
        self.user_table = user_table

    def _user_id(self, value: Any) -> Any:
        """A user id (or its string) as the type of the `user_id` column."""
        python_type = self.user_role_table.__table__.c.user_id.type.python_type
        return value if isinstance(value, python_type) else python_type(value)

    # --- roles -----------------------------------------------------------------------

    async def _role_id(self, db: AsyncSession, name: str, *, share: bool = False) -> Any:
        """The id of the role named `name`, its row locked until the transaction ends:
        for an update, or `share`d with other grants; `RoleNotFound` if none."""
        roles = self.role_table
        if not is_role_name(name):
            raise RoleNotFound(name)
        statement = select(roles.id).where(roles.name == name).with_for_update(read=share)
        role_id = await db.scalar(statement)
        if role_id is None:
            raise RoleNotFound(name)
        return role_id

    async def _read(self, db: AsyncSession, name: str | None = None) -> list[RoleData]:
        roles, permissions = self.role_table, self.role_permission_table
        statement = (
            select(roles.name, permissions.permission)
            .outerjoin(permissions, permissions.role_id == roles.id)
            .order_by(roles.name, permissions.permission)
        )
        if name is not None:
            statement = statement.where(roles.name == name)
        found: dict[str, list[str]] = {}
        for role_name, permission in (await db.execute(statement)).all():
            granted = found.setdefault(role_name, [])
            if permission is not None:
                granted.append(permission)
        return [RoleData(role_name, tuple(granted)) for role_name, granted in found.items()]

    async def create_role(self, name: str, permissions: Sequence[str] | None = None) -> RoleData:
        validate_role_name(name)
        granted = _permissions(permissions or ())
        role = self.role_table(name=name)
        async with self.session_maker() as db:
            db.add(role)
            try:
                await db.flush()
                db.add_all(
                    self.role_permission_table(role_id=role.id, permission=permission)
                    for permission in granted
                )
                await db.commit()
            except IntegrityError:
                await db.rollback()
                raise RoleAlreadyExists(name) from None
        return RoleData(name, tuple(granted))

    async def ensure_role(self, name: str, permissions: Sequence[str] | None = None) -> RoleData:
        """The role named `name`, created (with `permissions`) if missing."""
        found = await self.get_role(name)
        if found is not None:
            return found
        try:
            return await self.create_role(name, permissions)
        except RoleAlreadyExists:  # made by a concurrent caller
            role = await self.get_role(name)
            assert role is not None
            return role

    async def get_role(self, name: str) -> RoleData | None:
        if not is_role_name(name):
            return None
        async with self.session_maker() as db:
            found = await self._read(db, name)
        return found[0] if found else None

    async def list_roles(self) -> list[RoleData]:
        """Every role, by name."""
        async with self.session_maker() as db:
            return await self._read(db)

    async def rename_role(self, name: str, new_name: str) -> RoleData:
        validate_role_name(new_name)
        roles = self.role_table
        async with self.session_maker() as db:
            role_id = await self._role_id(db, name)
            try:
                await db.execute(update(roles).where(roles.id == role_id).values(name=new_name))
                await db.commit()
            except IntegrityError:
                await db.rollback()
                raise RoleAlreadyExists(new_name) from None
            return (await self._read(db, new_name))[0]

    async def set_permissions(self, name: str, permissions: Sequence[str]) -> RoleData:
        granted = _permissions(permissions)
        table = self.role_permission_table
        async with self.session_maker() as db:
            role_id = await self._role_id(db, name)
            await db.execute(delete(table).where(table.role_id == role_id))
            db.add_all(table(role_id=role_id, permission=permission) for permission in granted)
            await db.commit()
        return RoleData(name, tuple(granted))

    async def add_permissions(self, role_name: str, permissions: Sequence[str]) -> RoleData:
        """Grant more permissions to the role; raise `RoleNotFound`."""
        added = _permissions(permissions)
        table = self.role_permission_table
        async with self.session_maker() as db:
            role_id = await self._role_id(db, role_name)
            held = set(await db.scalars(select(table.permission).where(table.role_id == role_id)))
            db.add_all(
                table(role_id=role_id, permission=permission)
                for permission in added
                if permission not in held
            )
            await db.commit()
        return RoleData(role_name, tuple(sorted(held | set(added))))

    async def remove_permissions(self, role_name: str, permissions: Sequence[str]) -> RoleData:
        """Take permissions back from the role; raise `RoleNotFound`."""
        table = self.role_permission_table
        async with self.session_maker() as db:
            role_id = await self._role_id(db, role_name)
            await db.execute(
                delete(table).where(table.role_id == role_id, table.permission.in_(permissions))
            )
            await db.commit()
            return (await self._read(db, role_name))[0]

    async def delete_role(self, name: str, *, force: bool = False) -> int:
        roles, grants = self.role_table, self.user_role_table
        permissions = self.role_permission_table
        async with self.session_maker() as db:
            role_id = await self._role_id(db, name)
            count_statement = select(func.count()).select_from(grants)
            holders = int(await db.scalar(count_statement.where(grants.role_id == role_id)) or 0)
            if holders and not force:
                raise RoleStillGranted(name, holders)
            # Explicit deletes: also right on SQLite connections without foreign keys on.
            await db.execute(delete(grants).where(grants.role_id == role_id))
            await db.execute(delete(permissions).where(permissions.role_id == role_id))
            await db.execute(delete(roles).where(roles.id == role_id))
            await db.commit()
        return holders

    # --- grants ----------------------------------------------------------------------

    async def assign_role(self, user_id: Any, role_name: str) -> bool:
        grants = self.user_role_table
        user_id = self._user_id(user_id)
        async with self.session_maker() as db:
            role_id = await self._role_id(db, role_name, share=True)
            held = select(grants.user_id).where(
                grants.user_id == user_id, grants.role_id == role_id
            )
            if await db.scalar(held) is not None:
                return False
            db.add(grants(user_id=user_id, role_id=role_id))
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                if await db.scalar(held) is not None:
                    return False  # granted by a concurrent call
                raise UserNotExists() from None
        return True

    async def revoke_role(self, user_id: Any, role_name: str) -> bool:
        grants, roles = self.user_role_table, self.role_table
        role_ids = select(roles.id).where(roles.name == role_name).scalar_subquery()
        statement = delete(grants).where(
            grants.user_id == self._user_id(user_id), grants.role_id == role_ids
        )
        async with self.session_maker() as db:
            result: Any = await db.execute(statement)
            await db.commit()
        return bool(result.rowcount)

    async def get_user_roles(self, user_id: Any) -> list[str]:
        """The names of the roles the user holds, sorted."""
        grants, roles = self.user_role_table, self.role_table
        statement = (
            select(roles.name)
            .join(grants, grants.role_id == roles.id)
            .where(grants.user_id == self._user_id(user_id))
            .order_by(roles.name)
        )
        async with self.session_maker() as db:
            return list((await db.scalars(statement)).all())

    async def get_user_permissions(self, user_id: Any) -> set[str]:
        """The permissions the user's roles grant."""
        return set((await self.get_grants(user_id)).permissions)

    async def get_grants(self, user_id: Any) -> Grants:
        grants, roles, permissions = (
            self.user_role_table,
            self.role_table,
            self.role_permission_table,
        )
        statement = (
            select(roles.name, permissions.permission)
            .select_from(grants)
            .join(roles, roles.id == grants.role_id)
            .outerjoin(permissions, permissions.role_id == roles.id)
            .where(grants.user_id == self._user_id(user_id))
        )
        async with self.session_maker() as db:
            rows = (await db.execute(statement)).all()
        return Grants(
            roles=frozenset(name for name, _ in rows),
            permissions=frozenset(permission for _, permission in rows if permission is not None),
        )

    # --- users -----------------------------------------------------------------------

    async def list_users(self, query: UserQuery) -> list[tuple[Any, list[str]]]:
        """One page of users, each with its role names, in one SELECT."""
        if self.user_table is None:
            raise RuntimeError("list_users needs the store's user_table")
        statement = user_page_statement(
            self.user_table, self.user_role_table, self.role_table, query
        )
        async with self.session_maker() as db:
            result = await db.execute(statement)
            rows = result.unique().all()
        return [(row[0], split_role_names(getattr(row, ROLES_LABEL))) for row in rows]
