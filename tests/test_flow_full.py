"""The whole life of an account over HTTP, for every transport and strategy, on every
database: register, verify, log in, update, reset the password, log out."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.apps import NEW_PASSWORD, PAIRS, PASSWORD, App, build_pair_app, pair_id

EMAIL = "Flow.User@Example.com"
THIRD_PASSWORD = "a-third-passphrase-for-the-flow-31"


@pytest.fixture(params=PAIRS, ids=pair_id)
def dk(request: pytest.FixtureRequest, session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_pair_app(request, session_maker)


async def test_complete_flow(dk: App) -> None:
    async with dk.client() as client:
        response = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        assert response.json()["is_verified"] is False

        response = await client.post("/auth/request-verify-token", json={"email": EMAIL.lower()})
        assert response.status_code == 202
        response = await client.post(
            "/auth/verify", json={"token": dk.mailbox.last_verify_token(EMAIL)}
        )
        assert response.status_code == 200, response.text
        assert response.json()["is_verified"] is True

        token = await dk.login(client, EMAIL.upper())
        response = await client.get("/users/me", headers=dk.auth(token))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == user_id
        assert response.json()["email"].lower() == EMAIL.lower()

        response = await client.patch(
            "/users/me", json={"first_name": "Flo"}, headers=dk.auth(token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["first_name"] == "Flo"

        response = await client.patch(
            "/users/me",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=dk.auth(token),
        )
        assert response.status_code == 200, response.text
        # The session that changed the password lives on.
        response = await client.get("/users/me", headers=dk.auth(token))
        assert response.status_code == 200, response.text

        response = await client.post("/auth/forgot-password", json={"email": EMAIL})
        assert response.status_code == 202
        response = await client.post(
            "/auth/reset-password",
            json={"token": dk.mailbox.last_reset_token(EMAIL), "password": THIRD_PASSWORD},
        )
        assert response.status_code == 200, response.text
        # A reset ends every session.
        assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 401

        for old_password in (PASSWORD, NEW_PASSWORD):
            response = await client.post(
                f"{dk.prefix}/login", data={"username": EMAIL, "password": old_password}
            )
            assert response.status_code == 400
        new_token = await dk.login(client, EMAIL, THIRD_PASSWORD)
        response = await client.get("/users/me", headers=dk.auth(new_token))
        assert response.status_code == 200, response.text
        assert response.json()["first_name"] == "Flo"
        assert response.json()["is_verified"] is True

        response = await client.post(f"{dk.prefix}/logout", headers=dk.auth(new_token))
        assert response.status_code == 204, response.text
        if dk.transport == "cookie":
            assert "max-age=0" in response.headers["set-cookie"].lower()
        response = await client.get("/users/me", headers=dk.auth(new_token))
        assert response.status_code == 401
        response = await client.post(f"{dk.prefix}/logout", headers=dk.auth(new_token))
        assert response.status_code == 401
