"""`doorkeeper serve`: the ready-made auth server (`doorkeeper.server`) under uvicorn.

Before uvicorn starts, the settings, the database and Redis are checked the way the
server's start-up does it, so that any mistake is one line and exit status 1.
"""

import os
from typing import Annotated

import typer

from doorkeeper.adapter.engine import describe_url
from doorkeeper.cli.common import (
    SECRET_VARIABLE,
    cli_settings,
    is_configured,
    one_line_errors,
    run,
)
from doorkeeper.doorkeeper import Doorkeeper
from doorkeeper.settings import ENV_PREFIX, DoorkeeperSettings

__all__ = ["serve"]

APP_FACTORY = "doorkeeper.server:create_app"
PUBLIC_URL_VARIABLE = f"{ENV_PREFIX}PUBLIC_URL"
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - addresses to recognise, not to bind


async def check(auth: Doorkeeper) -> None:
    """What the server's start-up does, then close everything again."""
    try:
        await auth.startup()
    finally:
        await auth.shutdown()


def _url_host(host: str) -> str:
    """The host of a URL reaching `host` from this machine."""
    if host in WILDCARDS:
        return "localhost"
    return f"[{host}]" if ":" in host else host


def describe(settings: DoorkeeperSettings, host: str, port: int) -> str:
    """The one line that says what is served, where, and on what."""
    shown_host = _url_host(host)
    sender = "SMTP " + (settings.smtp_host or "") if settings.smtp_host else "console"
    return (
        f"Doorkeeper on http://{shown_host}:{port} (API docs at /docs); "
        f"database {describe_url(settings.database_url)}; tokens: {settings.auth_strategy}; "
        f"mail: {sender}; "
        f"links to {settings.public_url}."
    )


def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1, max=65535)] = 8000,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when files change (development).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Run the auth server (SQLite ./doorkeeper.db unless DOORKEEPER_DATABASE_URL is set)."""
    import uvicorn

    from doorkeeper.server import create_app

    with one_line_errors():
        public_url = None
        if not is_configured(PUBLIC_URL_VARIABLE):
            public_url = f"http://{_url_host(host)}:{port}"  # links lead to this server
        settings, secret_file = cli_settings(public_url=public_url, announce=True)
        run(check(Doorkeeper(settings=settings)))
        app = None if reload else create_app(settings)
    typer.echo(describe(settings, host, port))
    if app is not None:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    # The reloading worker is another process: it reads its settings from the environment.
    if secret_file is not None:
        os.environ[SECRET_VARIABLE] = settings.secret.get_secret_value()
    if public_url is not None:
        os.environ[PUBLIC_URL_VARIABLE] = public_url
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, reload=True, log_level=log_level)
