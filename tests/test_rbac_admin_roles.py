"""The role administration routes over HTTP on SQLite, PostgreSQL and MariaDB."""

from collections.abc import AsyncIterator

import pytest

from tests.rbac_apps import RbacApp, rbac_app


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RbacApp]:
    async with rbac_app(database_url) as built:
        await built.adapter.role.create_role("role-admin", ["roles:admin"])
        await built.adapter.role.create_role("user-admin", ["users:admin"])
        await built.create_user("ra@example.com", roles=["role-admin"])
        await built.create_user("ua@example.com", roles=["user-admin"])
        await built.create_user("ann@example.com")
        yield built


ROUTES = [
    ("GET", "/admin/roles", None),
    ("POST", "/admin/roles", {"name": "x", "permissions": []}),
    ("GET", "/admin/roles/role-admin", None),
    ("GET", "/admin/roles/ghost", None),
    ("PATCH", "/admin/roles/role-admin", {"name": "mine"}),
    ("PATCH", "/admin/roles/ghost", {"permissions": ["*"]}),
    ("DELETE", "/admin/roles/role-admin?force=true", None),
    ("DELETE", "/admin/roles/ghost", None),
]


async def test_security_41_only_role_admins_and_superusers(app: RbacApp) -> None:
    async with app.client() as client:
        for email in ("ua@example.com", "ann@example.com"):
            headers = await app.login(client, email)
            for method, path, body in ROUTES:
                response = await client.request(method, path, json=body, headers=headers)
                assert (response.status_code, response.json()) == (
                    403,
                    {"detail": "INSUFFICIENT_PERMISSIONS"},
                ), (email, method, path)
        for method, path, body in ROUTES:
            assert (await client.request(method, path, json=body)).status_code == 401
    assert [role.name for role in await app.adapter.role.list_roles()] == [
        "role-admin",
        "user-admin",
    ]


async def test_creating_reading_and_listing_roles(app: RbacApp) -> None:
    async with app.client() as client:
        headers = await app.login(client, "ra@example.com")
        body = {"name": "editor", "permissions": ["articles:write", "articles:*"]}
        response = await client.post("/admin/roles", json=body, headers=headers)
        assert response.status_code == 201
        assert response.json() == {
            "name": "editor",
            "permissions": ["articles:*", "articles:write"],
        }
        response = await client.post("/admin/roles", json=body, headers=headers)
        assert (response.status_code, response.json()) == (409, {"detail": "ROLE_ALREADY_EXISTS"})
        for bad in (
            {"name": "two words"},
            {"name": "ok", "permissions": ["a b"]},
            {"name": "ok", "permissions": ["x*"]},
            {"name": "ok", "permissions": [f"p{n}" for n in range(257)]},
            {"permissions": []},
        ):
            response = await client.post("/admin/roles", json=bad, headers=headers)
            assert response.status_code == 422, bad
        response = await client.get("/admin/roles/editor", headers=headers)
        assert response.json() == {
            "name": "editor",
            "permissions": ["articles:*", "articles:write"],
        }
        for name in ("ghost", "not%20a%20name"):
            response = await client.get(f"/admin/roles/{name}", headers=headers)
            assert (response.status_code, response.json()) == (404, {"detail": "ROLE_NOT_FOUND"})
        listed = (await client.get("/admin/roles", headers=headers)).json()
        assert [role["name"] for role in listed] == ["editor", "role-admin", "user-admin"]
        assert listed[1] == {"name": "role-admin", "permissions": ["roles:admin"]}
    created = [e for e in app.events if e.type == "role_create"]
    assert len(created) == 1
    assert created[0].details["permissions"] == "articles:*,articles:write"
    assert created[0].details["role"] == "editor" and created[0].details["actor_id"]


