"""The `doorkeeper` command on typer: every command (`pip install "doorkeeper[server]"`)."""

import typer

from doorkeeper.cli.db import db_app
from doorkeeper.cli.roles import roles_app
from doorkeeper.cli.secret import secret_app
from doorkeeper.cli.serve import serve
from doorkeeper.cli.users import users_app

__all__ = ["app"]

app = typer.Typer(
    name="doorkeeper",
    help="Doorkeeper: a ready-made auth server, and the tools to run it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.add_typer(users_app, name="users")
app.add_typer(roles_app, name="roles")
app.add_typer(db_app, name="db")
app.add_typer(secret_app, name="secret")
