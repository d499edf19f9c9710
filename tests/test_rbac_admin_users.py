"""The user administration routes over HTTP on SQLite, PostgreSQL and MariaDB: who may
call them (403 before any lookup), each route, its errors and its audit events."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from doorkeeper.exceptions import UserNotExists
from doorkeeper.rbac import RoleNotFound
from tests.rbac_apps import PASSWORD, RbacApp, rbac_app

NEW_PASSWORD = "another-long-passphrase-for-tests-77"
MISSING = str(uuid.uuid4())


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RbacApp]:
    async with rbac_app(database_url) as built:
        roles = built.adapter.role
        await roles.create_role("user-admin", ["users:admin"])
        await roles.create_role("role-admin", ["roles:admin"])
        await roles.create_role("editor", ["articles:*"])
        await built.create_user("root@example.com", is_superuser=True)
        await built.create_user("ua@example.com", roles=["user-admin"])
        await built.create_user("ra@example.com", roles=["role-admin"])
        await built.create_user("both@example.com", roles=["user-admin", "role-admin"])
        await built.create_user("ann@example.com", roles=["editor"])
        await built.create_user("nobody@example.com")
        yield built


async def user_id(app: RbacApp, email: str) -> str:
    user = await app.adapter.user.get_by_email(email)
    assert user is not None
    return str(user.id)


def user_routes(target: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", "/admin/users", None),
        ("POST", "/admin/users", {"email": "new@example.com", "password": PASSWORD}),
        ("GET", f"/admin/users/{target}", None),
        ("PUT", f"/admin/users/{target}/password", {"password": NEW_PASSWORD}),
        ("POST", f"/admin/users/{target}/activate", None),
        ("POST", f"/admin/users/{target}/deactivate", None),
        ("DELETE", f"/admin/users/{target}/sessions", None),
    ]


def grant_routes(target: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("PUT", f"/admin/users/{target}/roles/editor", None),
        ("DELETE", f"/admin/users/{target}/roles/editor", None),
        ("PUT", f"/admin/users/{target}/roles/ghost", None),
    ]


async def test_security_41_non_admins_get_403_whether_or_not_the_target_exists(
    app: RbacApp,
) -> None:
    ann = await user_id(app, "ann@example.com")
    async with app.client() as client:
        nobody = await app.login(client, "nobody@example.com")
        role_admin = await app.login(client, "ra@example.com")
        user_admin = await app.login(client, "ua@example.com")
        for target in (ann, MISSING, "not-an-id"):
            for who, routes in (
                (nobody, user_routes(target) + grant_routes(target)),
                (role_admin, user_routes(target)),  # roles:admin is not users:admin
                (user_admin, grant_routes(target)),  # ... nor the other way round
            ):
                for method, path, body in routes:
                    response = await client.request(method, path, json=body, headers=who)
                    assert (response.status_code, response.json()) == (
                        403,
                        {"detail": "INSUFFICIENT_PERMISSIONS"},
                    ), (method, path)
            for method, path, body in user_routes(target) + grant_routes(target):
                response = await client.request(method, path, json=body)
                assert response.status_code == 401, (method, path)
    assert await app.adapter.user.get_by_email("new@example.com") is None
    assert await app.adapter.role.get_user_roles(ann) == ["editor"]


async def test_unknown_users_are_404_for_admins(app: RbacApp) -> None:
    async with app.client() as client:
        root = await app.login(client, "root@example.com")
        for target in (MISSING, "not-an-id"):
            for method, path, body in user_routes(target)[2:] + grant_routes(target)[:2]:
                response = await client.request(method, path, json=body, headers=root)
                assert (response.status_code, response.json()) == (
                    404,
                    {"detail": "USER_NOT_FOUND"},
                ), (method, path)


async def test_creating_users(app: RbacApp) -> None:
    async with app.client() as client:
        root = await app.login(client, "root@example.com")
        response = await client.post(
            "/admin/users",
            json={
                "email": "New@Example.com",
                "password": PASSWORD,
                "is_verified": True,
                "roles": ["editor", "user-admin", "editor"],
            },
            headers=root,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["email"] == "New@example.com" and body["is_verified"] is True
        assert body["roles"] == ["editor", "user-admin"]
        assert "password" not in response.text and "hashed" not in response.text
        assert (await app.login(client, "new@example.com"))["Authorization"]

        errors = [
            ({"email": "new@example.com", "password": PASSWORD}, 400),
            ({"email": "weak@example.com", "password": "short"}, 400),
            ({"email": "ghost@example.com", "password": PASSWORD, "roles": ["ghost"]}, 404),
            ({"email": "bad@example.com", "password": PASSWORD, "roles": ["a b"]}, 422),
            ({"email": "not an address", "password": PASSWORD}, 422),
        ]
        details = []
        for json, status_code in errors:
            response = await client.post("/admin/users", json=json, headers=root)
            assert response.status_code == status_code, response.text
            details.append(response.json()["detail"])
        assert details[0] == "REGISTER_USER_ALREADY_EXISTS"
        assert details[1]["code"] == "REGISTER_INVALID_PASSWORD"
        assert details[2] == "ROLE_NOT_FOUND"
    assert await app.adapter.user.get_by_email("ghost@example.com") is None
    assert app.event_types().count("admin_user_create") == 1
    created = next(e for e in app.events if e.type == "admin_user_create")
    assert created.details["roles"] == "editor,user-admin"
    assert created.details["actor_id"] == await user_id(app, "root@example.com")


async def test_admins_who_are_not_superusers_cannot_raise_privileges(app: RbacApp) -> None:
    async with app.client() as client:
        user_admin = await app.login(client, "ua@example.com")
        both = await app.login(client, "both@example.com")
        for json in (
            {"email": "su@example.com", "password": PASSWORD, "is_superuser": True},
            {"email": "ed@example.com", "password": PASSWORD, "roles": ["editor"]},
        ):
            response = await client.post("/admin/users", json=json, headers=user_admin)
            assert (response.status_code, response.json()["detail"]) == (
                403,
                "INSUFFICIENT_PERMISSIONS",
            )
        ok = {"email": "ed@example.com", "password": PASSWORD, "roles": ["editor"]}
        assert (await client.post("/admin/users", json=ok, headers=both)).status_code == 201
        plain = {"email": "plain@example.com", "password": PASSWORD}
        assert (
            await client.post("/admin/users", json=plain, headers=user_admin)
        ).status_code == 201

        # Managing: not a superuser, nor anyone holding what the admin does not.
        for email, allowed in (
            ("root@example.com", False),
            ("ra@example.com", False),
            ("ann@example.com", False),  # articles:* is not the admin's
            ("nobody@example.com", True),
        ):
            target = await user_id(app, email)
            response = await client.post(f"/admin/users/{target}/deactivate", headers=user_admin)
            assert response.status_code == (200 if allowed else 403), email
    assert await app.adapter.user.get_by_email("su@example.com") is None


async def test_reading_a_user_with_roles(app: RbacApp) -> None:
    ann = await user_id(app, "ann@example.com")
    async with app.client() as client:
        user_admin = await app.login(client, "ua@example.com")
        response = await client.get(f"/admin/users/{ann}", headers=user_admin)
    assert response.status_code == 200
    assert response.json() == {
        "id": ann,
        "email": "ann@example.com",
        "is_active": True,
        "is_superuser": False,
        "is_verified": False,
        "roles": ["editor"],
    }


async def test_setting_a_password_ends_the_users_sessions(app: RbacApp) -> None:
    ann = await user_id(app, "ann@example.com")
    async with app.client() as client:
        root = await app.login(client, "root@example.com")
        ann_headers = await app.login(client, "ann@example.com")
        assert (await client.get("/articles", headers=ann_headers)).status_code == 200
        path = f"/admin/users/{ann}/password"
        response = await client.put(path, json={"password": "short"}, headers=root)
        assert response.status_code == 400
        assert response.json()["detail"]["code"] == "UPDATE_USER_INVALID_PASSWORD"
        response = await client.put(path, json={"password": NEW_PASSWORD}, headers=root)
        assert response.status_code == 204
        assert (await client.get("/articles", headers=ann_headers)).status_code == 401
        old = await client.post(
            "/auth/jwt/login", data={"username": "ann@example.com", "password": PASSWORD}
        )
        assert old.status_code == 400
        new = await client.post(
            "/auth/jwt/login", data={"username": "ann@example.com", "password": NEW_PASSWORD}
        )
        assert new.status_code == 200
    assert "admin_password_set" in app.event_types()
    assert "password_change" in app.event_types()  # the manager's own event


async def test_deactivating_and_activating(app: RbacApp) -> None:
    nobody = await user_id(app, "nobody@example.com")
    async with app.client() as client:
        admin = await app.login(client, "ua@example.com")
        headers = await app.login(client, "nobody@example.com")
        response = await client.post(f"/admin/users/{nobody}/deactivate", headers=admin)
        assert response.status_code == 200
        assert response.json()["is_active"] is False
        login = {"username": "nobody@example.com", "password": PASSWORD}
        assert (await client.post("/auth/jwt/login", data=login)).status_code == 400
        assert (await client.get("/editor", headers=headers)).status_code == 401
        response = await client.post(f"/admin/users/{nobody}/activate", headers=admin)
        assert (response.status_code, response.json()["is_active"]) == (200, True)
        assert (await client.post("/auth/jwt/login", data=login)).status_code == 200
    types = app.event_types()
    assert "admin_user_deactivate" in types and "admin_user_activate" in types


async def test_ending_all_sessions_of_a_user(app: RbacApp) -> None:
    ann = await user_id(app, "ann@example.com")
    async with app.client() as client:
        root = await app.login(client, "root@example.com")
        first = await app.login(client, "ann@example.com")
        second = await app.login(client, "ann@example.com")
        response = await client.delete(f"/admin/users/{ann}/sessions", headers=root)
        assert response.status_code == 204
        for headers in (first, second):
            assert (await client.get("/articles", headers=headers)).status_code == 401
        assert (await client.get("/articles", headers=root)).status_code == 200
        assert (
            await client.get("/articles", headers=await app.login(client, "ann@example.com"))
        ).status_code == 200
    ended = [e for e in app.events if e.type == "session_revoked"]
    assert len(ended) == 1 and ended[0].details["count"] == 2
    assert ended[0].details["by"] == "admin" and ended[0].user_id == ann


async def test_granting_and_revoking_roles(app: RbacApp) -> None:
    nobody = await user_id(app, "nobody@example.com")
    async with app.client() as client:
        admin = await app.login(client, "ra@example.com")
        headers = await app.login(client, "nobody@example.com")
        path = f"/admin/users/{nobody}/roles"
        assert (await client.get("/editor", headers=headers)).status_code == 403
        assert (await client.put(f"{path}/editor", headers=admin)).status_code == 204
        assert (await client.put(f"{path}/editor", headers=admin)).status_code == 204  # again
        assert (await client.get("/editor", headers=headers)).status_code == 200
        for method in ("PUT", "DELETE"):
            response = await client.request(method, f"{path}/ghost", headers=admin)
            assert (response.status_code, response.json()) == (404, {"detail": "ROLE_NOT_FOUND"})
        assert (await client.delete(f"{path}/editor", headers=admin)).status_code == 204
        assert (await client.delete(f"{path}/editor", headers=admin)).status_code == 204
        assert (await client.get("/editor", headers=headers)).status_code == 403
    grants = [(e.type, e.details["changed"]) for e in app.events if e.type.startswith("role_")]
    assert grants == [
        ("role_grant", True),
        ("role_grant", False),
        ("role_revoke", True),
        ("role_revoke", False),
    ]


async def _page(
    client: httpx.AsyncClient, headers: dict[str, str], **params: object
) -> tuple[list[str], str | None]:
    response = await client.get("/admin/users", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["email"] for item in body["items"]], body["next_cursor"]


async def test_listing_filters_and_pages(app: RbacApp) -> None:
    ann = await app.adapter.user.get_by_email("ann@example.com")
    assert ann is not None
    await app.adapter.user.update(ann, {"is_verified": True})
    async with app.client() as client:
        admin = await app.login(client, "ua@example.com")
        everyone, cursor = await _page(client, admin)
        assert len(everyone) == 6 and cursor is None
        ids = [await user_id(app, email) for email in everyone]
        assert ids == sorted(ids, key=uuid.UUID)  # ordered by id
        assert await _page(client, admin, email="AN") == (["ann@example.com"], None)
        assert await _page(client, admin, email="%") == ([], None)  # no wildcard
        assert await _page(client, admin, role="editor") == (["ann@example.com"], None)
        assert await _page(client, admin, role="ghost") == ([], None)
        assert await _page(client, admin, is_verified=True) == (["ann@example.com"], None)
        assert await _page(client, admin, is_superuser=True) == (["root@example.com"], None)
        assert len((await _page(client, admin, is_active=True))[0]) == 6
        both, _ = await _page(client, admin, role="role-admin")
        assert sorted(both) == ["both@example.com", "ra@example.com"]

        first, cursor = await _page(client, admin, limit=4)
        assert first == everyone[:4] and cursor is not None
        rest, cursor = await _page(client, admin, limit=4, after=cursor)
        assert rest == everyone[4:] and cursor is None
        assert await _page(client, admin, limit=4, offset=4) == (everyone[4:], None)
        assert await _page(client, admin, offset=100) == ([], None)  # past the end
        response = await client.get("/admin/users", params={"after": "x"}, headers=admin)
        assert response.status_code == 422
        response = await client.get("/admin/users", params={"limit": 0}, headers=admin)
        assert response.status_code == 422
        listed = (await client.get("/admin/users", params={"role": "editor"}, headers=admin)).json()
        assert listed["items"][0]["roles"] == ["editor"]


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_role_or_user_deleted_meanwhile_is_404(app: RbacApp) -> None:
    ann = await user_id(app, "ann@example.com")

    async def deleted_meanwhile(user_id: object, role_name: str) -> bool:
        raise error

    app.adapter.role.assign_role = deleted_meanwhile  # type: ignore[method-assign]
    async with app.client() as client:
        root = await app.login(client, "root@example.com")
        error: Exception = RoleNotFound("editor")
        body = {"email": "new@example.com", "password": PASSWORD, "roles": ["editor"]}
        response = await client.post("/admin/users", json=body, headers=root)
        assert (response.status_code, response.json()) == (404, {"detail": "ROLE_NOT_FOUND"})
        error = UserNotExists()
        response = await client.put(f"/admin/users/{ann}/roles/editor", headers=root)
        assert (response.status_code, response.json()) == (404, {"detail": "USER_NOT_FOUND"})
