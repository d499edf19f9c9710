"""POST /login and POST /logout over HTTP."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper.router import ErrorCode
from doorkeeper.schemas import PASSWORD_MAX_LENGTH
from tests.apps import COOKIE_NAME, PASSWORD, App, UserManager, build_app, make_manager


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


def form(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": email, "password": password}


async def test_login_issues_a_bearer_token(dk: App) -> None:
    await dk.create_user("alice@example.com")
    async with dk.client() as client:
        response = await client.post("/auth/jwt/login", data=form("ALICE@example.com"))
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type"}
        assert body["token_type"] == "bearer"
        me = await client.get(
            "/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"
    assert dk.mailbox.logins == ["alice@example.com"]


async def test_cookie_login_and_logout(session_maker: async_sessionmaker[AsyncSession]) -> None:
    dk = build_app(session_maker, transport="cookie")
    await dk.create_user("alice@example.com")
    async with dk.client() as client:
        response = await client.post("/auth/jwt/login", data=form("alice@example.com"))
        assert response.status_code == 204
        set_cookie = response.headers["set-cookie"].lower()
        assert set_cookie.startswith(f"{COOKIE_NAME}=")
        assert "httponly" in set_cookie
        assert "secure" in set_cookie
        assert "samesite=lax" in set_cookie
        token = response.cookies[COOKIE_NAME]
        client.cookies.clear()
        response = await client.post("/auth/jwt/logout", headers=dk.auth(token))
        assert response.status_code == 204
        assert "max-age=0" in response.headers["set-cookie"].lower()
        assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 401


async def test_bad_credentials_look_the_same(dk: App) -> None:
    """Unknown user, wrong password and inactive user: one and the same answer."""
    await dk.create_user("bob@example.com")
    await dk.create_user("inactive@example.com", is_active=False)
    async with dk.client() as client:
        responses = [
            await client.post("/auth/jwt/login", data=form("nobody@example.com")),
            await client.post("/auth/jwt/login", data=form("bob@example.com", "wrong-password-1")),
            await client.post("/auth/jwt/login", data=form("inactive@example.com")),
        ]
    for response in responses:
        assert response.status_code == 400
        assert response.json() == {"detail": ErrorCode.LOGIN_BAD_CREDENTIALS.value}
    headers = [
        {k: v for k, v in r.headers.items() if k.lower() not in ("date",)} for r in responses
    ]
    assert headers[0] == headers[1] == headers[2]
    assert dk.mailbox.logins == []


async def test_requires_verification(session_maker: async_sessionmaker[AsyncSession]) -> None:
    dk = build_app(session_maker, requires_verification=True)
    await dk.create_user("unverified@example.com")
    await dk.create_user("verified@example.com", is_verified=True)
    async with dk.client() as client:
        response = await client.post("/auth/jwt/login", data=form("unverified@example.com"))
        assert response.status_code == 400
        assert response.json() == {"detail": ErrorCode.LOGIN_USER_NOT_VERIFIED.value}
        # A wrong password says nothing about verification.
        response = await client.post(
            "/auth/jwt/login", data=form("unverified@example.com", "wrong-password-1")
        )
        assert response.json() == {"detail": ErrorCode.LOGIN_BAD_CREDENTIALS.value}
        token = await dk.login(client, "verified@example.com")
        assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 200
        response = await client.post("/auth/jwt/logout", headers=dk.auth(token))
        assert response.status_code == 204


async def test_overlong_password_is_422_without_authenticating(
    dk: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await dk.create_user("carol@example.com")
    calls: list[Any] = []

    async def spy(self: UserManager, credentials: Any) -> None:
        calls.append(credentials)

    monkeypatch.setattr(UserManager, "authenticate", spy)
    async with dk.client() as client:
        response = await client.post(
            "/auth/jwt/login", data=form("carol@example.com", "x" * (PASSWORD_MAX_LENGTH + 1))
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "password"]
        assert "x" * 100 not in response.text
        assert calls == []
        # At the limit, the manager is asked (and the spy finds no user).
        response = await client.post(
            "/auth/jwt/login", data=form("carol@example.com", "x" * PASSWORD_MAX_LENGTH)
        )
        assert response.status_code == 400
        assert len(calls) == 1


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/x-www-form-urlencoded"),
        (b"username=a%40b.c", "application/x-www-form-urlencoded"),
        (b'{"username": "a@b.c", "password": "x"}', "application/json"),
        (b"--broken\r\nnot a part", "multipart/form-data; boundary=other"),
        (b"garbage", "multipart/form-data"),
    ],
)
async def test_malformed_form_is_422(dk: App, content: bytes, content_type: str) -> None:
    async with dk.client() as client:
        response = await client.post(
            "/auth/jwt/login", content=content, headers={"Content-Type": content_type}
        )
    assert response.status_code == 422, response.text


async def test_logout_needs_an_active_user(dk: App) -> None:
    await dk.create_user("dave@example.com")
    async with dk.client() as client:
        assert (await client.post("/auth/jwt/logout")).status_code == 401
        response = await client.post("/auth/jwt/logout", headers=dk.auth("not-a-token"))
        assert response.status_code == 401
        token = await dk.login(client, "dave@example.com")
        response = await client.post("/auth/jwt/logout", headers=dk.auth(token))
        assert response.status_code == 204
        # The JWT is revoked server-side.
        assert (await client.get("/users/me", headers=dk.auth(token))).status_code == 401
        assert (await client.post("/auth/jwt/logout", headers=dk.auth(token))).status_code == 401


async def test_logout_of_a_deactivated_user_is_401(dk: App) -> None:
    user = await dk.create_user("erin@example.com")
    async with dk.client() as client:
        token = await dk.login(client, "erin@example.com")
        async with dk.session_maker() as session:
            manager = make_manager(session, dk.mailbox)
            fresh = await manager.get(user.id)
            await manager.user_db.update(fresh, {"is_active": False})
        response = await client.post("/auth/jwt/logout", headers=dk.auth(token))
    assert response.status_code == 401
