"""POST /forgot-password and POST /reset-password over HTTP."""

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.jwt import generate_jwt
from doorkeeper.router import ErrorCode
from doorkeeper.schemas import PASSWORD_MAX_LENGTH
from tests.apps import NEW_PASSWORD, PASSWORD, App, UserManager, build_app, make_manager, post_raw


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


async def test_forgot_password_is_202_for_every_address(dk: App) -> None:
    await dk.create_user("active@example.com")
    await dk.create_user("verified@example.com", is_verified=True)
    await dk.create_user("inactive@example.com", is_active=False)
    responses = []
    async with dk.client() as client:
        for email in [
            "nobody@example.com",
            "Active@Example.com",
            "verified@example.com",
            "inactive@example.com",
        ]:
            responses.append(await client.post("/auth/forgot-password", json={"email": email}))
    for response in responses:
        assert response.status_code == 202
        assert response.json() is None
        assert response.headers["content-length"] == responses[0].headers["content-length"]
    assert [email for email, _ in dk.mailbox.reset] == [
        "active@example.com",
        "verified@example.com",
    ]


async def test_reset_token_is_made_after_the_response(dk: App) -> None:
    await dk.create_user("later@example.com")
    tokens_when_sent: list[int] = []
    status = await post_raw(
        dk.app,
        "/auth/forgot-password",
        {"email": "later@example.com"},
        lambda: tokens_when_sent.append(len(dk.mailbox.reset)),
    )
    assert status == 202
    assert tokens_when_sent == [0]
    assert len(dk.mailbox.reset) == 1


async def test_a_failing_hook_is_logged_not_raised(
    dk: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await dk.create_user("broken@example.com")

    async def broken_hook(self: UserManager, *args: object) -> None:
        raise RuntimeError("the mail server said no")

    monkeypatch.setattr(UserManager, "on_after_forgot_password", broken_hook)
    with caplog.at_level(logging.ERROR, logger="doorkeeper"):
        async with dk.client() as client:
            response = await client.post(
                "/auth/forgot-password", json={"email": "broken@example.com"}
            )
    assert response.status_code == 202
    assert response.json() is None
    records = [r for r in caplog.records if r.name == "doorkeeper"]
    assert len(records) == 1
    assert "forgot-password failed" in records[0].getMessage()


async def test_reset_password(dk: App) -> None:
    await dk.create_user("alice@example.com")
    async with dk.client() as client:
        await client.post("/auth/forgot-password", json={"email": "alice@example.com"})
        token = dk.mailbox.last_reset_token("alice@example.com")
        response = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert response.status_code == 200
        assert response.json() is None
        await dk.login(client, "alice@example.com", NEW_PASSWORD)
        old = await client.post(
            "/auth/jwt/login", data={"username": "alice@example.com", "password": PASSWORD}
        )
        assert old.status_code == 400
        # Single use.
        again = await client.post(
            "/auth/reset-password", json={"token": token, "password": "yet-another-passphrase-9"}
        )
    assert again.status_code == 400
    assert again.json() == {"detail": ErrorCode.RESET_PASSWORD_BAD_TOKEN.value}


async def test_bad_tokens(dk: App) -> None:
    user = await dk.create_user("bob@example.com")
    verify_token = generate_jwt(
        {"sub": str(user.id), "email": user.email, "aud": "fastapi-users:verify"}, "s" * 40, 60
    )
    async with dk.client() as client:
        for token in ["", "garbage", verify_token, "x" * 20000]:
            response = await client.post(
                "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
            )
            assert response.status_code == 400
            assert response.json() == {"detail": ErrorCode.RESET_PASSWORD_BAD_TOKEN.value}


async def test_token_of_a_user_deactivated_since_is_bad(dk: App) -> None:
    user = await dk.create_user("carol@example.com")
    async with dk.client() as client:
        await client.post("/auth/forgot-password", json={"email": "carol@example.com"})
        token = dk.mailbox.last_reset_token("carol@example.com")
        async with dk.session_maker() as session:
            manager = make_manager(session, dk.mailbox)
            await manager.user_db.update(await manager.get(user.id), {"is_active": False})
        response = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
    assert response.status_code == 400
    assert response.json() == {"detail": ErrorCode.RESET_PASSWORD_BAD_TOKEN.value}


async def test_refused_password_keeps_the_token(dk: App) -> None:
    await dk.create_user("dave@example.com")
    async with dk.client() as client:
        await client.post("/auth/forgot-password", json={"email": "dave@example.com"})
        token = dk.mailbox.last_reset_token("dave@example.com")
        response = await client.post(
            "/auth/reset-password", json={"token": token, "password": "short"}
        )
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert detail["code"] == ErrorCode.RESET_PASSWORD_INVALID_PASSWORD.value
        assert isinstance(detail["reason"], str)
        assert detail["reason"]
        response = await client.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"token": "t"},
        {"password": NEW_PASSWORD},
        {"token": "t", "password": "x" * (PASSWORD_MAX_LENGTH + 1)},
        {"token": 1, "password": NEW_PASSWORD},
        [],
    ],
)
async def test_invalid_body_is_422(dk: App, body: object) -> None:
    async with dk.client() as client:
        response = await client.post("/auth/reset-password", json=body)
        assert response.status_code == 422
        response = await client.post(
            "/auth/forgot-password", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422


@pytest.mark.parametrize(
    ("scope", "events"),
    [
        (None, ["reset token", "session closed", "verify token", "session closed"]),
        ("function", ["session closed", "reset token", "session closed", "verify token"]),
    ],
)
async def test_background_work_with_the_request_session(
    session_maker: async_sessionmaker[AsyncSession], scope: str | None, events: list[str]
) -> None:
    """The background lookup uses the request's session: still open with the default
    dependency scope, already closed (and reopened on use) with scope="function"; the
    connection it reopens is given back."""
    dk = build_app(session_maker, dependency_scope=scope)  # type: ignore[arg-type]
    await dk.create_user("erin@example.com")
    async with dk.client() as client:
        response = await client.post("/auth/forgot-password", json={"email": "erin@example.com"})
        assert response.status_code == 202
        response = await client.post(
            "/auth/request-verify-token", json={"email": "erin@example.com"}
        )
        assert response.status_code == 202
        assert dk.mailbox.events == events
        # No connection left checked out by the background work.
        assert session_maker.kw["bind"].pool.checkedout() == 0
        response = await client.post(
            "/auth/reset-password",
            json={
                "token": dk.mailbox.last_reset_token("erin@example.com"),
                "password": NEW_PASSWORD,
            },
        )
        assert response.status_code == 200
        response = await client.post(
            "/auth/verify", json={"token": dk.mailbox.last_verify_token("erin@example.com")}
        )
        assert response.status_code == 200
        await dk.login(client, "erin@example.com", NEW_PASSWORD)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_security_4_an_overlong_password_is_refused_without_being_echoed(dk: App) -> None:
    password = "p" * (PASSWORD_MAX_LENGTH + 1)
    async with dk.client() as client:
        response = await client.post(
            "/auth/reset-password", json={"token": "t", "password": password}
        )
        short = await client.post("/auth/reset-password", json={"token": 5, "password": "x"})
    assert response.status_code == 422
    assert password not in response.text and "input" not in response.json()["detail"][0]
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
    # Errors of other kinds on other fields keep FastAPI's shape.
    assert short.status_code == 422
