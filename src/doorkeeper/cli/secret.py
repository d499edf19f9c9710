"""`doorkeeper secret generate`: a new value for DOORKEEPER_SECRET."""

import typer

from doorkeeper.cli.common import generate_secret

__all__ = ["secret_app"]

secret_app = typer.Typer(
    name="secret",
    help="Make secrets for DOORKEEPER_SECRET.",
    no_args_is_help=True,
    add_completion=False,
)


@secret_app.command()
def generate() -> None:
    """Print a new random secret (48 bytes, base64url) for DOORKEEPER_SECRET."""
    typer.echo(generate_secret())
