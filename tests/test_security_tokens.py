"""SECURITY 36-38 over HTTP: reset and verify tokens expire, work once (also under
concurrency), die when the password changes, survive a refused password, and the links
that carry them come from the configured URL only."""

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import Doorkeeper, DoorkeeperSettings
from doorkeeper.batteries.manager import DoorkeeperUserManager
from doorkeeper.email import MemoryEmailSender
from doorkeeper.router import ErrorCode
from doorkeeper.schemas import PASSWORD_MAX_LENGTH
from tests.apps import NEW_PASSWORD, PASSWORD, App, build_app
from tests.conftest import cheap_password_helper
from tests.security import clock_ahead
from tests.test_doorkeeper import clean_environment, design_example, serving  # noqa: F401

RESET_BAD = {"detail": ErrorCode.RESET_PASSWORD_BAD_TOKEN}
VERIFY_BAD = {"detail": ErrorCode.VERIFY_USER_BAD_TOKEN}


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


async def reset_token(dk: App, email: str) -> str:
    async with dk.client() as client:
        response = await client.post("/auth/forgot-password", json={"email": email})
    assert response.status_code == 202
    return dk.mailbox.last_reset_token(email)


async def verify_token(dk: App, email: str) -> str:
    async with dk.client() as client:
        response = await client.post("/auth/request-verify-token", json={"email": email})
    assert response.status_code == 202
    return dk.mailbox.last_verify_token(email)


async def reset(dk: App, token: str, password: str = NEW_PASSWORD) -> Any:
    async with dk.client() as client:
        return await client.post(
            "/auth/reset-password", json={"token": token, "password": password}
        )


async def verify(dk: App, token: str) -> Any:
    async with dk.client() as client:
        return await client.post("/auth/verify", json={"token": token})


async def test_security_36_reset_tokens_expire_after_one_hour(
    dk: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await dk.create_user("alice@example.com")
    token = await reset_token(dk, "alice@example.com")
    clock_ahead(monkeypatch, 3600 + 1)
    response = await reset(dk, token)
    assert (response.status_code, response.json()) == (400, RESET_BAD)
    clock_ahead(monkeypatch, 3600 - 60)
    assert (await reset(dk, token)).status_code == 200


async def test_security_36_verify_tokens_expire_after_one_day(
    dk: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await dk.create_user("bob@example.com")
    token = await verify_token(dk, "bob@example.com")
    clock_ahead(monkeypatch, 86400 + 1)
    response = await verify(dk, token)
    assert (response.status_code, response.json()) == (400, VERIFY_BAD)
    clock_ahead(monkeypatch, 86400 - 60)
    assert (await verify(dk, token)).status_code == 200


async def test_security_36_tokens_work_once(dk: App) -> None:
    await dk.create_user("carol@example.com")
    token = await reset_token(dk, "carol@example.com")
    assert (await reset(dk, token)).status_code == 200
    response = await reset(dk, token, "yet-another-long-passphrase-3")
    assert (response.status_code, response.json()) == (400, RESET_BAD)

    token = await verify_token(dk, "carol@example.com")
    assert (await verify(dk, token)).status_code == 200
    response = await verify(dk, token)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": ErrorCode.VERIFY_USER_ALREADY_VERIFIED},
    )


async def test_security_36_reset_tokens_die_when_the_password_changes(dk: App) -> None:
    await dk.create_user("dave@example.com")
    by_change = await reset_token(dk, "dave@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "dave@example.com")
        response = await client.patch(
            "/users/me",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=dk.auth(access),
        )
        assert response.status_code == 200
    response = await reset(dk, by_change, "a-third-long-passphrase-333")
    assert (response.status_code, response.json()) == (400, RESET_BAD)

    first, second = [await reset_token(dk, "dave@example.com") for _ in range(2)]
    assert (await reset(dk, second, PASSWORD)).status_code == 200
    response = await reset(dk, first, "a-fourth-long-passphrase-44")
    assert (response.status_code, response.json()) == (400, RESET_BAD)


async def test_security_36_concurrent_uses_succeed_at_most_once(dk: App) -> None:
    await dk.create_user("erin@example.com")
    token = await reset_token(dk, "erin@example.com")
    async with dk.client() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/auth/reset-password",
                    json={"token": token, "password": f"{NEW_PASSWORD}-{index}"},
                )
                for index in range(8)
            )
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * 7, [response.text for response in responses]

    token = await verify_token(dk, "erin@example.com")
    async with dk.client() as client:
        responses = await asyncio.gather(
            *(client.post("/auth/verify", json={"token": token}) for _ in range(8))
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * 7, [response.text for response in responses]


@pytest.mark.parametrize(
    ("password", "status"),
    [
        ("short", 400),
        ("password123", 400),  # common
        ("frank@example.com", 400),  # the e-mail
        ("   \t   ", 400),
        ("x" * (PASSWORD_MAX_LENGTH + 1), 422),
    ],
)
async def test_security_37_a_refused_password_keeps_the_token(
    dk: App, password: str, status: int
) -> None:
    await dk.create_user("frank@example.com")
    token = await reset_token(dk, "frank@example.com")
    response = await reset(dk, token, password)
    assert response.status_code == status
    if status == 400:
        assert response.json()["detail"]["code"] == ErrorCode.RESET_PASSWORD_INVALID_PASSWORD
    assert (await reset(dk, token)).status_code == 200
    async with dk.client() as client:
        await dk.login(client, "frank@example.com", NEW_PASSWORD)


PUBLIC_URL = "https://accounts.example.com/app"
SPOOFED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "Forwarded": "host=evil.example;proto=http",
    "Origin": "https://evil.example",
    "Referer": "https://evil.example/",
}


