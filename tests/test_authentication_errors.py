"""`is_unavailable_error`: which failures mean "the storage is down" (503)."""

import asyncio

import pytest
import redis.exceptions
from sqlalchemy import exc as sa_exc

from doorkeeper.authentication.errors import (
    SERVICE_UNAVAILABLE,
    is_unavailable_error,
    service_unavailable,
)


def _dbapi_error(orig: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.OperationalError("SELECT 1", None, Exception("server gone")),
        sa_exc.InterfaceError("SELECT 1", None, Exception("connection closed")),
        sa_exc.DisconnectionError("gone"),
        sa_exc.TimeoutError("pool exhausted"),
        _dbapi_error(Exception("x"), invalidated=True),
        _dbapi_error(ConnectionResetError("reset")),
        ConnectionRefusedError("refused"),
        OSError("network unreachable"),
        TimeoutError("slow"),
        asyncio.TimeoutError(),
        redis.exceptions.ConnectionError("redis gone"),
        redis.exceptions.TimeoutError("redis slow"),
        redis.exceptions.BusyLoadingError("loading"),
    ],
)
def test_unavailable(error: BaseException) -> None:
    assert is_unavailable_error(error)


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.IntegrityError("INSERT", None, Exception("duplicate")),
        sa_exc.ProgrammingError("SELECT", None, Exception("syntax")),
        _dbapi_error(Exception("other")),
        sa_exc.InvalidRequestError("misuse"),
        redis.exceptions.ResponseError("WRONGTYPE"),
        ValueError("bug"),
        RuntimeError("bug"),
        KeyError("bug"),
    ],
)
def test_not_unavailable(error: BaseException) -> None:
    assert not is_unavailable_error(error)


def test_service_unavailable() -> None:
    error = service_unavailable()
    assert error.status_code == 503
    assert error.detail == SERVICE_UNAVAILABLE == "SERVICE_UNAVAILABLE"
    assert error.headers is None
    assert service_unavailable({"Retry-After": "5"}).headers == {"Retry-After": "5"}
