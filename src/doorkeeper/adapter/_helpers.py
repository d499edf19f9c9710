"""Small helpers shared by the sub-adapters."""

from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


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