async def test_renaming_and_editing_permissions(app: RbacApp) -> None:
    await app.adapter.role.create_role("editor", ["a"])
    await app.adapter.role.create_role("viewer")
    async with app.client() as client:
        headers = await app.login(client, "ra@example.com")
        response = await client.patch(
            "/admin/roles/editor",
            json={"name": "writer", "permissions": ["b", "c"]},
            headers=headers,
        )
        assert response.json() == {"name": "writer", "permissions": ["b", "c"]}
        response = await client.patch(
            "/admin/roles/writer", json={"permissions": []}, headers=headers
        )
        assert response.json() == {"name": "writer", "permissions": []}
        response = await client.patch("/admin/roles/writer", json={}, headers=headers)
        assert (response.status_code, response.json()["name"]) == (200, "writer")
        response = await client.patch(
            "/admin/roles/writer", json={"name": "writer"}, headers=headers
        )
        assert response.status_code == 200  # the same name: nothing to do
        response = await client.patch(
            "/admin/roles/writer", json={"name": "viewer"}, headers=headers
        )
        assert (response.status_code, response.json()) == (409, {"detail": "ROLE_ALREADY_EXISTS"})
        response = await client.patch("/admin/roles/ghost", json={"name": "x"}, headers=headers)
        assert (response.status_code, response.json()) == (404, {"detail": "ROLE_NOT_FOUND"})
        response = await client.patch("/admin/roles/writer", json={"name": "a b"}, headers=headers)
        assert response.status_code == 422
    assert [e.type for e in app.events if e.type.startswith("role_")] == [
        "role_rename",
        "role_permissions_change",
        "role_permissions_change",
    ]
    assert next(e for e in app.events if e.type == "role_rename").details["old_name"] == "editor"


async def test_a_role_deleted_meanwhile_is_404(app: RbacApp) -> None:
    await app.adapter.role.create_role("editor")
    original = app.adapter.role.get_role

    async def vanishing(name: str) -> object:
        found = await original(name)
        await app.adapter.role.delete_role(name, force=True)
        return found

    app.adapter.role.get_role = vanishing  # type: ignore[method-assign]
    async with app.client() as client:
        headers = await app.login(client, "ra@example.com")
        response = await client.patch(
            "/admin/roles/editor", json={"permissions": ["x"]}, headers=headers
        )
    assert (response.status_code, response.json()) == (404, {"detail": "ROLE_NOT_FOUND"})


async def test_a_granted_role_is_deleted_only_when_forced(app: RbacApp) -> None:
    await app.adapter.role.create_role("editor", ["a"])
    await app.adapter.role.create_role("unused")
    ann = await app.adapter.user.get_by_email("ann@example.com")
    assert ann is not None
    await app.adapter.role.assign_role(ann.id, "editor")
    async with app.client() as client:
        headers = await app.login(client, "ra@example.com")
        response = await client.delete("/admin/roles/editor", headers=headers)
        assert (response.status_code, response.json()) == (409, {"detail": "ROLE_STILL_GRANTED"})
        assert await app.adapter.role.get_user_roles(ann.id) == ["editor"]
        response = await client.delete("/admin/roles/editor?force=true", headers=headers)
        assert response.status_code == 204
        assert await app.adapter.role.get_user_roles(ann.id) == []
        assert (await client.delete("/admin/roles/unused", headers=headers)).status_code == 204
        response = await client.delete("/admin/roles/unused", headers=headers)
        assert (response.status_code, response.json()) == (404, {"detail": "ROLE_NOT_FOUND"})
    deleted = [e.details for e in app.events if e.type == "role_delete"]
    assert [(d["role"], d["holders"]) for d in deleted] == [("editor", 1), ("unused", 0)]


async def test_superusers_pass(app: RbacApp) -> None:
    await app.create_user("root@example.com", is_superuser=True)
    async with app.client() as client:
        headers = await app.login(client, "root@example.com")
        response = await client.post("/admin/roles", json={"name": "x"}, headers=headers)
        assert response.status_code == 201
