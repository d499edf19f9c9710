"""Small helpers shared by the sub-adapters."""

import logging
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from doorkeeper.authentication.errors import is_unavailable_error

T = TypeVar("T")

logger = logging.getLogger("doorkeeper")


async def close_quietly(session: AsyncSession) -> None:
    """Close `session`; an unreachable database is logged, not raised.

    When the database went away mid-request, the rollback that closing does fails too;
    raised from a dependency's teardown, that error would replace the 503 the route
    already answered with a broken response.
    """
    try:
        await session.close()
    except Exception as error:
        if not is_unavailable_error(error):
            raise
        logger.warning(
            "Closing a database session failed: storage unavailable (%s)", type(error).__name__
        )


async def attach(session: AsyncSession, instance: T) -> T:
    """`instance` as an object of `session`: itself if detached, else a merged copy."""
    if inspect(instance).session is None:
        session.add(instance)
        return instance
    return await session.merge(instance)


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE matched."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
