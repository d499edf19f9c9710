"""SECURITY 45 over HTTP: every flow of the manager records one structured event, on
the `doorkeeper.audit` logger and through the manager's `on_event` hook, with UTC time,
user id, client IP and outcome, and never a secret."""

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import exceptions
from doorkeeper.audit import AuditEvent, record_event
from doorkeeper.audit_flows import failure_reason
from tests.apps import NEW_PASSWORD, PASSWORD, App, UserCreate, UserManager, UserRead, build_app
from tests.security import enable_email_change

THIRD_PASSWORD = "a-third-long-passphrase-333"
WRONG_PASSWORD = "not-the-current-password-1"
OWN_EVENTS = {
    "register",
    "request_verify",
    "verify",
    "forgot_password",
    "reset_password",
    "password_change",
    "email_change_request",
    "email_change",
    "deactivate",
    "delete",
}
"""The events of the manager's flows (login, logout and sessions record their own)."""


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[AuditEvent]:
    received: list[AuditEvent] = []

    async def on_event(
        self: UserManager, event: AuditEvent, request: Request | None = None
    ) -> None:
        received.append(event)

    monkeypatch.setattr(UserManager, "on_event", on_event)
    return received


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    dk = build_app(session_maker, email_change=True)
    safe = dk.fastapi_users.get_register_router(UserRead, UserCreate, enumeration_safe=True)
    dk.app.include_router(safe, prefix="/safe")
    return dk


