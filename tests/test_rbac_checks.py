"""Role and permission checks over HTTP on SQLite, PostgreSQL and MariaDB:
`current_user(..., roles=, permissions=)`, `require_permission`, `require_role`, the
superuser pass, 403 codes, revocation applying to tokens issued before, and the cost
(one query per request, only on routes that check)."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends
from sqlalchemy import event

from doorkeeper import FastAPIUsers
from doorkeeper.adapter.models import User
from doorkeeper.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from doorkeeper.rbac import Grants, RoleStoreMissingError
from tests.rbac_apps import SECRET, RbacApp, rbac_app


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RbacApp]:
    async with rbac_app(database_url) as built:
        roles = built.adapter.role
        await roles.create_role("reader", ["articles:read"])
        await roles.create_role("editor", ["articles:*"])
        await built.create_user("nobody@example.com")
        await built.create_user("reader@example.com", roles=["reader"])
        await built.create_user("editor@example.com", roles=["editor"])
        await built.create_user("root@example.com", is_superuser=True)
        yield built


async def statuses(
    app: RbacApp, client: httpx.AsyncClient, method: str, path: str
) -> dict[str, tuple[int, Any]]:
    """Who gets what: anonymous and each user."""
    found: dict[str, tuple[int, Any]] = {}
    for who in ("anonymous", "nobody", "reader", "editor", "root"):
        headers = {} if who == "anonymous" else await app.login(client, f"{who}@example.com")
        response = await client.request(method, path, headers=headers)
        found[who] = (response.status_code, response.json().get("detail"))
    return found


async def test_permissions_with_wildcards_and_the_superuser_pass(app: RbacApp) -> None:
    async with app.client() as client:
        assert await statuses(app, client, "GET", "/articles") == {
            "anonymous": (401, "Unauthorized"),
            "nobody": (403, "INSUFFICIENT_PERMISSIONS"),
            "reader": (200, None),
            "editor": (200, None),  # articles:* covers articles:read
            "root": (200, None),
        }
        assert await statuses(app, client, "POST", "/articles") == {
            "anonymous": (401, "Unauthorized"),
            "nobody": (403, "INSUFFICIENT_PERMISSIONS"),
            "reader": (403, "INSUFFICIENT_PERMISSIONS"),
            "editor": (200, None),
            "root": (200, None),
        }


async def test_roles_and_both_checks_together(app: RbacApp) -> None:
    async with app.client() as client:
        assert await statuses(app, client, "GET", "/editor") == {
            "anonymous": (401, "Unauthorized"),
            "nobody": (403, "FORBIDDEN_ROLE"),
            "reader": (403, "FORBIDDEN_ROLE"),
            "editor": (200, None),
            "root": (200, None),
        }
        publish = await statuses(app, client, "GET", "/publish")
        assert publish["reader"] == (403, "FORBIDDEN_ROLE")
        assert publish["editor"] == publish["root"] == (200, None)
        await app.adapter.role.set_permissions("editor", ["articles:read"])
        headers = await app.login(client, "editor@example.com")
        response = await client.get("/publish", headers=headers)
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "INSUFFICIENT_PERMISSIONS"},
        )


async def test_an_optional_check_gives_none_instead_of_403(app: RbacApp) -> None:
    async with app.client() as client:
        assert (await client.get("/maybe")).json() == {"editor": None}
        reader = await app.login(client, "reader@example.com")
        assert (await client.get("/maybe", headers=reader)).json() == {"editor": None}
        editor = await app.login(client, "editor@example.com")
        response = await client.get("/maybe", headers=editor)
        assert response.json() == {"editor": "editor@example.com"}


async def test_a_removed_role_applies_on_the_next_request_even_for_an_existing_jwt(
    app: RbacApp,
) -> None:
    editor = await app.adapter.user.get_by_email("editor@example.com")
    assert editor is not None
    async with app.client() as client:
        headers = await app.login(client, "editor@example.com")  # a JWT issued now
        assert (await client.get("/editor", headers=headers)).status_code == 200
        assert (await client.post("/articles", headers=headers)).status_code == 200

        assert await app.adapter.role.revoke_role(editor.id, "editor") is True
        response = await client.get("/editor", headers=headers)  # the same token
        assert (response.status_code, response.json()["detail"]) == (403, "FORBIDDEN_ROLE")
        assert (await client.post("/articles", headers=headers)).status_code == 403

        await app.adapter.role.assign_role(editor.id, "editor")
        assert (await client.get("/editor", headers=headers)).status_code == 200
        # Permissions taken from the role apply at once too.
        await app.adapter.role.remove_permissions("editor", ["articles:*"])
        assert (await client.post("/articles", headers=headers)).status_code == 403
        # And a deleted role.
        await app.adapter.role.add_permissions("editor", ["articles:write"])
        assert (await client.post("/articles", headers=headers)).status_code == 200
        await app.adapter.role.delete_role("editor", force=True)
        assert (await client.get("/editor", headers=headers)).status_code == 403


async def test_inactive_users_get_401_before_any_role_check(app: RbacApp) -> None:
    async with app.client() as client:
        headers = await app.login(client, "editor@example.com")
        editor = await app.adapter.user.get_by_email("editor@example.com")
        assert editor is not None
        await app.adapter.user.update(editor, {"is_active": False})
        assert (await client.get("/editor", headers=headers)).status_code == 401


async def test_grants_cost_one_query_per_request_and_none_for_superusers(app: RbacApp) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.adapter.engine.sync_engine
    async with app.client() as client:
        editor = await app.login(client, "editor@example.com")
        root = await app.login(client, "root@example.com")
        event.listen(engine, "before_cursor_execute", count)
        try:
            # The session with its user, then the grants.
            assert (await client.get("/editor", headers=editor)).status_code == 200
            assert len(statements) == 2, statements
            assert "doorkeeper_user_role" in statements[1]
            statements.clear()
            # Two checks in one request read the grants once.
            assert (await client.get("/twice", headers=editor)).status_code == 200
            assert sum("doorkeeper_user_role" in s for s in statements) == 1, statements
            statements.clear()
            # A superuser passes without reading roles.
            assert (await client.get("/editor", headers=root)).status_code == 200
            assert len(statements) == 1, statements
        finally:
            event.remove(engine, "before_cursor_execute", count)


def _bare_fastapi_users() -> FastAPIUsers[User, uuid.UUID]:
    async def get_user_manager() -> Any:
        yield None  # pragma: no cover - never called

    async def get_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, 3600)  # pragma: no cover - never called

    backend = AuthenticationBackend[User, uuid.UUID](
        name="jwt", transport=BearerTransport(tokenUrl="login"), get_strategy=get_strategy
    )
    return FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_checks_without_a_role_store_fail_at_start_up(db_kind: str) -> None:
    fastapi_users = _bare_fastapi_users()
    assert fastapi_users.role_store is None
    fastapi_users.current_user(active=True)  # no role asked for: no store needed
    with pytest.raises(RoleStoreMissingError, match=r"role_store=adapter\.role"):
        fastapi_users.current_user(roles=["editor"])
    with pytest.raises(RoleStoreMissingError):
        fastapi_users.require_permission("articles:read")
    with pytest.raises(RoleStoreMissingError, match="admin routers"):
        fastapi_users.get_admin_roles_router()
    with pytest.raises(RoleStoreMissingError, match="admin routers"):
        fastapi_users.get_admin_users_router(Any, Any)  # type: ignore[arg-type]


class _Store:
    """A role store whose reads fail."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def get_grants(self, user_id: Any) -> Grants:
        raise self.error


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_malformed_names_are_refused_at_start_up_and_a_store_is_settable(
    app: RbacApp,
) -> None:
    fastapi_users = _bare_fastapi_users()
    fastapi_users.role_store = app.adapter.role
    assert fastapi_users.authenticator.role_store is app.adapter.role
    fastapi_users.current_user(roles="editor", permissions=("a:*", "b"))
    with pytest.raises(ValueError, match="not a role name"):
        fastapi_users.require_role("two words")
    with pytest.raises(ValueError, match="'\\*' stands only for a whole segment"):
        fastapi_users.require_permission("articles:wr*")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_security_24_an_unreachable_role_store_fails_closed(app: RbacApp) -> None:
    app.fastapi_users.role_store = _Store(ConnectionRefusedError())  # type: ignore[assignment]

    @app.app.get("/guarded")
    async def guarded(user: Any = Depends(app.fastapi_users.require_role("editor"))) -> None:
        raise AssertionError("never reached")  # pragma: no cover

    app.fastapi_users.role_store = _Store(RuntimeError("a bug"))  # type: ignore[assignment]

    @app.app.get("/broken")
    async def broken(user: Any = Depends(app.fastapi_users.require_role("editor"))) -> None:
        raise AssertionError("never reached")  # pragma: no cover

    async with app.client() as client:
        headers = await app.login(client, "editor@example.com")
        response = await client.get("/guarded", headers=headers)
        assert (response.status_code, response.json()) == (503, {"detail": "SERVICE_UNAVAILABLE"})
        with pytest.raises(RuntimeError, match="a bug"):  # a bug is not an outage
            await client.get("/broken", headers=headers)
