"""Making an async engine from a URL, with production defaults and readable errors."""

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = [
    "DatabaseUnavailableError",
    "check_sqlite_path",
    "create_engine",
    "describe_url",
    "parse_database_url",
    "unavailable_error",
]

EXAMPLE_URLS = (
    "sqlite+aiosqlite:///./doorkeeper.db, postgresql+asyncpg://user:password@host/db "
    "or mysql+aiomysql://user:password@host/db"
)
ASYNC_DRIVERS = {
    "sqlite": ("aiosqlite", "aiosqlite"),
    "postgresql": ("asyncpg", "postgresql"),
    "mysql": ("aiomysql", "mysql"),
    "mariadb": ("aiomysql", "mysql"),
}
"""Backend: (async driver, extra of the doorkeeper distribution that installs it)."""

SERVER_POOL_DEFAULTS: dict[str, Any] = {
    "pool_size": 10,
    "max_overflow": 20,
    "pool_recycle": 1800,  # below MySQL's and most proxies' idle timeouts
}
SQLITE_BUSY_TIMEOUT_MS = 15_000
SERVER_CONNECT_TIMEOUT_S = 10


class DatabaseUnavailableError(ConnectionError):
    """The database could not be reached or opened; the message says which and why."""


def parse_database_url(url: str | URL) -> URL:
    """The parsed URL, or a `ValueError` saying what is wrong with it."""
    if isinstance(url, URL):
        return url
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"The database URL is empty: use a URL such as {EXAMPLE_URLS}.")
    try:
        return make_url(url.strip())
    except (exc.ArgumentError, ValueError) as error:
        # Echo the value only if it cannot hold a password.
        shown = f" {url!r}" if "@" not in url else ""
        detail = f" ({error})" if not isinstance(error, exc.ArgumentError) else ""
        raise ValueError(
            f"The database URL{shown} is not a valid URL{detail}: use a URL such as {EXAMPLE_URLS}."
        ) from None


def describe_url(url: str | URL) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return parse_database_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<invalid URL>"


def _driver_hint(backend: str) -> str:
    driver, _ = ASYNC_DRIVERS.get(backend, ("", ""))
    return f" (use {backend}+{driver}://...)" if driver else f" (use one of {EXAMPLE_URLS})"


def create_engine(url: str | URL, **options: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url` with production defaults; `options` override them.

    Server databases get `pool_pre_ping`, a pool of 10 (+20 overflow), connections
    recycled after 30 minutes and a 10-second connect timeout. A SQLite file gets a
    15-second busy timeout, WAL journaling and enforced foreign keys.
    A malformed URL, an unknown or synchronous driver, or a driver that is not installed
    raises `ValueError` with a message naming the problem.
    """
    parsed = parse_database_url(url)
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    try:
        driver = parsed.get_dialect().driver
    except exc.NoSuchModuleError:
        raise ValueError(
            f"The database URL {shown} names an unknown database or driver "
            f"{parsed.drivername!r}{_driver_hint(backend)}."
        ) from None
    is_sqlite = backend == "sqlite"
    defaults: dict[str, Any] = {}
    if not is_sqlite:
        defaults["pool_pre_ping"] = True
        if "poolclass" not in options and "pool" not in options:
            defaults.update(SERVER_POOL_DEFAULTS)
        connect_timeout = _connect_timeout_args(driver)
        if connect_timeout:
            options["connect_args"] = {**connect_timeout, **options.get("connect_args", {})}
    try:
        engine = create_async_engine(parsed, **{**defaults, **options})
    except exc.InvalidRequestError as error:
        if "requires an async driver" not in str(error):
            raise ValueError(f"The database URL {shown} is not usable: {error}") from None
        raise ValueError(
            f"The database URL {shown} names a synchronous driver "
            f"{driver!r}: Doorkeeper needs an async one{_driver_hint(backend)}."
        ) from None
    except ImportError as error:
        raise ValueError(_missing_driver_message(backend, driver, shown, error)) from None
    except exc.ArgumentError as error:
        raise ValueError(f"The database URL {shown} is not usable: {error}") from None
    if is_sqlite:
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
    return engine


def _missing_driver_message(backend: str, driver: str, shown: str, error: ImportError) -> str:
    module = error.name or driver
    message = f"The driver {module!r} of the database URL {shown} is not installed"
    if backend not in ASYNC_DRIVERS:
        return f"{message}: install it."
    async_driver, extra = ASYNC_DRIVERS[backend]
    install = f"pip install 'doorkeeper[{extra}]'"
    if driver == async_driver:
        return f"{message}: {install}."
    return f"{message}: use {backend}+{async_driver}://... and {install}."


def _connect_timeout_args(driver: str) -> dict[str, Any]:
    if driver == "asyncpg":
        return {"timeout": SERVER_CONNECT_TIMEOUT_S}
    if driver in ("aiomysql", "asyncmy"):
        return {"connect_timeout": SERVER_CONNECT_TIMEOUT_S}
    return {}


def _configure_sqlite(engine: AsyncEngine, *, in_memory: bool) -> None:
    """Per-connection pragmas: busy timeout, foreign keys, and WAL for files."""
    pragmas = [f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}", "PRAGMA foreign_keys = ON"]
    if not in_memory:
        pragmas += ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"]

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()


def unavailable_error(url: str | URL, error: BaseException) -> DatabaseUnavailableError:
    """A one-line `DatabaseUnavailableError` for a failure to connect to `url`."""
    parsed = parse_database_url(url)
    reason = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
    text = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
    if parsed.get_backend_name() == "sqlite":
        return DatabaseUnavailableError(
            f"Cannot open the SQLite database {parsed.database!r}: {text} "
            "(does its directory exist, and is it writable?)"
        )
    shown = parsed.render_as_string(hide_password=True)
    return DatabaseUnavailableError(f"Cannot reach the database at {shown}: {text}")


def check_sqlite_path(url: str | URL) -> None:
    """For a SQLite file, raise `DatabaseUnavailableError` if it cannot be opened for
    writing (missing or read-only directory, a directory in its place); checked before
    connecting, for a message that says what to fix."""
    parsed = parse_database_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return
    assert database is not None
    if database.startswith("file:"):
        return  # a URI (uri=true): left to SQLite
    path = Path(database)
    directory = path.parent
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
        problem = "the file is not writable"
    elif not directory.is_dir():
        problem = f"its directory {str(directory)!r} does not exist"
    elif not os.access(directory, os.W_OK | os.X_OK):
        problem = f"its directory {str(directory)!r} is not writable"
    if problem is not None:
        raise DatabaseUnavailableError(f"Cannot open the SQLite database {database!r}: {problem}.")