async def test_security_45_every_flow_records_one_event(
    dk: App,
    events: list[AuditEvent],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changes = enable_email_change(monkeypatch, enumeration_safe=True)
    admin = await dk.create_user("admin@example.com", is_superuser=True)
    bob = await dk.create_user("bob@example.com")
    events.clear()
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    secrets = {PASSWORD, NEW_PASSWORD, THIRD_PASSWORD, WRONG_PASSWORD, "short-1"}
    hashes = {admin.hashed_password, bob.hashed_password}

    async with dk.client() as client:

        async def post(path: str, **kwargs: Any) -> int:
            response = await client.post(path, **kwargs)
            return response.status_code

        body = {"email": "alice@example.com", "password": PASSWORD}
        assert await post("/auth/register", json=body) == 201
        alice = await dk.get_user("alice@example.com")
        assert alice is not None
        alice_id = str(alice.id)
        hashes.add(alice.hashed_password)
        assert await post("/auth/register", json=body) == 400
        assert await post("/safe/register", json={**body, "email": "ALICE@example.com"}) == 202

        for email in ("alice@example.com", "nobody@example.com"):
            assert await post("/auth/request-verify-token", json={"email": email}) == 202
        assert await post("/auth/verify", json={"token": "forged"}) == 400
        verify_token = dk.mailbox.last_verify_token("alice@example.com")
        assert await post("/auth/verify", json={"token": verify_token}) == 200
        assert await post("/auth/request-verify-token", json={"email": "alice@example.com"}) == 202

        for email in ("alice@example.com", "nobody@example.com"):
            assert await post("/auth/forgot-password", json={"email": email}) == 202
        reset_token = dk.mailbox.last_reset_token("alice@example.com")
        reset = {"token": reset_token, "password": "short-1"}
        assert await post("/auth/reset-password", json=reset) == 400
        assert await post("/auth/reset-password", json={**reset, "password": NEW_PASSWORD}) == 200
        assert await post("/auth/reset-password", json={**reset, "password": NEW_PASSWORD}) == 400

        access = await dk.login(client, "alice@example.com", NEW_PASSWORD)
        change = {"password": THIRD_PASSWORD, "current_password": WRONG_PASSWORD}
        for current in (WRONG_PASSWORD, NEW_PASSWORD):
            response = await client.patch(
                "/users/me", json={**change, "current_password": current}, headers=dk.auth(access)
            )
            assert response.status_code == (400 if current == WRONG_PASSWORD else 200)
        for new in ("bob@example.com", "alice.new@example.com"):
            response = await client.patch("/users/me", json={"email": new}, headers=dk.auth(access))
            assert response.status_code == 200
        assert await post("/users/confirm-email", json={"token": "forged"}) == 400
        change_token = changes.token_for("alice.new@example.com")
        assert await post("/users/confirm-email", json={"token": change_token}) == 200

        admin_access = await dk.login(client, "admin@example.com")
        for update in ({"is_active": False}, {"email": "robert@example.com"}):
            response = await client.patch(
                f"/users/{bob.id}", json=update, headers=dk.auth(admin_access)
            )
            assert response.status_code == 200
        response = await client.delete(f"/users/{bob.id}", headers=dk.auth(admin_access))
        assert response.status_code == 204
    final = await dk.get_user("alice.new@example.com")
    assert final is not None
    hashes.add(final.hashed_password)
    secrets |= {verify_token, reset_token, change_token, access, admin_access}
    secrets |= {token for _, token in dk.mailbox.verify + dk.mailbox.reset + changes.confirm}

    mine = [event for event in events if event.type in OWN_EVENTS]
    summary = [
        (event.type, event.outcome, event.user_id, event.details.get("reason")) for event in mine
    ]
    bob_id = str(bob.id)
    assert summary == [
        ("register", "success", alice_id, None),
        ("register", "failure", None, "already_exists"),
        ("register", "failure", None, "already_exists"),  # not told to the client (202)
        ("request_verify", "success", alice_id, None),
        ("request_verify", "failure", None, "unknown_user"),
        ("verify", "failure", None, "invalid_token"),
        ("verify", "success", alice_id, None),
        ("request_verify", "failure", alice_id, "already_verified"),
        ("forgot_password", "success", alice_id, None),
        ("forgot_password", "failure", None, "unknown_user"),
        ("reset_password", "failure", None, "invalid_password"),
        ("reset_password", "success", alice_id, None),
        ("reset_password", "failure", None, "invalid_token"),
        ("password_change", "failure", alice_id, "current_password_invalid"),
        ("password_change", "success", alice_id, None),
        ("email_change_request", "failure", alice_id, "already_exists"),  # answered 200
        ("email_change_request", "success", alice_id, None),
        ("email_change", "failure", None, "invalid_token"),
        ("email_change", "success", alice_id, None),
        ("deactivate", "success", bob_id, None),
        ("email_change", "success", bob_id, None),
        ("delete", "success", bob_id, None),
    ]
    self_service = {e.type: e.details.get("self_service") for e in mine if e.user_id == bob_id}
    assert self_service == {"deactivate": False, "email_change": False, "delete": None}
    assert [e.details.get("self_service") for e in mine if e.type == "password_change"] == [
        True,
        True,
    ]

    for event in events:
        assert event.time.utcoffset() == timedelta(0)
        assert event.to_dict()["time"].endswith("+00:00")
        assert event.ip == "127.0.0.1"
        assert event.outcome in ("success", "failure", "blocked")

    records = [record for record in caplog.records if record.name == "doorkeeper.audit"]
    assert [record.audit for record in records] == events  # type: ignore[attr-defined]
    for record, event in zip(records, events, strict=True):
        assert record.levelno == logging.INFO
        assert json.loads(record.getMessage()) == event.to_dict()

    dumped = [record.getMessage() for record in records]
    dumped += [repr(record.__dict__) for record in records]
    dumped += [json.dumps(event.to_dict()) for event in events]
    for secret in secrets | hashes:
        assert secret
        assert not any(secret in text for text in dumped), secret


async def test_security_45_client_ip_comes_from_trusted_proxies_only(
    dk: App, events: list[AuditEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    async with dk.client() as client:
        await client.post(
            "/auth/forgot-password", json={"email": "a@example.com"}, headers=forwarded
        )
        monkeypatch.setattr(UserManager, "trusted_proxies", ("127.0.0.0/8",))
        await client.post(
            "/auth/forgot-password", json={"email": "a@example.com"}, headers=forwarded
        )
    assert [event.ip for event in events] == ["127.0.0.1", "203.0.113.9"]


async def test_security_45_a_failing_hook_fails_no_request(
    dk: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(self: UserManager, event: AuditEvent, request: Request | None = None) -> None:
        raise RuntimeError("the audit sink is down")

    monkeypatch.setattr(UserManager, "on_event", broken)
    async with dk.client() as client:
        response = await client.post(
            "/auth/register", json={"email": "carol@example.com", "password": PASSWORD}
        )
    assert response.status_code == 201
    (failure,) = [record for record in caplog.records if record.name == "doorkeeper"]
    assert "on_event hook failed for a 'register' event" in failure.getMessage()


async def test_security_45_details_keep_no_secret() -> None:
    class Manager:
        trusted_proxies = None

    event = await record_event(
        Manager(),
        "login",
        user_id=42,
        token="t0ken",
        password_hash="h",
        one_time_code="123456",
        client_secret="s",
        session_id="kept",
        backend="bearer",
        attempts=3,
        nested={"token": "t0ken"},
    )
    assert event.user_id == "42"
    assert event.ip is None
    assert dict(event.details) == {"session_id": "kept", "backend": "bearer", "attempts": 3}
    assert event.to_dict()["event"] == "login"


def test_security_45_failure_reasons_are_short_codes() -> None:
    cases = [
        (exceptions.InvalidPasswordException(reason="Password is too common."), "invalid_password"),
        (exceptions.InvalidPasswordException(reason="CURRENT_PASSWORD_REQUIRED"), None),
        (exceptions.InvalidEmailChangeToken(), "invalid_token"),
        (exceptions.InvalidID(), "invalid_id"),
        (exceptions.UserInactive(), "inactive"),
        (exceptions.FastAPIUsersException(), "error"),
    ]
    for error, reason in cases:
        assert failure_reason(error) == (reason or "current_password_required")
