"""`doorkeeper users`: create, list, activate, deactivate and delete users, set passwords.

The commands work on the database of DOORKEEPER_DATABASE_URL (or `--database-url`),
through the same user manager as the server: the password policy applies, a new
password or a deactivation ends the user's sessions. Users created here are verified
(the operator vouches for the address) and get no mail.
"""

import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import EmailStr, TypeAdapter, ValidationError

from doorkeeper import exceptions, schemas
from doorkeeper.adapter.models import User
from doorkeeper.batteries.storage import prepare_storage
from doorkeeper.cli.common import CommandError, cli_settings, one_line_errors, run
from doorkeeper.doorkeeper import Doorkeeper
from doorkeeper.manager import BaseUserManager

__all__ = ["users_app"]

users_app = typer.Typer(
    name="users",
    help="Create, list and manage users.",
    no_args_is_help=True,
    add_completion=False,
)

T = TypeVar("T")
Manager = BaseUserManager[User, uuid.UUID]
PAGE_SIZE = 500
EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)

DatabaseURL = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="The database (default: DOORKEEPER_DATABASE_URL, or ./doorkeeper.db).",
        show_default=False,
    ),
]
Email = Annotated[str, typer.Argument(help="The user's e-mail address.", show_default=False)]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from standard input instead of asking."
    ),
]


def with_manager(
    database_url: str | None, action: Callable[[Doorkeeper, Manager], Awaitable[T]]
) -> T:
    """Run `action` with a user manager on the configured database (tables made or
    checked first, as the server does at start-up)."""
    settings, _ = cli_settings(database_url=database_url)
    auth = Doorkeeper(settings=settings)

    async def main() -> T:
        try:
            await prepare_storage(auth.adapter)
            return await action(auth, auth.create_user_manager(auth.adapter.user))
        finally:
            await auth.shutdown()

    return run(main())


async def find_user(manager: Manager, email: str) -> User:
    try:
        return await manager.get_by_email(email)
    except exceptions.UserNotExists:
        raise CommandError(f"no user has the e-mail address {email!r}") from None


def read_password(from_stdin: bool) -> str:
    """The new password: from standard input (one line), or asked twice."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("no password on standard input")
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


def _field_error(error: ValidationError, field: str | None = None) -> str:
    item = error.errors(include_url=False, include_input=False)[0]
    field = field or ".".join(str(part) for part in item["loc"])
    reason = str(item["msg"]).removeprefix("value is not a valid email address: ")
    if field == "email":
        return f"not a valid e-mail address: {reason}"
    return f"{field}: {reason}"


@users_app.command()
def create(
    email: Email,
    superuser: Annotated[bool, typer.Option("--superuser", help="Make a superuser.")] = False,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", "-r", help="Grant this role (repeat for more).", show_default=False),
    ] = None,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseURL = None,
) -> None:
    """Create a verified, active user (the password is asked twice)."""
    roles = sorted(set(role or []))
    with one_line_errors():
        try:
            EMAIL.validate_python(email)
        except ValidationError as error:
            raise CommandError(_field_error(error, "email")) from None
        password = read_password(password_stdin)
        try:
            user_create = schemas.BaseUserCreate(
                email=email,
                password=password,
                is_superuser=superuser,
                is_verified=True,
                is_active=True,
            )
        except ValidationError as error:
            raise CommandError(_field_error(error)) from None

        async def action(auth: Doorkeeper, manager: Manager) -> User:
            for name in roles:  # all of them known, before anything is made
                if await auth.adapter.role.get_role(name) is None:
                    raise CommandError(f"no role is named {name!r}")
            try:
                user = await manager.create(user_create)
            except exceptions.UserAlreadyExists:
                raise CommandError(f"a user with the e-mail address {email!r} exists") from None
            except exceptions.InvalidPasswordException as error:
                raise CommandError(f"password refused: {error.reason}") from None
            for name in roles:
                await auth.adapter.role.assign_role(user.id, name)
            return user

        user = with_manager(database_url, action)
    kind = "superuser" if user.is_superuser else "user"
    holding = f" with the roles {', '.join(roles)}" if roles else ""
    typer.echo(f"Created {kind} {user.email} ({user.id}){holding}.")


@users_app.command("list")
def list_users(database_url: DatabaseURL = None) -> None:
    """List every user: id, e-mail, active, superuser, verified."""

    async def action(auth: Doorkeeper, manager: Manager) -> list[User]:
        users: list[User] = []
        while True:
            page = await auth.adapter.user.list(offset=len(users), limit=PAGE_SIZE)
            users.extend(page)
            if len(page) < PAGE_SIZE:
                return users

    with one_line_errors():
        users = with_manager(database_url, action)
    if not users:
        typer.echo("No users.")
        return
    rows = [("ID", "E-MAIL", "ACTIVE", "SUPERUSER", "VERIFIED")]
    rows += [
        (str(u.id), u.email, _yes_no(u.is_active), _yes_no(u.is_superuser), _yes_no(u.is_verified))
        for u in users
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _update(database_url: str | None, email: str, update: schemas.BaseUserUpdate) -> User:
    async def action(auth: Doorkeeper, manager: Manager) -> User:
        user = await find_user(manager, email)
        try:
            return await manager.update(update, user)
        except exceptions.InvalidPasswordException as error:
            raise CommandError(f"password refused: {error.reason}") from None

    return with_manager(database_url, action)


@users_app.command("set-password")
def set_password(
    email: Email, password_stdin: PasswordStdin = False, database_url: DatabaseURL = None
) -> None:
    """Set a user's password (asked twice); ends the user's sessions."""
    with one_line_errors():
        password = read_password(password_stdin)
        try:
            update = schemas.BaseUserUpdate(password=password)
        except ValidationError as error:
            raise CommandError(_field_error(error)) from None
        user = _update(database_url, email, update)
    typer.echo(f"Password of {user.email} set; their sessions have ended.")


@users_app.command()
def activate(email: Email, database_url: DatabaseURL = None) -> None:
    """Let a user sign in again."""
    with one_line_errors():
        user = _update(database_url, email, schemas.BaseUserUpdate(is_active=True))
    typer.echo(f"{user.email} is active.")


@users_app.command()
def deactivate(email: Email, database_url: DatabaseURL = None) -> None:
    """Stop a user from signing in; ends the user's sessions."""
    with one_line_errors():
        user = _update(database_url, email, schemas.BaseUserUpdate(is_active=False))
    typer.echo(f"{user.email} is inactive; their sessions have ended.")


@users_app.command()
def delete(
    email: Email,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseURL = None,
) -> None:
    """Delete a user, with their sessions and linked accounts."""
    with one_line_errors():
        if not yes:
            typer.confirm(f"Delete the user {email}?", abort=True)

        async def action(auth: Doorkeeper, manager: Manager) -> User:
            user = await find_user(manager, email)
            await manager.delete(user)
            return user

        user = with_manager(database_url, action)
    typer.echo(f"Deleted {user.email}.")
