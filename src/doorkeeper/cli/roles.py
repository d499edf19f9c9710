"""`doorkeeper roles`: create and list roles, grant them to users and take them back.

Like `doorkeeper users`, the commands work on the database of DOORKEEPER_DATABASE_URL
(or `--database-url`) and record audit events (with `via: "cli"`). Role administration
over HTTP, with renaming, permission edits and deletion, is at `/admin/roles`
(docs/rbac.md).
"""

from typing import Annotated

import typer

from doorkeeper.audit import record_event
from doorkeeper.cli.common import CommandError, one_line_errors
from doorkeeper.cli.users import DatabaseURL, Email, Manager, find_user, with_manager
from doorkeeper.doorkeeper import Doorkeeper
from doorkeeper.rbac import RoleAlreadyExists, RoleData, RoleNotFound

__all__ = ["roles_app"]

roles_app = typer.Typer(
    name="roles",
    help="Create and list roles, grant and revoke them.",
    no_args_is_help=True,
    add_completion=False,
)

RoleName = Annotated[str, typer.Argument(help="The role's name.", show_default=False)]


@roles_app.command()
def create(
    name: RoleName,
    permission: Annotated[
        list[str] | None,
        typer.Option(
            "--permission",
            "-p",
            help="A permission the role grants, e.g. articles:write (repeat for more).",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseURL = None,
) -> None:
    """Create a role granting the permissions given."""

    async def action(auth: Doorkeeper, manager: Manager) -> RoleData:
        try:
            role = await auth.adapter.role.create_role(name, permission or [])
        except RoleAlreadyExists:
            raise CommandError(f"a role is named {name!r} already") from None
        except ValueError as error:
            raise CommandError(str(error)) from None
        await record_event(
            manager, "role_create", role=name, permissions=",".join(role.permissions), via="cli"
        )
        return role

    with one_line_errors():
        role = with_manager(database_url, action)
    granted = ", ".join(role.permissions) or "no permission"
    typer.echo(f"Created role {role.name} ({granted}).")


@roles_app.command()
def grant(email: Email, role: RoleName, database_url: DatabaseURL = None) -> None:
    """Grant a role to a user."""

    async def action(auth: Doorkeeper, manager: Manager) -> bool:
        user = await find_user(manager, email)
        try:
            changed = await auth.adapter.role.assign_role(user.id, role)
        except RoleNotFound:
            raise CommandError(f"no role is named {role!r}") from None
        await record_event(manager, "role_grant", user=user, role=role, changed=changed, via="cli")
        return changed

    with one_line_errors():
        changed = with_manager(database_url, action)
    typer.echo(f"Granted {role} to {email}." if changed else f"{email} holds {role} already.")


@roles_app.command()
def revoke(email: Email, role: RoleName, database_url: DatabaseURL = None) -> None:
    """Take a role back from a user (applies to their next request)."""

    async def action(auth: Doorkeeper, manager: Manager) -> bool:
        user = await find_user(manager, email)
        if await auth.adapter.role.get_role(role) is None:
            raise CommandError(f"no role is named {role!r}")
        changed = await auth.adapter.role.revoke_role(user.id, role)
        await record_event(manager, "role_revoke", user=user, role=role, changed=changed, via="cli")
        return changed

    with one_line_errors():
        changed = with_manager(database_url, action)
    typer.echo(f"Took {role} from {email}." if changed else f"{email} does not hold {role}.")


@roles_app.command("list")
def list_roles(database_url: DatabaseURL = None) -> None:
    """List every role with its permissions."""

    async def action(auth: Doorkeeper, manager: Manager) -> list[RoleData]:
        return await auth.adapter.role.list_roles()

    with one_line_errors():
        roles = with_manager(database_url, action)
    if not roles:
        typer.echo("No roles.")
        return
    width = max(len("ROLE"), *(len(role.name) for role in roles))
    typer.echo(f"{'ROLE'.ljust(width)}  PERMISSIONS")
    for role in roles:
        typer.echo(f"{role.name.ljust(width)}  {', '.join(role.permissions)}".rstrip())
