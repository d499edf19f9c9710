"""`doorkeeper db`: Doorkeeper's shipped migrations (upgrade, downgrade, current, history).

Every command takes `--database-url` (or DOORKEEPER_DATABASE_URL). An error — a wrong
URL, an unreachable database, accounts in the way of adopting a FastAPI Users database —
prints one line on stderr and exits with status 1.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from doorkeeper.cli import db_commands
from doorkeeper.cli.db_commands import DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL, ERRORS

__all__ = ["DEFAULT_DATABASE_URL", "db_app"]

db_app = typer.Typer(
    name="db",
    help="Create, upgrade or inspect Doorkeeper's tables (shipped Alembic migrations).",
    no_args_is_help=True,
    add_completion=False,
)

DatabaseURL = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar=DATABASE_URL_VARIABLE,
        help="The database, e.g. postgresql+asyncpg://user:password@host/db.",
        show_default=True,
    ),
]


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one line on stderr and exit status 1."""
    try:
        yield
    except ERRORS as error:
        typer.echo(db_commands.error_line(error), err=True)
        raise typer.Exit(code=1) from None


def _echo(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


@db_app.command()
def upgrade(
    revision: Annotated[
        str, typer.Argument(help="The revision to reach: an id, or 'head'.")
    ] = "head",
    database_url: DatabaseURL = DEFAULT_DATABASE_URL,
    metadata: Annotated[
        str | None,
        typer.Option(
            "--metadata",
            help=(
                "Your models' metadata as module:attribute (e.g. myapp.models:Base): "
                "adopt your app's own user table (any name, integer ids) and the tables "
                "referring to it, instead of Doorkeeper's."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Upgrade the database (creating Doorkeeper's tables, or adopting FastAPI Users')."""
    with _one_line_errors():
        lines = db_commands.upgrade(database_url, revision, metadata)
    _echo(lines)


@db_app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="The revision to go back to: an id, or 'base'.")],
    database_url: DatabaseURL = DEFAULT_DATABASE_URL,
) -> None:
    """Downgrade the database ('base' drops Doorkeeper's tables, unless adopted)."""
    with _one_line_errors():
        lines = db_commands.downgrade(database_url, revision)
    _echo(lines)


@db_app.command()
def current(database_url: DatabaseURL = DEFAULT_DATABASE_URL) -> None:
    """Print the database's revision, or 'none'."""
    with _one_line_errors():
        lines = db_commands.current(database_url)
    _echo(lines)


@db_app.command()
def history() -> None:
    """List the shipped revisions, oldest first."""
    _echo(db_commands.history())
