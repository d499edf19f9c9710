"""`adapter.role` (`SQLAlchemyRoleStore`) on SQLite, PostgreSQL and MariaDB: roles,
their permissions, grants, and the errors, as FastAuth's `RoleAdapter` names them."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.adapter.models import Role, RolePermission, UserRole
from doorkeeper.exceptions import UserNotExists
from doorkeeper.rbac import (
    Grants,
    RoleAlreadyExists,
    RoleData,
    RoleNotFound,
    RoleStillGranted,
    UserQuery,
)
from doorkeeper.rbac.sqlalchemy import SQLAlchemyRoleStore


@pytest.fixture
async def adapter(database_url: str) -> AsyncIterator[SQLAlchemyAdapter]:
    adapter = SQLAlchemyAdapter(database_url)
    await adapter.create_tables()
    yield adapter
    await adapter.dispose()


async def _user(adapter: SQLAlchemyAdapter, email: str) -> Any:
    return await adapter.user.create({"email": email, "hashed_password": "x"})


async def test_roles_are_created_read_listed_renamed_and_edited(adapter: SQLAlchemyAdapter) -> None:
    roles = adapter.role
    created = await roles.create_role("editor", ["b:write", "a:*", "b:write"])
    assert created == RoleData("editor", ("a:*", "b:write"))  # sorted, once each
    assert await roles.create_role("viewer") == RoleData("viewer", ())
    assert await roles.create_role("Editor") == RoleData("Editor", ())  # case counts
    with pytest.raises(RoleAlreadyExists, match="'editor'"):
        await roles.create_role("editor")
    with pytest.raises(ValueError, match="not a role name"):
        await roles.create_role("no spaces")
    with pytest.raises(ValueError, match="not a permission"):
        await roles.create_role("broken", ["a b"])
    assert await roles.get_role("broken") is None  # nothing half-made

    assert await roles.get_role("editor") == created
    assert await roles.get_role("missing") is None
    assert await roles.get_role("not a name") is None
    assert [role.name for role in await roles.list_roles()] == ["Editor", "editor", "viewer"]

    assert await roles.rename_role("viewer", "reader") == RoleData("reader", ())
    with pytest.raises(RoleAlreadyExists):
        await roles.rename_role("reader", "editor")
    with pytest.raises(RoleNotFound):
        await roles.rename_role("viewer", "other")
    with pytest.raises(ValueError, match="not a role name"):
        await roles.rename_role("reader", "")

    assert await roles.set_permissions("reader", ["x:read", "x:read"]) == RoleData(
        "reader", ("x:read",)
    )
    assert await roles.add_permissions("reader", ["y:read", "x:read"]) == RoleData(
        "reader", ("x:read", "y:read")
    )
    assert await roles.remove_permissions("reader", ["x:read", "z"]) == RoleData(
        "reader", ("y:read",)
    )
    for method in (roles.set_permissions, roles.add_permissions, roles.remove_permissions):
        with pytest.raises(RoleNotFound, match="'ghost'"):
            await method("ghost", ["a"])
    assert await roles.get_role("reader") == RoleData("reader", ("y:read",))


async def test_grants_and_what_they_give(adapter: SQLAlchemyAdapter) -> None:
    roles = adapter.role
    ann, bob = await _user(adapter, "ann@example.com"), await _user(adapter, "bob@example.com")
    await roles.create_role("editor", ["articles:*"])
    await roles.create_role("reader", ["articles:read", "comments:read"])
    await roles.create_role("empty")

    assert await roles.assign_role(ann.id, "editor") is True
    assert await roles.assign_role(str(ann.id), "editor") is False  # held already
    assert await roles.assign_role(ann.id, "reader") is True
    assert await roles.assign_role(ann.id, "empty") is True
    with pytest.raises(RoleNotFound):
        await roles.assign_role(ann.id, "ghost")
    with pytest.raises(RoleNotFound):
        await roles.assign_role(ann.id, "not a name")

    assert await roles.get_user_roles(ann.id) == ["editor", "empty", "reader"]
    assert await roles.get_user_roles(bob.id) == []
    assert await roles.get_user_permissions(ann.id) == {
        "articles:*",
        "articles:read",
        "comments:read",
    }
    assert await roles.get_grants(ann.id) == Grants(
        roles=frozenset({"editor", "empty", "reader"}),
        permissions=frozenset({"articles:*", "articles:read", "comments:read"}),
    )
    assert await roles.get_grants(bob.id) == Grants()

    assert await roles.revoke_role(ann.id, "reader") is True
    assert await roles.revoke_role(ann.id, "reader") is False
    assert await roles.revoke_role(ann.id, "ghost") is False
    assert await roles.get_user_roles(ann.id) == ["editor", "empty"]

    # Deleting a user deletes the roles they held (ON DELETE CASCADE).
    await adapter.user.delete(ann)
    assert await roles.get_user_roles(ann.id) == []


async def test_concurrent_grants_of_one_role_succeed_once(adapter: SQLAlchemyAdapter) -> None:
    ann = await _user(adapter, "ann@example.com")
    await adapter.role.create_role("editor")
    results = await asyncio.gather(*(adapter.role.assign_role(ann.id, "editor") for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    assert await adapter.role.get_user_roles(ann.id) == ["editor"]


async def test_granting_to_a_missing_user_is_user_not_exists(adapter: SQLAlchemyAdapter) -> None:
    await adapter.role.create_role("editor")
    with pytest.raises(UserNotExists):
        await adapter.role.assign_role("9b2f6a4e-8d59-4a4f-9c67-3f3c0d6a1e11", "editor")


async def test_a_granted_role_is_deleted_only_with_force(adapter: SQLAlchemyAdapter) -> None:
    roles = adapter.role
    ann, bob = await _user(adapter, "ann@example.com"), await _user(adapter, "bob@example.com")
    await roles.create_role("editor", ["a"])
    await roles.create_role("unused", ["b"])
    await roles.assign_role(ann.id, "editor")
    await roles.assign_role(bob.id, "editor")

    with pytest.raises(RoleStillGranted) as refused:
        await roles.delete_role("editor")
    assert refused.value.count == 2
    assert await roles.get_user_roles(ann.id) == ["editor"]  # nothing changed
    assert await roles.delete_role("editor", force=True) == 2
    assert await roles.get_role("editor") is None
    assert await roles.get_user_roles(ann.id) == []
    assert await roles.delete_role("unused") == 0
    with pytest.raises(RoleNotFound):
        await roles.delete_role("unused")
    # A new role of the old name starts empty.
    await roles.create_role("editor")
    assert await roles.get_role("editor") == RoleData("editor", ())


async def test_ensure_role_makes_a_missing_role_once(adapter: SQLAlchemyAdapter) -> None:
    roles = adapter.role
    assert await roles.ensure_role("member", ["profile:read"]) == RoleData(
        "member", ("profile:read",)
    )
    assert await roles.ensure_role("member", ["other"]) == RoleData("member", ("profile:read",))

    class Racing(SQLAlchemyRoleStore):
        """Sees no role at first, as when a concurrent caller makes it meanwhile."""

        looked = False

        async def get_role(self, name: str) -> RoleData | None:
            if not self.looked:
                self.looked = True
                return None
            return await super().get_role(name)

    racing = Racing(adapter.session_maker, Role, RolePermission, UserRole)
    assert await racing.ensure_role("member") == RoleData("member", ("profile:read",))


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_listing_users_needs_the_user_table(adapter: SQLAlchemyAdapter) -> None:
    store = SQLAlchemyRoleStore(adapter.session_maker, Role, RolePermission, UserRole)
    with pytest.raises(RuntimeError, match="user_table"):
        await store.list_users(UserQuery())
