"""SECURITY 39 (and the e-mail half of 12) over HTTP: a self-service e-mail change stays
pending until confirmed from the new address, and the old address is told.

The compatible API keeps FastAPI Users' immediate change unless the manager sets
`email_change_requires_confirmation`; the tests switch it on (`tests.security`).
"""

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import exceptions
from doorkeeper.batteries.pages import PAGE_HEADERS, pages_router
from doorkeeper.email_change import EMAIL_CHANGE_TOKEN_AUDIENCE
from doorkeeper.jwt import generate_jwt
from doorkeeper.ratelimit import RateLimiter, RateLimits
from doorkeeper.router import ErrorCode, get_users_router
from tests.apps import (
    NEW_PASSWORD,
    PAIRS,
    PASSWORD,
    SECRET,
    App,
    UserManager,
    UserRead,
    UserUpdate,
    build_app,
    build_pair_app,
    make_manager,
    pair_id,
)
from tests.security import ChangeMails, assert_same_response, clock_ahead, enable_email_change

BAD_TOKEN = {"detail": ErrorCode.EMAIL_CHANGE_BAD_TOKEN}
TAKEN = {"detail": ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS}


@pytest.fixture
def mails(monkeypatch: pytest.MonkeyPatch) -> ChangeMails:
    return enable_email_change(monkeypatch)


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession], mails: ChangeMails) -> App:
    return build_app(session_maker, email_change=True)


async def login_status(dk: App, email: str, password: str = PASSWORD) -> int:
    async with dk.client() as client:
        response = await client.post(
            f"{dk.prefix}/login", data={"username": email, "password": password}
        )
    return response.status_code


@pytest.fixture(params=PAIRS, ids=pair_id)
def pair(
    request: pytest.FixtureRequest,
    session_maker: async_sessionmaker[AsyncSession],
    mails: ChangeMails,
) -> App:
    return build_pair_app(request, session_maker, email_change=True)


