"""The users router over HTTP: /me for everyone, /{id} for superusers."""

import os
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import NoMatchFound

from doorkeeper import Doorkeeper, DoorkeeperSettings
from doorkeeper.router import ErrorCode
from doorkeeper.schemas import PASSWORD_MAX_LENGTH
from doorkeeper.settings import ENV_PREFIX, RESERVED_ENV_PREFIX
from tests.apps import NEW_PASSWORD, PASSWORD, App, build_app, make_manager


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


async def token_of(dk: App, client: httpx.AsyncClient, email: str, **flags: bool) -> str:
    await dk.create_user(email, **flags)
    return await dk.login(client, email)


async def test_me(dk: App) -> None:
    async with dk.client() as client:
        assert (await client.get("/users/me")).status_code == 401
        bad = await client.get("/users/me", headers=dk.auth("not-a-token"))
        assert bad.status_code == 401
        token = await token_of(dk, client, "alice@example.com")
        response = await client.get("/users/me", headers=dk.auth(token))
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "alice@example.com"
    assert set(body) == {"id", "email", "is_active", "is_superuser", "is_verified", "first_name"}


async def test_me_of_a_deactivated_user_is_401(dk: App) -> None:
    async with dk.client() as client:
        token = await token_of(dk, client, "bob@example.com")
        async with dk.session_maker() as session:
            manager = make_manager(session, dk.mailbox)
            user = await manager.get_by_email("bob@example.com")
            # Straight to the database: no token revocation involved.
            await manager.user_db.update(user, {"is_active": False})
        assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 401
        assert (
            await client.patch("/users/me", json={"first_name": "B"}, headers=dk.auth(token))
        ).status_code == 401


