"""Roles in the batteries: the `Doorkeeper` object's checks, its admin routes and
`default_role`, and the `doorkeeper roles` / `users create --role` commands."""

from pathlib import Path

import pytest
from fastapi import Depends, FastAPI
from typer.testing import CliRunner

from doorkeeper import Doorkeeper
from doorkeeper.adapter.models import User
from doorkeeper.cli import app as cli
from tests.test_doorkeeper import (  # noqa: F401
    PASSWORD,
    SECRET,
    bearer,
    clean_environment,
    create_user,
    login,
    make_auth,
    serving,
)

runner = CliRunner()


def guarded_app(auth: Doorkeeper) -> FastAPI:
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.get("/articles")
    async def articles(
        user: User = Depends(auth.current_user(active=True, permissions=["articles:read"])),
    ) -> dict[str, str]:
        return {"reader": user.email}

    @app.post("/articles", dependencies=[Depends(auth.require_permission("articles:write"))])
    async def write() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/members", dependencies=[Depends(auth.require_role("member"))])
    async def members() -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_checks_admin_routes_and_the_default_role(database_url: str) -> None:
    auth, _ = make_auth(database_url)
    auth.settings = auth.settings.model_copy(update={"default_role": "member"})
    app = guarded_app(auth)
    async with serving(app, auth) as client:
        assert await auth.adapter.role.get_role("member") is not None  # made at start-up
        await auth.adapter.role.set_permissions("member", ["articles:read"])
        response = await client.post(
            "/auth/register", json={"email": "ann@example.com", "password": PASSWORD}
        )
        assert response.status_code == 202
        ann = await auth.adapter.user.get_by_email("ann@example.com")
        assert ann is not None
        assert await auth.adapter.role.get_user_roles(ann.id) == ["member"]
        await auth.adapter.user.update(ann, {"is_verified": True})

        # The role was deleted meanwhile: made again for the next user.
        await auth.adapter.role.delete_role("member", force=True)
        bob = await create_user(auth, "bob@example.com")
        assert await auth.adapter.role.get_user_roles(bob.id) == ["member"]
        await auth.adapter.role.assign_role(ann.id, "member")
        await auth.adapter.role.set_permissions("member", ["articles:read"])

        headers = bearer(await login(client, "ann@example.com"))
        assert (await client.get("/articles", headers=headers)).status_code == 200
        response = await client.post("/articles", headers=headers)
        assert response.json() == {"detail": "INSUFFICIENT_PERMISSIONS"}
        assert (await client.get("/members", headers=headers)).status_code == 200
        response = await client.get("/admin/users", headers=headers)
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "INSUFFICIENT_PERMISSIONS"},
        )

        await create_user(auth, "root@example.com", is_superuser=True)
        root = bearer(await login(client, "root@example.com"))
        response = await client.get("/admin/users", params={"role": "member"}, headers=root)
        listed = {item["email"] for item in response.json()["items"]}
        assert listed == {"ann@example.com", "bob@example.com", "root@example.com"}
        response = await client.post(
            "/admin/roles", json={"name": "writer", "permissions": ["articles:*"]}, headers=root
        )
        assert response.status_code == 201
        response = await client.put(f"/admin/users/{ann.id}/roles/writer", headers=root)
        assert response.status_code == 204
        assert (await client.post("/articles", headers=headers)).status_code == 200


def _paths(auth: Doorkeeper) -> set[str]:
    app = FastAPI()
    app.include_router(auth.build_router())
    return set(app.openapi()["paths"])


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_the_admin_routes_can_be_left_out(database_url: str) -> None:
    auth, _ = make_auth(database_url)
    assert {"/admin/users", "/admin/roles"} <= _paths(auth)
    auth.settings = auth.settings.model_copy(update={"admin_api": False})
    assert not [path for path in _paths(auth) if path.startswith("/admin")]


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), input=input, env={"DOORKEEPER_SECRET": SECRET})
    return result.exit_code, result.stdout, result.stderr


def test_the_roles_commands(tmp_path: Path) -> None:
    assert invoke("roles", "list")[:2] == (0, "No roles.\n")
    code, out, _ = invoke("roles", "create", "editor", "-p", "articles:*", "-p", "comments:read")
    assert (code, out) == (0, "Created role editor (articles:*, comments:read).\n")
    assert invoke("roles", "create", "viewer")[1] == "Created role viewer (no permission).\n"
    assert invoke("roles", "list")[1].splitlines() == [
        "ROLE    PERMISSIONS",
        "editor  articles:*, comments:read",
        "viewer",
    ]
    for args, error in (
        (("roles", "create", "editor"), "a role is named 'editor' already"),
        (("roles", "create", "a b"), "is not a role name"),
        (("roles", "create", "x", "-p", "a b"), "is not a permission"),
        (("roles", "grant", "nobody@example.com", "editor"), "no user has the e-mail"),
        (("users", "create", "x@example.com", "--password-stdin", "-r", "ghost"), "no role"),
    ):
        code, _, err = invoke(*args, input=PASSWORD)
        assert code == 1 and error in err, err

    code, out, _ = invoke(
        "users", "create", "ann@example.com", "--password-stdin", "-r", "editor", "-r", "viewer",
        input=PASSWORD,
    )  # fmt: skip
    assert code == 0 and out.endswith(" with the roles editor, viewer.\n"), out
    assert "x@example.com" not in invoke("users", "list")[1]  # refused before anything was made

    assert invoke("roles", "revoke", "ann@example.com", "viewer")[1] == (
        "Took viewer from ann@example.com.\n"
    )
    assert invoke("roles", "revoke", "ann@example.com", "viewer")[1] == (
        "ann@example.com does not hold viewer.\n"
    )
    assert invoke("roles", "grant", "ann@example.com", "viewer")[1] == (
        "Granted viewer to ann@example.com.\n"
    )
    assert invoke("roles", "grant", "ann@example.com", "viewer")[1] == (
        "ann@example.com holds viewer already.\n"
    )
    for command in ("grant", "revoke"):
        code, _, err = invoke("roles", command, "ann@example.com", "ghost")
        assert code == 1 and "no role is named 'ghost'" in err
    code, out, _ = invoke("users", "create", "bob@example.com", "--password-stdin", input=PASSWORD)
    assert code == 0 and "with the roles" not in out
