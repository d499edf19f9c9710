"""The enumeration-safe mode of POST /register (SECURITY 12), through the compatible API:
`FastAPIUsers.get_register_router(..., enumeration_safe=True)`."""

import asyncio
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import exceptions
from doorkeeper.router.register import (
    CHECK_YOUR_MAILBOX,
    notify_owner,
    register_in_background,
)
from tests.apps import PASSWORD, App, UserCreate, UserManager, UserRead, build_app
from tests.models import User


def safe_app(dk: App) -> FastAPI:
    app = FastAPI()
    router = dk.fastapi_users.get_register_router(UserRead, UserCreate, enumeration_safe=True)
    app.include_router(router, prefix="/auth")
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("scope", [None, "function"])
async def test_new_and_taken_addresses_get_the_same_answer(
    session_maker: async_sessionmaker[AsyncSession], scope: Any
) -> None:
    dk = build_app(session_maker, dependency_scope=scope)
    async with client(safe_app(dk)) as http:
        new = await http.post(
            "/auth/register",
            json={"email": "alice@example.com", "password": PASSWORD, "first_name": "Alice"},
        )
        taken = await http.post(
            "/auth/register",
            json={"email": "ALICE@example.com", "password": PASSWORD, "is_superuser": True},
        )
    assert new.status_code == taken.status_code == 202
    assert new.json() == taken.json() == {"detail": CHECK_YOUR_MAILBOX}
    user = await dk.get_user("alice@example.com")
    assert user is not None
    assert (user.first_name, user.is_superuser, user.email) == ("Alice", False, "alice@example.com")
    assert [email for email, _ in dk.mailbox.verify] == []  # the manager mails nothing itself


async def test_the_owner_of_a_taken_address_is_handed_to_the_hook(
    session_maker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    owners: list[str] = []

    async def on_after_register_existing(
        self: UserManager, user: User, request: Request | None = None
    ) -> None:
        assert isinstance(request, Request)
        owners.append(user.email)

    monkeypatch.setattr(
        UserManager, "on_after_register_existing", on_after_register_existing, raising=False
    )
    dk = build_app(session_maker)
    await dk.create_user("bob@example.com")
    async with client(safe_app(dk)) as http:
        await http.post("/auth/register", json={"email": "new@example.com", "password": PASSWORD})
        assert owners == []  # not for a new address
        response = await http.post(
            "/auth/register", json={"email": "Bob@Example.com", "password": PASSWORD}
        )
    assert response.status_code == 202
    assert owners == ["bob@example.com"]


async def test_refused_passwords_are_400_before_anything_else(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build_app(session_maker)
    await dk.create_user("carol@example.com")
    async with client(safe_app(dk)) as http:
        for email in ("carol@example.com", "dave@example.com"):
            response = await http.post("/auth/register", json={"email": email, "password": "abc"})
            assert response.status_code == 400
            assert response.json()["detail"]["code"] == "REGISTER_INVALID_PASSWORD"
        response = await http.post("/auth/register", json={"email": "x", "password": PASSWORD})
        assert response.status_code == 422
    assert await dk.get_user("dave@example.com") is None


async def test_concurrent_registrations_make_one_account(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = build_app(session_maker)
    async with client(safe_app(dk)) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    "/auth/register",
                    json={
                        "email": f"{'EVE' if i % 2 else 'eve'}@example.com",
                        "password": PASSWORD,
                    },
                )
                for i in range(10)
            )
        )
    assert {response.status_code for response in responses} == {202}
    async with session_maker() as session:
        from sqlalchemy import func, select

        count = await session.scalar(select(func.count()).select_from(User))
    assert count == 1


async def test_the_openapi_schema_documents_202(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    operation = safe_app(build_app(session_maker)).openapi()["paths"]["/auth/register"]["post"]
    assert set(operation["responses"]) == {"202", "400", "422"}


class StubManager:
    """Only what the background job calls."""

    def __init__(self, create_error: Exception | None, owner: Any = None) -> None:
        self.create_error = create_error
        self.owner = owner
        self.notified: list[Any] = []

    async def create(self, user_create: Any, safe: bool = False, request: Any = None) -> Any:
        if self.create_error is not None:
            raise self.create_error
        return user_create

    async def get_by_email(self, email: str) -> Any:
        if self.owner is None:
            raise exceptions.UserNotExists()
        return self.owner

    async def on_after_register_existing(self, user: Any, request: Any) -> None:
        self.notified.append(user)


async def test_background_edges(caplog: pytest.LogCaptureFixture) -> None:
    body = UserCreate(email="frank@example.com", password=PASSWORD)
    request: Any = object()
    # A password policy that changed its mind between the answer and the job: no account.
    refused = StubManager(exceptions.InvalidPasswordException(reason="NO"))
    await register_in_background(refused, body, request)  # type: ignore[arg-type]
    assert refused.notified == []
    # The owner was deleted in between: nobody to tell.
    gone = StubManager(exceptions.UserAlreadyExists(), owner=None)
    await register_in_background(gone, body, request)  # type: ignore[arg-type]
    assert gone.notified == []
    # The owner is there: told.
    present = StubManager(exceptions.UserAlreadyExists(), owner="owner")
    await notify_owner(present, "frank@example.com", request)  # type: ignore[arg-type]
    assert present.notified == ["owner"]
    # An unexpected failure is logged, never raised (the answer is gone already).
    caplog.set_level(logging.ERROR, logger="doorkeeper")
    broken = StubManager(RuntimeError("boom"))
    await register_in_background(broken, body, request)  # type: ignore[arg-type]
    assert "register failed (RuntimeError)" in caplog.text
