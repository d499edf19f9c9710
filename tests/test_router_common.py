"""The helpers every router shares, tested directly where HTTP cannot reach them."""

import logging

import pytest

from doorkeeper.router.common import release_session, run_quietly


class Session:
    def __init__(self, error: Exception | None = None) -> None:
        self.closed = 0
        self.error = error

    async def close(self) -> None:
        self.closed += 1
        if self.error is not None:
            raise self.error


class Manager:
    def __init__(self, session: object) -> None:
        self.user_db = type("UserDB", (), {"session": session})()


async def test_release_session_closes_the_session() -> None:
    session = Session()
    await release_session(Manager(session), "job")
    assert session.closed == 1


@pytest.mark.parametrize(
    "manager",
    [None, object(), Manager(None), Manager(object()), Manager(type("S", (), {"close": print})())],
)
async def test_release_session_without_an_async_session(manager: object) -> None:
    await release_session(manager, "job")  # nothing to close, nothing raised


async def test_release_session_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    session = Session(OSError("gone"))
    with caplog.at_level(logging.WARNING, logger="doorkeeper"):
        await release_session(Manager(session), "job")
    assert session.closed == 1
    assert [r.getMessage() for r in caplog.records] == ["job: closing the session failed (OSError)"]


async def test_run_quietly_releases_the_session_after_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = Session()

    async def job() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, logger="doorkeeper"):
        await run_quietly(job, "job", Manager(session))
    assert session.closed == 1
    assert [r.getMessage() for r in caplog.records] == ["job failed (RuntimeError)"]
