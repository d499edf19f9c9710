"""What the commands share: one-line errors, the settings, and the development secret.

Without `DOORKEEPER_SECRET`, and with a public URL on this machine (development), the
commands keep a random secret in `./.doorkeeper-secret` (mode 0600), made on first use;
elsewhere a missing secret is an error.
"""

import asyncio
import os
import secrets
import stat
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from dotenv import dotenv_values

from doorkeeper.adapter.engine import DatabaseUnavailableError
from doorkeeper.authentication.errors import is_unavailable_error
from doorkeeper.batteries.storage import DatabaseNotReadyError, RedisUnavailableError
from doorkeeper.migrations.errors import MigrationError
from doorkeeper.settings import (
    ENV_PREFIX,
    GENERATE_SECRET_COMMAND,
    MIN_SECRET_BYTES,
    ConfigurationError,
    DoorkeeperSettings,
    is_local_url,
    load_settings,
)

__all__ = [
    "DEV_SECRET_FILE",
    "CommandError",
    "cli_settings",
    "fail",
    "generate_secret",
    "one_line_errors",
    "run",
]

DEV_SECRET_FILE = Path(".doorkeeper-secret")
SECRET_VARIABLE = f"{ENV_PREFIX}SECRET"
DEBUG_VARIABLE = f"{ENV_PREFIX}DEBUG"
T = TypeVar("T")


class CommandError(Exception):
    """A mistake of the caller's, told in one line."""


def generate_secret() -> str:
    """A new secret: 48 random bytes, base64url (64 characters)."""
    return secrets.token_urlsafe(48)


def fail(message: str) -> typer.Exit:
    """Print `Error: message` on stderr; return the exit to raise (status 1)."""
    typer.echo(f"Error: {' '.join(message.split())}", err=True)
    return typer.Exit(code=1)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn every error into one line on stderr and exit status 1: never a traceback
    (unless DOORKEEPER_DEBUG is set)."""
    try:
        yield
    except (
        CommandError,
        ConfigurationError,
        DatabaseUnavailableError,
        DatabaseNotReadyError,
        RedisUnavailableError,
        MigrationError,
    ) as error:
        raise fail(str(error) or type(error).__name__) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        if is_unavailable_error(error):
            message = f"the database (or Redis) cannot be reached: {type(error).__name__}"
        else:
            first_line = (str(error).strip().splitlines() or [""])[0]
            message = f"{type(error).__name__}: {first_line} (set {DEBUG_VARIABLE}=1 for details)"
        raise fail(message) from None


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a new event loop."""
    return asyncio.run(coroutine)


def is_configured(variable: str, env_file: Path = Path(".env")) -> bool:
    """Whether `variable` (e.g. DOORKEEPER_SECRET) is given, in the environment or `.env`."""
    wanted = variable.lower()
    if any(name.lower() == wanted for name in os.environ):
        return True
    if not env_file.is_file():
        return False
    return any(name.lower() == wanted for name in dotenv_values(env_file))


def shown(path: Path) -> str:
    """`path` made absolute for messages, if the working directory still exists."""
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def read_or_create_secret(path: Path = DEV_SECRET_FILE) -> tuple[str, bool]:
    """The development secret kept in `path`, made (mode 0600) if missing; and whether
    it was made now."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path), False
    except OSError as error:
        raise CommandError(
            f"cannot create the development secret file {shown(path)}: {error.strerror}; "
            f"set {SECRET_VARIABLE} (`{GENERATE_SECRET_COMMAND}` makes one)"
        ) from None
    secret = generate_secret()
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secret + "\n")
    return secret, True


def _read_secret(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(
            f"cannot read the development secret file {shown(path)}: {error}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CommandError(
            f"the development secret file {shown(path)} can be read by other users: "
            f"run `chmod 600 {path}`"
        )
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise CommandError(
            f"the development secret file {shown(path)} holds less than "
            f"{MIN_SECRET_BYTES} bytes: delete it to get a new one"
        )
    return secret


def cli_settings(
    *, database_url: str | None = None, public_url: str | None = None, announce: bool = False
) -> tuple[DoorkeeperSettings, Path | None]:
    """The settings of the environment (and `.env`), with the non-`None` arguments
    overriding them, and the development secret file in use, if any. `announce` prints
    where that file is (and whether it was just made)."""
    if is_configured(SECRET_VARIABLE):
        return load_settings(database_url=database_url, public_url=public_url), None
    # Check every other setting first, with a stand-in for the missing secret.
    settings = load_settings(
        database_url=database_url, public_url=public_url, secret="-" * MIN_SECRET_BYTES
    )
    if not is_local_url(settings.public_url):
        raise ConfigurationError(
            f"{SECRET_VARIABLE} is not set (a development secret is only made when "
            f"{ENV_PREFIX}PUBLIC_URL is http://localhost): generate one with "
            f"`{GENERATE_SECRET_COMMAND}` and set {SECRET_VARIABLE} to it"
        )
    secret, created = read_or_create_secret()
    if announce:
        verb = "Created" if created else "Using"
        typer.echo(
            f"{verb} the development secret in {shown(DEV_SECRET_FILE)} "
            f"({SECRET_VARIABLE} is not set)."
        )
    return load_settings(settings, secret=secret), Path(shown(DEV_SECRET_FILE))
