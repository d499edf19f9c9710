"""Sessions end when they should, for every transport and strategy on every database:
a reset ends them all, a self-service password change ends all but the caller's; an
e-mail change unverifies; privileged fields cannot be set by their owner."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.router import ErrorCode
from tests.apps import NEW_PASSWORD, PAIRS, PASSWORD, App, build_app, build_pair_app, pair_id


@pytest.fixture(params=PAIRS, ids=pair_id)
def dk(request: pytest.FixtureRequest, session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_pair_app(request, session_maker)


async def test_reset_password_ends_every_session(dk: App) -> None:
    await dk.create_user("alice@example.com")
    async with dk.client() as client:
        tokens = [await dk.login(client, "alice@example.com") for _ in range(3)]
        for token in tokens:
            assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 200
        await client.post("/auth/forgot-password", json={"email": "alice@example.com"})
        response = await client.post(
            "/auth/reset-password",
            json={
                "token": dk.mailbox.last_reset_token("alice@example.com"),
                "password": NEW_PASSWORD,
            },
        )
        assert response.status_code == 200
        for token in tokens:
            assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 401
            response = await client.patch(
                "/users/me", json={"first_name": "Mallory"}, headers=dk.auth(token)
            )
            assert response.status_code == 401
        fresh = await dk.login(client, "alice@example.com", NEW_PASSWORD)
        assert (await client.get("/users/me", headers=dk.auth(fresh))).status_code == 200
    user = await dk.get_user("alice@example.com")
    assert user is not None
    assert user.first_name is None


async def test_self_service_password_change(dk: App) -> None:
    await dk.create_user("bob@example.com")
    async with dk.client() as client:
        mine = await dk.login(client, "bob@example.com")
        other = await dk.login(client, "bob@example.com")
        for body, reason in [
            ({"password": NEW_PASSWORD}, "CURRENT_PASSWORD_REQUIRED"),
            ({"password": NEW_PASSWORD, "current_password": ""}, "CURRENT_PASSWORD_REQUIRED"),
            (
                {"password": NEW_PASSWORD, "current_password": "not-the-password-1"},
                "CURRENT_PASSWORD_INVALID",
            ),
        ]:
            response = await client.patch("/users/me", json=body, headers=dk.auth(mine))
            assert response.status_code == 400
            assert response.json() == {
                "detail": {"code": ErrorCode.UPDATE_USER_INVALID_PASSWORD.value, "reason": reason}
            }
        # Nothing changed: both sessions live, the old password works.
        for token in (mine, other):
            assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 200
        await dk.login(client, "bob@example.com", PASSWORD)

        response = await client.patch(
            "/users/me",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=dk.auth(mine),
        )
        assert response.status_code == 200, response.text
        assert (await client.get("/users/me", headers=dk.auth(mine))).status_code == 200
        assert (await client.get("/users/me", headers=dk.auth(other))).status_code == 401
        response = await client.post(
            f"{dk.prefix}/login", data={"username": "bob@example.com", "password": PASSWORD}
        )
        assert response.status_code == 400
        await dk.login(client, "bob@example.com", NEW_PASSWORD)


async def test_email_change_unverifies(dk: App) -> None:
    await dk.create_user("carol@example.com", is_verified=True)
    async with dk.client() as client:
        mine = await dk.login(client, "carol@example.com")
        other = await dk.login(client, "carol@example.com")
        # Same address in another case: not a change of address.
        response = await client.patch(
            "/users/me", json={"email": "Carol@Example.com"}, headers=dk.auth(mine)
        )
        assert response.status_code == 200
        assert response.json()["is_verified"] is True

        response = await client.patch(
            "/users/me", json={"email": "carol.new@example.com"}, headers=dk.auth(mine)
        )
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "carol.new@example.com"
        assert response.json()["is_verified"] is False
        assert (await client.get("/users/me", headers=dk.auth(mine))).status_code == 200
        assert (await client.get("/users/me", headers=dk.auth(other))).status_code == 401
        await dk.login(client, "carol.new@example.com")
        response = await client.post(
            f"{dk.prefix}/login", data={"username": "carol@example.com", "password": PASSWORD}
        )
        assert response.status_code == 400
    user = await dk.get_user("carol.new@example.com")
    assert user is not None
    assert not user.is_verified


PRIVILEGED = {
    "is_superuser": True,
    "is_active": False,
    "is_verified": True,
    "hashed_password": "$argon2id$v=19$m=64,t=1,p=1$forged$forged",
}


async def test_mass_assignment_has_no_effect(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build_app(session_maker)
    forged_id = str(uuid.uuid4())
    async with dk.client() as client:
        response = await client.post(
            "/auth/register",
            json={"email": "dave@example.com", "password": PASSWORD, "id": forged_id, **PRIVILEGED},
        )
        assert response.status_code == 201
        user_id = response.json()["id"]
        token = await dk.login(client, "dave@example.com")
        response = await client.patch(
            "/users/me", json={"id": forged_id, **PRIVILEGED}, headers=dk.auth(token)
        )
        assert response.status_code == 200
        me = (await client.get("/users/me", headers=dk.auth(token))).json()
        assert me["id"] == user_id != forged_id
        assert (me["is_superuser"], me["is_active"], me["is_verified"]) == (False, True, False)
        # Still no superuser: the admin routes refuse.
        response = await client.get(f"/users/{user_id}", headers=dk.auth(token))
        assert response.status_code == 403
        await dk.login(client, "dave@example.com", PASSWORD)
    user = await dk.get_user("dave@example.com")
    assert user is not None
    assert str(user.id) == user_id
    assert user.hashed_password != PRIVILEGED["hashed_password"]
    assert (user.is_superuser, user.is_active, user.is_verified) == (False, True, False)
