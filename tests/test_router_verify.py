"""POST /request-verify-token and POST /verify over HTTP."""

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.jwt import generate_jwt
from doorkeeper.router import ErrorCode
from tests.apps import SECRET, App, UserManager, build_app, make_manager, post_raw


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


async def test_request_verify_token_is_202_for_every_address(dk: App) -> None:
    await dk.create_user("unverified@example.com")
    await dk.create_user("verified@example.com", is_verified=True)
    await dk.create_user("inactive@example.com", is_active=False)
    responses = []
    async with dk.client() as client:
        for email in [
            "nobody@example.com",
            "UNVERIFIED@example.com",
            "verified@example.com",
            "inactive@example.com",
        ]:
            responses.append(await client.post("/auth/request-verify-token", json={"email": email}))
    for response in responses:
        assert response.status_code == 202
        assert response.json() is None
        assert response.headers["content-length"] == responses[0].headers["content-length"]
    # Only the active, unverified user was sent a token.
    assert [email for email, _ in dk.mailbox.verify] == ["unverified@example.com"]


async def test_token_is_made_after_the_response(dk: App) -> None:
    await dk.create_user("later@example.com")
    tokens_when_sent: list[int] = []
    status = await post_raw(
        dk.app,
        "/auth/request-verify-token",
        {"email": "later@example.com"},
        lambda: tokens_when_sent.append(len(dk.mailbox.verify)),
    )
    assert status == 202
    assert tokens_when_sent == [0]
    assert len(dk.mailbox.verify) == 1


async def test_a_failing_hook_is_logged_not_raised(
    dk: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await dk.create_user("broken@example.com")

    async def broken_hook(self: UserManager, *args: object) -> None:
        raise RuntimeError("the mail server said no")

    monkeypatch.setattr(UserManager, "on_after_request_verify", broken_hook)
    with caplog.at_level(logging.ERROR, logger="doorkeeper"):
        async with dk.client() as client:
            response = await client.post(
                "/auth/request-verify-token", json={"email": "broken@example.com"}
            )
    assert response.status_code == 202
    records = [r for r in caplog.records if r.name == "doorkeeper"]
    assert len(records) == 1
    assert "request-verify-token failed" in records[0].getMessage()
    assert records[0].exc_info is not None


@pytest.mark.parametrize("body", [{"email": "not-an-email"}, {}, {"mail": "a@b.c"}])
async def test_request_verify_token_invalid_body_is_422(dk: App, body: object) -> None:
    async with dk.client() as client:
        response = await client.post("/auth/request-verify-token", json=body)
    assert response.status_code == 422


async def test_verify(dk: App) -> None:
    await dk.create_user("alice@example.com")
    async with dk.client() as client:
        await client.post("/auth/request-verify-token", json={"email": "alice@example.com"})
        token = dk.mailbox.last_verify_token("alice@example.com")
        response = await client.post("/auth/verify", json={"token": token})
        assert response.status_code == 200
        body = response.json()
        assert body["email"] == "alice@example.com"
        assert body["is_verified"] is True
        assert "hashed_password" not in body
        user = await dk.get_user("alice@example.com")
        assert user is not None
        assert user.is_verified
        again = await client.post("/auth/verify", json={"token": token})
    assert again.status_code == 400
    assert again.json() == {"detail": ErrorCode.VERIFY_USER_ALREADY_VERIFIED.value}


async def test_verify_bad_tokens(dk: App) -> None:
    user = await dk.create_user("bob@example.com")
    async with dk.client() as client:
        await client.post("/auth/request-verify-token", json={"email": "bob@example.com"})
        good = dk.mailbox.last_verify_token("bob@example.com")
        forged = generate_jwt(
            {"sub": str(user.id), "email": user.email, "aud": "fastapi-users:verify"},
            "another-secret-that-is-long-enough-for-hs256",
            3600,
        )
        other_audience = generate_jwt(
            {"sub": str(user.id), "email": user.email, "aud": "fastapi-users:reset"},
            SECRET,
            3600,
        )
        for token in ["", "garbage", good[:-3], forged, other_audience, "x" * 20000]:
            response = await client.post("/auth/verify", json={"token": token})
            assert response.status_code == 400, token
            assert response.json() == {"detail": ErrorCode.VERIFY_USER_BAD_TOKEN.value}
        # The token of a user deleted since.
        async with dk.session_maker() as session:
            manager = make_manager(session, dk.mailbox)
            await manager.delete(await manager.get(user.id))
        response = await client.post("/auth/verify", json={"token": good})
    assert response.status_code == 400
    assert response.json() == {"detail": ErrorCode.VERIFY_USER_BAD_TOKEN.value}


@pytest.mark.parametrize("body", [{}, {"token": 12}, {"token": None}, []])
async def test_verify_invalid_body_is_422(dk: App, body: object) -> None:
    async with dk.client() as client:
        response = await client.post("/auth/verify", json=body)
    assert response.status_code == 422
