"""Hashing runs in worker threads: the event loop keeps serving, and a login for an
unknown address costs what a login for a known one costs."""

import asyncio
import statistics
import time

import pytest
from fastapi.security import OAuth2PasswordRequestForm
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession

from doorkeeper import schemas
from doorkeeper.concurrency import (
    HASHING_THREAD_NICENESS,
    cpu_limit,
    get_cpu_executor,
    run_cpu_bound,
)
from doorkeeper.db import SQLAlchemyUserDatabase
from doorkeeper.password import PasswordHelper
from tests.managers import UserManager
from tests.models import User

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("timing")]  # see conftest.py


async def test_event_loop_keeps_running_while_hashing(session: AsyncSession) -> None:
    manager = UserManager(SQLAlchemyUserDatabase(session, User), PasswordHelper())  # real cost
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def hash_many() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(manager.hash_password(f"password-{i}") for i in range(4)))
        return time.perf_counter() - start

    ticking = asyncio.create_task(ticker())
    elapsed = await hash_many()
    done.set()
    await ticking
    assert elapsed > 0.05, "the hasher is not the production one"
    # The loop ticked throughout: had a hash run on it, one gap would span a whole hash.
    assert len(gaps) > elapsed / 0.02
    assert max(gaps) < elapsed / 2


async def test_hashing_is_bounded_by_the_cpu_count() -> None:
    executor = get_cpu_executor()
    assert executor._max_workers == cpu_limit() >= 1
    assert get_cpu_executor() is executor


async def test_hashing_threads_yield_to_the_event_loop() -> None:
    import os
    import threading

    def niceness() -> tuple[int, str]:
        return os.getpriority(
            os.PRIO_PROCESS, threading.get_native_id()
        ), threading.current_thread().name

    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker_niceness, name = await run_cpu_bound(niceness)
    assert name.startswith("doorkeeper-hash")
    assert worker_niceness == min(19, loop_niceness + HASHING_THREAD_NICENESS)
    # The event loop's own thread keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_niceness


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_authenticate_takes_the_same_time_for_unknown_users(session: AsyncSession) -> None:
    # A realistic hasher (OWASP's m=19 MiB, t=2 row) so that hashing dominates the timing.
    helper = PasswordHelper(
        PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))
    )
    manager = UserManager(SQLAlchemyUserDatabase(session, User), helper)
    await manager.create(
        schemas.BaseUserCreate(email="known@camelot.bt", password="a-good-password")
    )

    async def timed(username: str) -> float:
        form = OAuth2PasswordRequestForm(username=username, password="a-wrong-password")
        start = time.perf_counter()
        assert await manager.authenticate(form) is None
        return time.perf_counter() - start

    known: list[float] = []
    unknown: list[float] = []
    await timed("warm-up@camelot.bt")
    for _ in range(50):
        known.append(await timed("known@camelot.bt"))
        unknown.append(await timed("unknown@camelot.bt"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.8 <= ratio <= 1.2, (statistics.median(known), statistics.median(unknown))