async def test_unverified_user_is_403_when_verification_is_required(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build_app(session_maker)
    strict = build_app(session_maker, requires_verification=True, mailbox=dk.mailbox)
    async with dk.client() as client:
        # Logged in through the lenient app, presented to the strict one.
        token = await token_of(dk, client, "carol@example.com")
    async with strict.client() as client:
        response = await client.get("/users/me", headers=strict.auth(token))
        assert response.status_code == 403
        response = await client.patch(
            "/users/me", json={"first_name": "C"}, headers=strict.auth(token)
        )
        assert response.status_code == 403


async def test_patch_me(dk: App) -> None:
    await dk.create_user("taken@example.com")
    async with dk.client() as client:
        token = await token_of(dk, client, "dave@example.com")
        headers = dk.auth(token)
        response = await client.patch("/users/me", json={"first_name": "Dave"}, headers=headers)
        assert response.status_code == 200
        assert response.json()["first_name"] == "Dave"

        response = await client.patch(
            "/users/me", json={"email": "TAKEN@example.com"}, headers=headers
        )
        assert response.status_code == 400
        assert response.json() == {"detail": ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS.value}

        response = await client.patch(
            "/users/me", json={"password": "short", "current_password": PASSWORD}, headers=headers
        )
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert detail["code"] == ErrorCode.UPDATE_USER_INVALID_PASSWORD.value
        assert isinstance(detail["reason"], str)

        for body in [
            {"email": "not-an-email"},
            {"first_name": ["x"]},
            {"password": "x" * (PASSWORD_MAX_LENGTH + 1), "current_password": PASSWORD},
            [],
        ]:
            response = await client.patch("/users/me", json=body, headers=headers)
            assert response.status_code == 422, body
        response = await client.patch(
            "/users/me", content=b"{", headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 422


async def test_patch_me_cannot_grant_privileges(dk: App) -> None:
    async with dk.client() as client:
        token = await token_of(dk, client, "erin@example.com")
        user_before = await dk.get_user("erin@example.com")
        assert user_before is not None
        response = await client.patch(
            "/users/me",
            json={
                "is_superuser": True,
                "is_active": False,
                "is_verified": True,
                "id": str(uuid.uuid4()),
                "hashed_password": "$argon2id$forged",
            },
            headers=dk.auth(token),
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["is_superuser"], body["is_active"], body["is_verified"]) == (
            False,
            True,
            False,
        )
        assert body["id"] == str(user_before.id)
        user = await dk.get_user("erin@example.com")
        assert user is not None
        assert user.hashed_password == user_before.hashed_password
        assert (user.is_superuser, user.is_active, user.is_verified) == (False, True, False)
        assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 200


async def test_non_superusers_get_403_for_every_id(dk: App) -> None:
    other = await dk.create_user("other@example.com")
    async with dk.client() as client:
        token = await token_of(dk, client, "frank@example.com")
        me = await dk.get_user("frank@example.com")
        assert me is not None
        for user_id in [str(other.id), str(me.id), str(uuid.uuid4()), "not-a-uuid", "42"]:
            path = f"/users/{user_id}"
            for response in [
                await client.get(path, headers=dk.auth(token)),
                await client.patch(path, json={"is_superuser": True}, headers=dk.auth(token)),
                await client.patch(path, json={"email": "x"}, headers=dk.auth(token)),
                await client.delete(path, headers=dk.auth(token)),
            ]:
                assert response.status_code == 403, (path, response.request.method)
                assert response.json() == {"detail": "Forbidden"}
            for response in [
                await client.get(path),
                await client.patch(path, json={}),
                await client.delete(path),
            ]:
                assert response.status_code == 401
    user = await dk.get_user("other@example.com")
    assert user is not None
    assert not user.is_superuser


async def test_superuser_routes(dk: App) -> None:
    other = await dk.create_user("grace@example.com")
    await dk.create_user("taken@example.com")
    async with dk.client() as client:
        token = await token_of(dk, client, "admin@example.com", is_superuser=True)
        headers = dk.auth(token)
        path = f"/users/{other.id}"

        response = await client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.json()["email"] == "grace@example.com"

        for missing in [str(uuid.uuid4()), "not-a-uuid"]:
            assert (await client.get(f"/users/{missing}", headers=headers)).status_code == 404
            response = await client.patch(f"/users/{missing}", json={}, headers=headers)
            assert response.status_code == 404
            assert (await client.delete(f"/users/{missing}", headers=headers)).status_code == 404

        # safe=False: a superuser may set the privileged flags.
        response = await client.patch(
            path, json={"is_verified": True, "is_superuser": True}, headers=headers
        )
        assert response.status_code == 200
        assert response.json()["is_verified"] is True
        assert response.json()["is_superuser"] is True

        response = await client.patch(path, json={"email": "Taken@example.com"}, headers=headers)
        assert response.status_code == 400
        assert response.json() == {"detail": ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS.value}

        response = await client.patch(path, json={"password": "short"}, headers=headers)
        assert response.status_code == 400
        assert response.json()["detail"]["code"] == ErrorCode.UPDATE_USER_INVALID_PASSWORD.value

        # No current password needed from a superuser.
        response = await client.patch(path, json={"password": NEW_PASSWORD}, headers=headers)
        assert response.status_code == 200
        await dk.login(client, "grace@example.com", NEW_PASSWORD)

        response = await client.patch(path, json={"is_active": "nope"}, headers=headers)
        assert response.status_code == 422

        response = await client.delete(path, headers=headers)
        assert response.status_code == 204
        assert response.content == b""
        assert (await client.get(path, headers=headers)).status_code == 404
    assert await dk.get_user("grace@example.com") is None


# --- POST /users/confirm-email: mounted only when asked for (docs/migration.md) ----------


async def test_confirm_email_is_mounted_only_with_email_change() -> None:
    plain = build_app(None).app  # type: ignore[arg-type]  # routes only: no database used
    with_change = build_app(None, email_change=True).app  # type: ignore[arg-type]
    assert "/users/confirm-email" not in plain.openapi()["paths"]
    with pytest.raises(NoMatchFound):
        plain.url_path_for("users:confirm_email")
    assert with_change.url_path_for("users:confirm_email") == "/users/confirm-email"
    assert set(with_change.openapi()["paths"]["/users/confirm-email"]) == {"post"}
    transport = httpx.ASGITransport(app=plain)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        # only /users/{id} matches there, and it has no POST
        answer = await client.post("/users/confirm-email", json={"token": "x"})
    assert answer.status_code == 405


@pytest.mark.parametrize("confirmation", [True, False])
def test_doorkeeper_mounts_confirm_email_with_its_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, confirmation: bool
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env nor DOORKEEPER_* setting of the machine
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX) and not name.upper().startswith(RESERVED_ENV_PREFIX):
            monkeypatch.delenv(name)
    settings = DoorkeeperSettings(
        secret="a-secret-for-the-router-test-0123456789",
        email_change_requires_confirmation=confirmation,
    )
    app = FastAPI()
    app.include_router(Doorkeeper(settings=settings).router)
    assert ("/users/confirm-email" in app.openapi()["paths"]) is confirmation