class ConfirmingManager(DoorkeeperUserManager):
    email_change_requires_confirmation = True
    email_change_enumeration_safe = True


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_security_38_links_come_from_the_configured_url(
    database_url: str, tmp_path: Path
) -> None:
    sender = MemoryEmailSender()
    settings = DoorkeeperSettings(
        database_url=database_url,
        secret="a-doorkeeper-test-secret-of-more-than-32-bytes-0123456789",
        public_url=PUBLIC_URL,
    )
    auth = Doorkeeper(
        settings=settings,
        email_sender=sender,
        password_helper=cheap_password_helper(),
        user_manager_class=ConfirmingManager,
    )
    app = design_example(auth)
    async with serving(app, auth) as client:
        client.headers.update(SPOOFED)
        body = {"email": "grace@example.com", "password": PASSWORD}
        await client.post("/auth/register", json=body)  # verification mail
        await client.post("/auth/register", json=body)  # "already registered" notice
        await client.post("/auth/request-verify-token", json={"email": "grace@example.com"})
        await client.post("/auth/forgot-password", json={"email": "grace@example.com"})
        response = await client.post(
            "/auth/bearer/login", data={"username": "grace@example.com", "password": PASSWORD}
        )
        access = response.json()["access_token"]
        await client.post("/auth/register", json={**body, "email": "henry@example.com"})
        for new in ("grace.new@example.com", "henry@example.com"):
            await client.patch(
                "/users/me", json={"email": new}, headers={"Authorization": f"Bearer {access}"}
            )
    subjects = sorted(message.subject for message in sender.outbox)
    # grace: verify x2, "already registered", reset, pending x2; grace.new: confirmation;
    # henry: verify, "someone asked to use your address".
    assert len(subjects) == 9, subjects
    for message in sender.outbox:
        for text in (message.text, message.html or ""):
            assert "evil" not in text
            links = re.findall(r"https?://[^\s\"'<>]+", text)
            assert links, message.subject
            assert all(link.startswith(PUBLIC_URL + "/") for link in links), links
