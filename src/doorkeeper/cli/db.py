"""`doorkeeper db`: Doorkeeper's shipped migrations (upgrade, downgrade, current, history).

Every command takes `--database-url` (or DOORKEEPER_DATABASE_URL). An error — a wrong
URL, an unreachable database, accounts in the way of adopting a FastAPI Users database —
prints one line on stderr and exits with status 1.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from doorkeeper.adapter.engine import DatabaseUnavailableError, describe_url
from doorkeeper.migrations import api
from doorkeeper.migrations.errors import MigrationError

__all__ = ["DEFAULT_DATABASE_URL", "db_app"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./doorkeeper.db"

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
        envvar="DOORKEEPER_DATABASE_URL",
        help="The database, e.g. postgresql+asyncpg://user:password@host/db.",
        show_default=True,
    ),
]


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one line on stderr and exit status 1."""
    try:
        yield
    except (ValueError, DatabaseUnavailableError, MigrationError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        typer.echo(f"Error: {message}", err=True)
        raise typer.Exit(code=1) from None


def _revision_text(revision: str | None) -> str:
    return revision if revision is not None else "none"


@db_app.command()
def upgrade(
    revision: Annotated[
        str, typer.Argument(help="The revision to reach: an id, or 'head'.")
    ] = "head",
    database_url: DatabaseURL = DEFAULT_DATABASE_URL,
) -> None:
    """Upgrade the database (creating Doorkeeper's tables, or adopting FastAPI Users')."""
    with _one_line_errors():
        api.upgrade(database_url, revision)
        reached = api.current(database_url)
    typer.echo(f"{describe_url(database_url)} is at revision {_revision_text(reached)}.")


@db_app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="The revision to go back to: an id, or 'base'.")],
    database_url: DatabaseURL = DEFAULT_DATABASE_URL,
) -> None:
    """Downgrade the database ('base' drops Doorkeeper's tables, unless adopted)."""
    with _one_line_errors():
        api.downgrade(database_url, revision)
        reached = api.current(database_url)
    typer.echo(f"{describe_url(database_url)} is at revision {_revision_text(reached)}.")


@db_app.command()
def current(database_url: DatabaseURL = DEFAULT_DATABASE_URL) -> None:
    """Print the database's revision, or 'none'."""
    with _one_line_errors():
        revision = api.current(database_url)
    typer.echo(_revision_text(revision))


@db_app.command()
def history() -> None:
    """List the shipped revisions, oldest first."""
    for line in api.history():
        typer.echo(line)
