"""What `doorkeeper db ...` does, without any CLI library: each command returns the lines
to print, or raises one of `ERRORS` (a line on stderr and exit status 1).

`doorkeeper.cli.db` (typer) and `doorkeeper.cli.plain` (argparse, for an install
without typer) are two front ends of these functions.
"""

from doorkeeper.adapter.engine import DatabaseUnavailableError, describe_url
from doorkeeper.migrations import api
from doorkeeper.migrations.errors import MigrationError

__all__ = [
    "DATABASE_URL_VARIABLE",
    "DEFAULT_DATABASE_URL",
    "ERRORS",
    "current",
    "downgrade",
    "error_line",
    "history",
    "upgrade",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./doorkeeper.db"
DATABASE_URL_VARIABLE = "DOORKEEPER_DATABASE_URL"
ERRORS = (ValueError, DatabaseUnavailableError, MigrationError)
"""The errors a user can cause: told in one line, never with a traceback."""


def error_line(error: BaseException) -> str:
    """`Error: ...` on one line."""
    message = " ".join(str(error).split()) or type(error).__name__
    return f"Error: {message}"


def _revision_text(revision: str | None) -> str:
    return revision if revision is not None else "none"


def _at_revision(database_url: str) -> str:
    reached = api.current(database_url)
    return f"{describe_url(database_url)} is at revision {_revision_text(reached)}."


def upgrade(database_url: str, revision: str = "head", metadata: str | None = None) -> list[str]:
    """Upgrade Doorkeeper's tables to `revision`; with `metadata` (`module:Base` of the
    app's models), adopt the app's own tables instead."""
    if metadata is not None:
        from doorkeeper.adapter.models import Base
        from doorkeeper.migrations.app_tables import load_metadata

        loaded = load_metadata(metadata)
        if loaded is not Base.metadata:  # Doorkeeper's own models: the revisions below
            if revision != "head":
                raise MigrationError(
                    "--metadata adopts your app's tables as its models describe them: "
                    f"it takes no revision (got {revision!r})"
                )
            done = api.adopt_app_tables(database_url, loaded)
            where = describe_url(database_url)
            if not done:
                return [f"{where}: nothing to do, the tables of {metadata} are Doorkeeper's."]
            return [*(f"- {line}" for line in done), f"{where}: adopted the tables of {metadata}."]
    api.upgrade(database_url, revision)
    return [_at_revision(database_url)]


def downgrade(database_url: str, revision: str) -> list[str]:
    """Downgrade Doorkeeper's tables to `revision` ('base' drops them, unless adopted)."""
    api.downgrade(database_url, revision)
    return [_at_revision(database_url)]


def current(database_url: str) -> list[str]:
    """The database's revision, or 'none'."""
    return [_revision_text(api.current(database_url))]


def history() -> list[str]:
    """The shipped revisions, oldest first."""
    return api.history()
