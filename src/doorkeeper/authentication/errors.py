"""Telling "the storage is down" apart from other failures, to answer 503 cleanly."""

import asyncio
import logging

from fastapi import HTTPException, status
from sqlalchemy import exc as sa_exc

from doorkeeper.db.sqlalchemy.schema import SCHEMA_OUTDATED, schema_outdated

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
logger = logging.getLogger("doorkeeper")

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the connection pool is exhausted
    OSError,  # ConnectionError and TimeoutError included
    asyncio.TimeoutError,
)

try:
    import redis.exceptions as _redis_exceptions
except ImportError:  # pragma: no cover (the `redis` extra is not installed)
    pass
else:
    _UNAVAILABLE += (_redis_exceptions.ConnectionError, _redis_exceptions.TimeoutError)


def is_unavailable_error(exc: BaseException) -> bool:
    """Whether `exc` means a database or Redis could not be reached or used.

    A schema without Doorkeeper's columns is not an outage, though SQLite and MariaDB
    report it as an `OperationalError`: see `schema_outdated`."""
    if schema_outdated(exc) is not None:
        return False
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc.orig, _UNAVAILABLE)
    return False


def service_unavailable(headers: dict[str, str] | None = None) -> HTTPException:
    """The 503 to raise: a fixed code, no trace, SQL or URL."""
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=SERVICE_UNAVAILABLE,
        headers=headers,
    )


def schema_outdated_response_error(exc: BaseException) -> HTTPException | None:
    """The 503 `DATABASE_SCHEMA_OUTDATED` to raise if `exc` says the user table lacks
    Doorkeeper's columns (logged at ERROR, naming the command to run), else `None`."""
    outdated = schema_outdated(exc)
    if outdated is None:
        return None
    logger.error("%s", outdated)
    return HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=SCHEMA_OUTDATED)
