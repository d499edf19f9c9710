"""`doorkeeper db ...` on argparse, for an install without typer (no `server` extra).

The same commands, arguments and options as `doorkeeper.cli.db`, and the same output:
one line on stderr and exit status 1 for a mistake. The other commands need typer:
asked for, they say which extra to install.
"""

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from doorkeeper.cli import db_commands
from doorkeeper.cli.db_commands import DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL, ERRORS

__all__ = ["main", "parser"]

TYPER_COMMANDS = ("serve", "users", "roles", "secret")
INSTALL_HINT = 'pip install "doorkeeper[server]"'


def _database_url(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL),
        help=f"The database (default: {DATABASE_URL_VARIABLE}, or {DEFAULT_DATABASE_URL}).",
    )


def parser() -> argparse.ArgumentParser:
    """The `doorkeeper` parser: `db upgrade | downgrade | current | history`."""
    root = argparse.ArgumentParser(
        prog="doorkeeper",
        description=(
            "Doorkeeper's migrations. The other commands (serve, users, roles, secret) "
            f"need typer: {INSTALL_HINT}."
        ),
    )
    root.set_defaults(help_parser=root)
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    db = commands.add_parser(
        "db", help="Create, upgrade or inspect Doorkeeper's tables (shipped Alembic migrations)."
    )
    db.set_defaults(help_parser=db)
    db_actions = db.add_subparsers(dest="action", metavar="ACTION")

    upgrade = db_actions.add_parser(
        "upgrade", help="Upgrade the database (creating Doorkeeper's tables, or adopting)."
    )
    upgrade.add_argument("revision", nargs="?", default="head", help="An id, or 'head'.")
    _database_url(upgrade)
    upgrade.add_argument(
        "--metadata",
        default=None,
        help="Your models' metadata as module:attribute (e.g. myapp.models:Base): adopt "
        "your app's own user table and the tables referring to it.",
    )
    downgrade = db_actions.add_parser("downgrade", help="Downgrade the database.")
    downgrade.add_argument("revision", help="An id, or 'base'.")
    _database_url(downgrade)
    current = db_actions.add_parser("current", help="Print the database's revision, or 'none'.")
    _database_url(current)
    db_actions.add_parser("history", help="List the shipped revisions, oldest first.")
    return root


def _run(arguments: argparse.Namespace) -> list[str]:
    actions: dict[str, Callable[[], list[str]]] = {
        "upgrade": lambda: db_commands.upgrade(
            arguments.database_url, arguments.revision, arguments.metadata
        ),
        "downgrade": lambda: db_commands.downgrade(arguments.database_url, arguments.revision),
        "current": lambda: db_commands.current(arguments.database_url),
        "history": db_commands.history,
    }
    return actions[arguments.action]()


def main(argv: Sequence[str]) -> int:
    """Run `doorkeeper ARGV`; return the exit status."""
    if argv and argv[0] in TYPER_COMMANDS:
        print(
            f"Error: `doorkeeper {argv[0]}` needs typer, which is not installed: "
            f"{INSTALL_HINT} (only `doorkeeper db ...` works without it)",
            file=sys.stderr,
        )
        return 1
    root = parser()
    arguments = root.parse_args(argv)
    if getattr(arguments, "action", None) is None:
        arguments.help_parser.print_help()
        return 0
    try:
        lines = _run(arguments)
    except ERRORS as error:
        print(db_commands.error_line(error), file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
