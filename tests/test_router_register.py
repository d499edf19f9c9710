"""POST /register over HTTP."""

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.router import ErrorCode
from doorkeeper.schemas import PASSWORD_MAX_LENGTH
from tests.apps import PASSWORD, App, build_app


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


async def test_register_creates_a_user(dk: App) -> None:
    async with dk.client() as client:
        response = await client.post(
            "/auth/register",
            json={"email": "Alice@Example.com", "password": PASSWORD, "first_name": "Alice"},
        )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "is_active", "is_superuser", "is_verified", "first_name"}
    uuid.UUID(body["id"])
    assert body["is_active"] is True
    assert body["is_superuser"] is False
    assert body["is_verified"] is False
    assert body["first_name"] == "Alice"
    user = await dk.get_user("alice@example.com")
    assert user is not None
    assert str(user.id) == body["id"]
    assert user.hashed_password != PASSWORD


async def test_existing_email_in_another_case_is_400(dk: App) -> None:
    await dk.create_user("bob@example.com")
    async with dk.client() as client:
        response = await client.post(
            "/auth/register", json={"email": "BOB@example.COM", "password": PASSWORD}
        )
    assert response.status_code == 400
    assert response.json() == {"detail": ErrorCode.REGISTER_USER_ALREADY_EXISTS.value}


@pytest.mark.parametrize("password", ["short", "password123", "carol@example.com"])
async def test_refused_password_is_400_with_a_reason(dk: App, password: str) -> None:
    async with dk.client() as client:
        response = await client.post(
            "/auth/register", json={"email": "carol@example.com", "password": password}
        )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["code"] == "REGISTER_INVALID_PASSWORD"
    assert isinstance(detail["reason"], str)
    assert detail["reason"]
    assert await dk.get_user("carol@example.com") is None


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "dave@example.com"},
        {"password": PASSWORD},
        {"email": "dave@example.com", "password": "x" * (PASSWORD_MAX_LENGTH + 1)},
        {"email": "dave@example.com", "password": 12345678901},
        {"email": ["dave@example.com"], "password": PASSWORD},
        {"email": "dave\x00@example.com", "password": PASSWORD},
        [],
    ],
)
async def test_invalid_body_is_422(dk: App, body: object) -> None:
    async with dk.client() as client:
        response = await client.post("/auth/register", json=body)
    assert response.status_code == 422
    assert await dk.get_user("dave@example.com") is None


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"email": "dave@example.com", "password": ', b"\xff\xfe{}"]
)
async def test_malformed_json_is_422(dk: App, content: bytes) -> None:
    async with dk.client() as client:
        response = await client.post(
            "/auth/register", content=content, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422


async def test_privileged_fields_are_ignored(dk: App) -> None:
    forged_id = str(uuid.uuid4())
    async with dk.client() as client:
        response = await client.post(
            "/auth/register",
            json={
                "email": "eve@example.com",
                "password": PASSWORD,
                "is_superuser": True,
                "is_active": False,
                "is_verified": True,
                "id": forged_id,
                "hashed_password": "$argon2id$forged",
            },
        )
        assert response.status_code == 201
        body = response.json()
        assert body["is_superuser"] is False
        assert body["is_active"] is True
        assert body["is_verified"] is False
        assert body["id"] != forged_id
        user = await dk.get_user("eve@example.com")
        assert user is not None
        assert user.hashed_password != "$argon2id$forged"
        assert (user.is_superuser, user.is_active, user.is_verified) == (False, True, False)
        # The password given is the one that works.
        await dk.login(client, "eve@example.com", PASSWORD)


async def test_concurrent_registrations_of_one_email(dk: App) -> None:
    """20 concurrent registrations of one address in mixed case: one 201, 19 x 400."""
    local = "frank.concurrent"
    variants = [
        "".join(c.upper() if (i >> j) & 1 else c for j, c in enumerate(local)) + "@Example.COM"
        for i in range(20)
    ]
    assert len({v.lower() for v in variants}) == 1
    async with dk.client() as client:
        responses = await asyncio.gather(
            *(
                client.post("/auth/register", json={"email": email, "password": PASSWORD})
                for email in variants
            )
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * 19, [r.text for r in responses]
    for response in responses:
        if response.status_code == 400:
            assert response.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}
    assert await dk.get_user(variants[0]) is not None