async def test_security_39_change_waits_for_the_new_address(pair: App, mails: ChangeMails) -> None:
    dk = pair
    await dk.create_user("alice@example.com", is_verified=True)
    async with dk.client() as client:
        mine = await dk.login(client, "alice@example.com")
        other = await dk.login(client, "alice@example.com")
        response = await client.patch(
            "/users/me",
            json={"email": "alice.new@example.com", "first_name": "Alice"},
            headers=dk.auth(mine),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        # Pending: the other fields changed, the address did not.
        assert (body["email"], body["first_name"], body["is_verified"]) == (
            "alice@example.com",
            "Alice",
            True,
        )
        assert mails.pending == [("alice@example.com", "alice.new@example.com")]
        assert [address for address, _ in mails.confirm] == ["alice.new@example.com"]
        assert (await client.get("/users/me", headers=dk.auth(other))).status_code == 200
        assert await login_status(dk, "alice.new@example.com") == 400
        assert await login_status(dk, "alice@example.com") in (200, 204)

        token = mails.token_for("alice.new@example.com")
        response = await client.post("/users/confirm-email", json={"token": token})
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "alice.new@example.com"
        assert response.json()["is_verified"] is True  # the new address was proven
        assert mails.changed == [("alice@example.com", "alice.new@example.com")]
        # Every session of the account ends (SECURITY 19).
        for token_before in (mine, other):
            assert (await client.get("/users/me", headers=dk.auth(token_before))).status_code == 401
        assert await login_status(dk, "alice@example.com") == 400
        fresh = await dk.login(client, "alice.new@example.com")
        assert (await client.get("/users/me", headers=dk.auth(fresh))).json()[
            "first_name"
        ] == "Alice"

        # Single use.
        response = await client.post("/users/confirm-email", json={"token": token})
        assert (response.status_code, response.json()) == (400, BAD_TOKEN)


async def test_security_39_sessions_survive_when_revocation_is_off(
    dk: App, mails: ChangeMails, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(UserManager, "revoke_sessions_on_change", False)
    await dk.create_user("olga@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "olga@example.com")
        await client.patch(
            "/users/me", json={"email": "olga.new@example.com"}, headers=dk.auth(access)
        )
        token = mails.token_for("olga.new@example.com")
        assert (await client.post("/users/confirm-email", json={"token": token})).status_code == 200
        response = await client.get("/users/me", headers=dk.auth(access))
    assert response.json()["email"] == "olga.new@example.com"


async def test_security_39_taken_address_is_refused_before_anything_changes(
    dk: App, mails: ChangeMails
) -> None:
    await dk.create_user("bob@example.com")
    await dk.create_user("taken@example.com")
    async with dk.client() as client:
        token = await dk.login(client, "bob@example.com")
        response = await client.patch(
            "/users/me",
            json={"email": "TAKEN@example.com", "first_name": "Bob"},
            headers=dk.auth(token),
        )
        assert (response.status_code, response.json()) == (400, TAKEN)
        assert (await client.get("/users/me", headers=dk.auth(token))).json()["first_name"] is None
    assert mails == ChangeMails()


async def test_security_39_same_address_in_another_case_changes_at_once(
    dk: App, mails: ChangeMails
) -> None:
    await dk.create_user("carol@example.com", is_verified=True)
    async with dk.client() as client:
        token = await dk.login(client, "carol@example.com")
        response = await client.patch(
            "/users/me", json={"email": "Carol@Example.com"}, headers=dk.auth(token)
        )
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["is_verified"]) == ("Carol@example.com", True)
    assert mails == ChangeMails()


async def test_security_39_superusers_change_addresses_at_once(dk: App, mails: ChangeMails) -> None:
    await dk.create_user("admin@example.com", is_superuser=True)
    dave = await dk.create_user("dave@example.com", is_verified=True)
    async with dk.client() as client:
        token = await dk.login(client, "admin@example.com")
        response = await client.patch(
            f"/users/{dave.id}", json={"email": "dave.new@example.com"}, headers=dk.auth(token)
        )
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["is_verified"]) == (
        "dave.new@example.com",
        False,
    )
    assert mails == ChangeMails()


async def test_security_39_bad_tokens(
    dk: App, mails: ChangeMails, monkeypatch: pytest.MonkeyPatch
) -> None:
    erin = await dk.create_user("erin@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "erin@example.com")
        await client.patch(
            "/users/me", json={"email": "erin.new@example.com"}, headers=dk.auth(access)
        )
        good = mails.token_for("erin.new@example.com")
        await client.post("/auth/forgot-password", json={"email": "erin@example.com"})
        await client.post("/auth/request-verify-token", json={"email": "erin@example.com"})
        aud = EMAIL_CHANGE_TOKEN_AUDIENCE
        fields = {"sub": str(erin.id), "email": "erin.new@example.com", "aud": aud}
        bad = [
            "garbage",
            dk.mailbox.last_reset_token("erin@example.com"),  # other token types
            dk.mailbox.last_verify_token("erin@example.com"),
            access,
            generate_jwt(fields, SECRET, 60),  # no fingerprint
            generate_jwt({**fields, "fgpt": 1}, SECRET, 60),
            generate_jwt({**fields, "fgpt": "0" * 64}, SECRET, 60),
            generate_jwt({**fields, "email": None, "fgpt": "0" * 64}, SECRET, 60),
            generate_jwt({**fields, "sub": "not-an-id", "fgpt": "0" * 64}, SECRET, 60),
            generate_jwt({**fields, "sub": str(uuid.uuid4()), "fgpt": "0" * 64}, SECRET, 60),
            generate_jwt({**fields, "fgpt": "0" * 64}, "another-secret-" * 4, 60),
            good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        ]
        for token in bad:
            response = await client.post("/users/confirm-email", json={"token": token})
            assert (response.status_code, response.json()) == (400, BAD_TOKEN), token
        for body in ({}, {"token": 12}, {"token": None}):
            response = await client.post("/users/confirm-email", json=body)
            assert response.status_code == 422

        clock_ahead(monkeypatch, 86400 + 1)  # 24 hours by default
        response = await client.post("/users/confirm-email", json={"token": good})
        assert (response.status_code, response.json()) == (400, BAD_TOKEN)
    assert (await dk.get_user("erin@example.com")) is not None


async def test_security_39_a_password_change_cancels_the_pending_change(
    dk: App, mails: ChangeMails
) -> None:
    await dk.create_user("frank@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "frank@example.com")
        await client.patch(
            "/users/me", json={"email": "frank.new@example.com"}, headers=dk.auth(access)
        )
        token = mails.token_for("frank.new@example.com")
        response = await client.patch(
            "/users/me",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=dk.auth(access),
        )
        assert response.status_code == 200
        response = await client.post("/users/confirm-email", json={"token": token})
    assert (response.status_code, response.json()) == (400, BAD_TOKEN)
    assert await dk.get_user("frank@example.com") is not None


async def test_security_39_an_inactive_user_cannot_confirm(dk: App, mails: ChangeMails) -> None:
    await dk.create_user("gina@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "gina@example.com")
        await client.patch(
            "/users/me", json={"email": "gina.new@example.com"}, headers=dk.auth(access)
        )
        async with dk.session_maker() as session:
            manager = make_manager(session, dk.mailbox)
            user = await manager.get_by_email("gina@example.com")
            await manager.user_db.update(user, {"is_active": False})
        response = await client.post(
            "/users/confirm-email", json={"token": mails.token_for("gina.new@example.com")}
        )
    assert (response.status_code, response.json()) == (400, BAD_TOKEN)


async def test_security_39_address_taken_in_the_meantime(dk: App, mails: ChangeMails) -> None:
    await dk.create_user("hank@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "hank@example.com")
        await client.patch(
            "/users/me", json={"email": "hank.new@example.com"}, headers=dk.auth(access)
        )
        await dk.create_user("HANK.NEW@example.com")
        response = await client.post(
            "/users/confirm-email", json={"token": mails.token_for("hank.new@example.com")}
        )
    assert (response.status_code, response.json()) == (400, TAKEN)
    assert await dk.get_user("hank@example.com") is not None


async def test_security_39_concurrent_confirmations_succeed_once(
    dk: App, mails: ChangeMails
) -> None:
    await dk.create_user("ivy@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "ivy@example.com")
        await client.patch(
            "/users/me", json={"email": "ivy.new@example.com"}, headers=dk.auth(access)
        )
        token = mails.token_for("ivy.new@example.com")
        responses = await asyncio.gather(
            *(client.post("/users/confirm-email", json={"token": token}) for _ in range(8))
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * 7, [r.text for r in responses]
    assert len(mails.changed) == 1


async def test_security_39_two_pending_changes_only_one_wins(dk: App, mails: ChangeMails) -> None:
    await dk.create_user("jack@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "jack@example.com")
        for new in ("jack.a@example.com", "jack.b@example.com"):
            await client.patch("/users/me", json={"email": new}, headers=dk.auth(access))
        first = await client.post(
            "/users/confirm-email", json={"token": mails.token_for("jack.b@example.com")}
        )
        second = await client.post(
            "/users/confirm-email", json={"token": mails.token_for("jack.a@example.com")}
        )
    assert first.status_code == 200
    assert (second.status_code, second.json()) == (400, BAD_TOKEN)
    assert await dk.get_user("jack.b@example.com") is not None


async def test_security_39_off_by_default_in_the_compatible_api(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build_app(session_maker, email_change=True)
    await dk.create_user("kate@example.com", is_verified=True)
    async with dk.client() as client:
        access = await dk.login(client, "kate@example.com")
        response = await client.patch(
            "/users/me", json={"email": "kate.new@example.com"}, headers=dk.auth(access)
        )
    assert (response.json()["email"], response.json()["is_verified"]) == (
        "kate.new@example.com",
        False,
    )


async def test_security_12_taken_address_gets_the_same_answer(
    session_maker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    mails = enable_email_change(monkeypatch, enumeration_safe=True)
    dk = build_app(session_maker, email_change=True)
    await dk.create_user("liam@example.com")
    await dk.create_user("owner@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "liam@example.com")
        taken = await client.patch(
            "/users/me", json={"email": "Owner@example.com"}, headers=dk.auth(access)
        )
        free = await client.patch(
            "/users/me", json={"email": "liam.new@example.com"}, headers=dk.auth(access)
        )
    assert taken.status_code == 200
    assert_same_response(taken, free)
    assert taken.json()["email"] == "liam@example.com"
    # The requester's own address hears the same in both cases; the taken address's
    # owner gets a notice, the free address its confirmation.
    assert mails.pending == [
        ("liam@example.com", "Owner@example.com"),
        ("liam@example.com", "liam.new@example.com"),
    ]
    assert mails.existing == ["owner@example.com"]
    assert [address for address, _ in mails.confirm] == ["liam.new@example.com"]


async def test_security_39_request_email_change_refuses_a_taken_address(
    session_maker: async_sessionmaker[AsyncSession], mails: ChangeMails
) -> None:
    # Through the manager: the address got an account between the check of the update
    # and the request (not enumeration-safe).
    async with session_maker() as session:
        manager = make_manager(session, None)  # type: ignore[arg-type]
        user = await manager.user_db.create({"email": "mia@example.com", "hashed_password": "x"})
        await manager.user_db.create({"email": "taken@example.com", "hashed_password": "x"})
        with pytest.raises(exceptions.UserAlreadyExists):
            await manager.request_email_change(user, "taken@example.com")
    assert mails == ChangeMails()


async def test_security_39_a_lost_race_in_storage_is_a_bad_token(
    session_maker: async_sessionmaker[AsyncSession],
    mails: ChangeMails,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with session_maker() as session:
        manager = make_manager(session, None)  # type: ignore[arg-type]
        user = await manager.user_db.create({"email": "ned@example.com", "hashed_password": "x"})
        await manager.request_email_change(user, "ned.new@example.com")

        async def lost(*args: object, **kwargs: object) -> None:
            return None  # another confirmation changed the row first

        monkeypatch.setattr(manager.user_db, "update_if", lost)
        with pytest.raises(exceptions.InvalidEmailChangeToken):
            await manager.confirm_email_change(mails.token_for("ned.new@example.com"))


async def test_security_39_bad_confirmation_tokens_are_rate_limited(
    dk: App, mails: ChangeMails
) -> None:
    limiter = RateLimiter(RateLimits(token_per_ip="3/minute"))
    users = dk.fastapi_users
    router = get_users_router(
        users.get_user_manager,
        UserRead,
        UserUpdate,
        users.authenticator,
        rate_limiter=limiter,
        email_change=True,
    )
    dk.app.include_router(router, prefix="/limited")
    await dk.create_user("pia@example.com")
    async with dk.client() as client:
        access = await dk.login(client, "pia@example.com")
        await client.patch(
            "/users/me", json={"email": "pia.new@example.com"}, headers=dk.auth(access)
        )
        for _ in range(3):
            response = await client.post("/limited/confirm-email", json={"token": "forged"})
            assert (response.status_code, response.json()) == (400, BAD_TOKEN)
        token = mails.token_for("pia.new@example.com")
        response = await client.post("/limited/confirm-email", json={"token": token})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
    await limiter.aclose()
    assert await dk.get_user("pia@example.com") is not None


async def test_security_39_the_ready_made_page_of_the_link() -> None:
    app = FastAPI()
    app.include_router(pages_router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        response = await client.get("/confirm-email?token=abc")
    assert response.status_code == 200
    assert 'fetch("/users/confirm-email"' in response.text
    assert "abc" not in response.text  # read by the page's script, never written
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value
