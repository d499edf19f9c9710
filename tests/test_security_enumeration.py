"""SECURITY 10-12 over HTTP: login, forgot-password and request-verify-token give the
same answer in the same time whatever the address; registration and e-mail change have
an enumeration-safe mode, off in the compatible API and on in the `Doorkeeper` object.

"Same time": medians of interleaved requests differ by at most 20%.
"""

import random
import statistics
import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI, Request
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import tests.apps
from doorkeeper import Doorkeeper
from doorkeeper.adapter.models import User as DoorkeeperUser
from doorkeeper.batteries.manager import DoorkeeperUserManager
from doorkeeper.email import MemoryEmailSender
from doorkeeper.password import PasswordHelper
from doorkeeper.router.register import CHECK_YOUR_MAILBOX
from tests.apps import PASSWORD, App, UserCreate, UserManager, UserRead, build_app, post_raw
from tests.models import User
from tests.security import assert_same_response
from tests.test_doorkeeper import (  # noqa: F401
    clean_environment,
    design_example,
    link_token,
    login,
    mails_to,
    make_auth,
    serving,
)

ROUNDS = 60
"""Interleaved rounds for the slow login; the 202 routes take 100 (they are cheap)."""


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker)


def assert_same_time(times: dict[str, list[float]]) -> None:
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    assert max(medians.values()) <= 1.2 * min(medians.values()), medians


def realistic_password_helper() -> PasswordHelper:
    """OWASP's m=19 MiB, t=2 row: hashing dominates the time of a login."""
    return PasswordHelper(
        PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))
    )


class CountingArgon2(Argon2Hasher):
    """Argon2id that records each operation it runs, with its parameters."""

    operations: ClassVar[list[str]] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        digest = super().hash(password, salt=salt)
        self.operations.append("hash " + digest.split("$")[3])
        return digest

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        params = (hash if isinstance(hash, str) else hash.decode()).split("$")[3]
        self.operations.append("verify " + params)
        return super().verify(password, hash)


def counting_password_helper() -> PasswordHelper:
    """A new helper per call, as a manager built per request makes one."""
    return PasswordHelper(
        PasswordHash((CountingArgon2(time_cost=1, memory_cost=1024, parallelism=1),))
    )


class DocsShapedHelper(PasswordHelper):
    """An app's own subclass: its dummy hash is its own, not the base class's."""


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
@pytest.mark.parametrize("helper_class", [PasswordHelper, DocsShapedHelper])
async def test_security_10_unknown_email_costs_one_verification_per_request_manager(
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    helper_class: type[PasswordHelper],
) -> None:
    """FastAPI Users' documented shape: `UserManager(user_db, PasswordHelper(...))` per
    request. Every login, known or not, costs exactly one Argon2 operation with the
    configured parameters; the dummy hash is made once per configuration per process."""

    def per_request_helper() -> PasswordHelper:
        return helper_class(
            PasswordHash((CountingArgon2(time_cost=1, memory_cost=1024, parallelism=2),))
        )

    monkeypatch.setattr(tests.apps, "cheap_password_helper", per_request_helper)
    dk = build_app(session_maker)
    await dk.create_user("known@example.com")
    CountingArgon2.operations.clear()
    async with dk.client() as client:
        for email, password in [
            ("nobody-1@example.com", PASSWORD),
            ("nobody-2@example.com", PASSWORD),
            ("known@example.com", "a-wrong-but-long-password-1"),
            ("nobody-3@example.com", "another-long-password-2"),
        ]:
            before = len(CountingArgon2.operations)
            response = await client.post(
                f"{dk.prefix}/login", data={"username": email, "password": password}
            )
            assert response.status_code == 400
            spent = CountingArgon2.operations[before:]
            assert len(spent) == 1, (email, spent)
            assert spent[0].endswith("m=1024,t=1,p=2"), spent
    # One dummy hash at most for this configuration in the whole process (the first
    # unknown login made it, or an earlier test with the same configuration did).
    assert sum(op.startswith("hash") for op in CountingArgon2.operations) <= 1


def test_security_10_a_password_that_nfkc_changes_costs_two_verifications_either_way() -> None:
    """`verify_and_update` tries the raw form too when NFKC changes a password, so a
    wrong password costs two verifications; the dummy must cost two as well."""
    helper = counting_password_helper()
    stored = helper.hash("the-right-password")
    helper.verify_dummy("warm-up")  # the process' dummy hash for this configuration
    decomposed = "cafe\u0301-wrong-password"
    CountingArgon2.operations.clear()
    assert helper.verify_and_update(decomposed, stored) == (False, None)
    wrong_password = list(CountingArgon2.operations)
    CountingArgon2.operations.clear()
    counting_password_helper().verify_dummy(decomposed)
    assert CountingArgon2.operations == wrong_password
    assert len(wrong_password) == 2


def test_security_10_dummy_hash_is_shared_by_configuration_not_by_instance() -> None:
    first, second = counting_password_helper(), counting_password_helper()
    first.verify_dummy("x")
    CountingArgon2.operations.clear()
    second.verify_dummy("y")
    assert [op.split()[0] for op in CountingArgon2.operations] == ["verify"]
    assert second._dummy_hash == first._dummy_hash
    other = PasswordHelper(
        PasswordHash((CountingArgon2(time_cost=2, memory_cost=1024, parallelism=1),))
    )
    CountingArgon2.operations.clear()
    other.verify_dummy("z")
    assert CountingArgon2.operations == ["hash m=1024,t=2,p=1"]
    assert other._dummy_hash != first._dummy_hash
    # A configuration that cannot be described keeps a dummy hash per helper.
    opaque = PasswordHelper(PasswordHash((OpaqueHasher(),)))
    opaque.verify_dummy("a")
    assert opaque._dummy_hash is not None
    assert PasswordHelper(PasswordHash((OpaqueHasher(),)))._dummy_hash is None


class OpaqueHasher(Argon2Hasher):
    """A hasher whose configuration holds an object the cache key cannot describe."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.tuning = object()


@pytest.mark.xdist_group("timing")  # see conftest.py
@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lifetime", ["shared helper", "helper per request"])
async def test_security_10_login_same_answer_and_time(
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    lifetime: str,
) -> None:
    helper = realistic_password_helper()
    factory = (lambda: helper) if lifetime == "shared helper" else realistic_password_helper
    monkeypatch.setattr(tests.apps, "cheap_password_helper", factory)
    dk = build_app(session_maker)
    await dk.create_user("known@example.com")
    await dk.create_user("inactive@example.com", is_active=False)
    attempts = {
        "unknown e-mail": ("nobody@example.com", PASSWORD),
        "wrong password": ("known@example.com", "a-wrong-but-long-password-1"),
        "inactive user": ("inactive@example.com", PASSWORD),
    }
    times: dict[str, list[float]] = {kind: [] for kind in attempts}
    answers: dict[str, httpx.Response] = {}
    async with dk.client() as client:

        async def attempt(email: str, password: str) -> httpx.Response:
            return await client.post(
                f"{dk.prefix}/login", data={"username": email, "password": password}
            )

        await attempt("warm-up@example.com", PASSWORD)
        for _ in range(ROUNDS):
            kinds = list(attempts)
            random.shuffle(kinds)
            for kind in kinds:
                start = time.perf_counter()
                response = await attempt(*attempts[kind])
                times[kind].append(time.perf_counter() - start)
                answers.setdefault(kind, response)
    for response in answers.values():
        assert response.status_code == 400
        assert_same_response(answers["unknown e-mail"], response)
    assert_same_time(times)


EMAIL_KINDS: dict[str, dict[str, Any] | None] = {
    "unknown": None,
    "unverified": {},
    "verified": {"is_verified": True},
    "inactive": {"is_active": False},
    "inactive verified": {"is_active": False, "is_verified": True},
}
ROUTES = ["/auth/forgot-password", "/auth/request-verify-token"]


async def create_every_kind(dk: App) -> dict[str, str]:
    addresses = {}
    for kind, flags in EMAIL_KINDS.items():
        address = f"{kind.replace(' ', '.')}@example.com"
        if flags is not None:
            await dk.create_user(address, **flags)
        addresses[kind] = address
    return addresses


@pytest.mark.parametrize("route", ROUTES)
async def test_security_11_same_answer_for_every_address(dk: App, route: str) -> None:
    addresses = await create_every_kind(dk)
    tokens = dk.mailbox.reset if "forgot" in route else dk.mailbox.verify
    answers = {}
    async with dk.client() as client:
        for kind, address in addresses.items():
            answers[kind] = await client.post(route, json={"email": address})
    for response in answers.values():
        assert response.status_code == 202
        assert_same_response(answers["unknown"], response)
    expected = ["unverified", "verified"] if "forgot" in route else ["unverified"]
    assert [address for address, _ in tokens] == [addresses[kind] for kind in expected]

    # The lookup, the token and the mail hook run after the response was sent.
    sent_before: list[int] = []
    status = await post_raw(
        dk.app,
        route,
        {"email": addresses["unverified"]},
        lambda: sent_before.append(len(tokens)),
    )
    assert status == 202
    assert sent_before == [len(expected)]
    assert len(tokens) == len(expected) + 1


@pytest.mark.xdist_group("timing")  # see conftest.py
@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
@pytest.mark.parametrize("route", ROUTES)
async def test_security_11_same_time_for_every_address(
    session_maker: async_sessionmaker[AsyncSession], route: str
) -> None:
    dk = build_app(session_maker)
    addresses = await create_every_kind(dk)

    async def timed(address: str) -> float:
        sent: list[float] = []
        start = time.perf_counter()
        status = await post_raw(
            dk.app, route, {"email": address}, lambda: sent.append(time.perf_counter())
        )
        assert status == 202
        return sent[0] - start

    for address in addresses.values():
        await timed(address)  # warm-up
    times: dict[str, list[float]] = {kind: [] for kind in addresses}
    for _ in range(100):
        kinds = list(addresses)
        random.shuffle(kinds)
        for kind in kinds:
            times[kind].append(await timed(addresses[kind]))
    assert_same_time(times)


def safe_register_app(dk: App) -> FastAPI:
    app = FastAPI()
    router = dk.fastapi_users.get_register_router(UserRead, UserCreate, enumeration_safe=True)
    app.include_router(router, prefix="/auth")
    return app


async def test_security_12_registration_is_enumeration_safe_on_demand(
    dk: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    owners: list[str] = []

    async def on_after_register_existing(
        self: UserManager, user: User, request: Request | None = None
    ) -> None:
        owners.append(user.email)

    monkeypatch.setattr(UserManager, "on_after_register_existing", on_after_register_existing)
    body = {"email": "alice@example.com", "password": PASSWORD}
    # Off in the compatible API: FastAPI Users' answers.
    async with dk.client() as client:
        assert (await client.post("/auth/register", json=body)).status_code == 201
        response = await client.post("/auth/register", json=body)
        assert (response.status_code, response.json()) == (
            400,
            {"detail": "REGISTER_USER_ALREADY_EXISTS"},
        )
    # On demand: the same 202 for a new and a taken address; the owner is told.
    transport = httpx.ASGITransport(app=safe_register_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        taken = await client.post("/auth/register", json={**body, "email": "ALICE@example.com"})
        new = await client.post("/auth/register", json={**body, "email": "bob@example.com"})
    assert_same_response(taken, new)
    assert (new.status_code, new.json()) == (202, {"detail": CHECK_YOUR_MAILBOX})
    assert owners == ["alice@example.com"]
    assert await dk.get_user("bob@example.com") is not None


class ConfirmingManager(DoorkeeperUserManager):
    """The settings the `Doorkeeper` object gives its manager (SECURITY 12, 39)."""

    email_change_requires_confirmation = True
    email_change_enumeration_safe = True


def confirming_auth(database_url: str, **options: Any) -> tuple[Doorkeeper, MemoryEmailSender]:
    return make_auth(database_url, user_manager_class=ConfirmingManager, **options)


async def register_and_login(client: httpx.AsyncClient, auth: Doorkeeper, email: str) -> str:
    await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    return await login(client, email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_security_12_the_doorkeeper_object_answers_alike(database_url: str) -> None:
    auth, sender = confirming_auth(database_url)
    async with serving(design_example(auth), auth) as client:
        await register_and_login(client, auth, "owner@example.com")
        body = {"email": "OWNER@example.com", "password": PASSWORD}
        taken = await client.post("/auth/register", json=body)
        new = await client.post("/auth/register", json={**body, "email": "carol@example.com"})
        assert_same_response(taken, new)
        assert taken.status_code == 202

        access = await login(client, "carol@example.com")
        taken = await client.patch(
            "/users/me", json={"email": "owner@example.com"}, headers=bearer(access)
        )
        free = await client.patch(
            "/users/me", json={"email": "carol.new@example.com"}, headers=bearer(access)
        )
        assert_same_response(taken, free)
        assert taken.status_code == 200
    subjects = [message.subject for message in mails_to(sender, "owner@example.com")]
    assert subjects == [
        "Verify your e-mail address for Doorkeeper",
        "Someone tried to sign up to Doorkeeper with your address",
        "Someone asked to use your address for another Doorkeeper account",
    ], subjects
    (confirm,) = mails_to(sender, "carol.new@example.com")
    assert "token=" in confirm.text
    notices = [m for m in mails_to(sender, "carol@example.com") if "token=" not in m.text]
    assert [m.subject for m in notices] == [
        "A change of your Doorkeeper e-mail address was requested"
    ] * 2


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_security_39_the_doorkeeper_object_mails_both_addresses(
    database_url: str,
) -> None:
    events: list[tuple[str, Any]] = []

    def recorder(name: str) -> Callable[..., None]:
        def hook(user: DoorkeeperUser, value: Any = None, *args: Any) -> None:
            events.append((name, user.email))

        return hook

    auth, sender = confirming_auth(database_url)
    for name in (
        "on_after_request_email_change",
        "on_email_change_pending",
        "on_after_request_email_change_existing",
        "on_after_email_change",
    ):
        auth.hooks[name] = recorder(name)
    async with serving(design_example(auth), auth) as client:
        access = await register_and_login(client, auth, "dave@example.com")
        await register_and_login(client, auth, "taken@example.com")
        for new in ("taken@example.com", "dave.new@example.com"):
            response = await client.patch("/users/me", json={"email": new}, headers=bearer(access))
            assert response.status_code == 200
        (confirm,) = mails_to(sender, "dave.new@example.com")
        token = link_token(confirm, "http://localhost:8000/confirm-email")
        response = await client.post("/users/confirm-email", json={"token": token})
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "dave.new@example.com"
        assert (await client.get("/hello", headers=bearer(access))).status_code == 401
        await login(client, "dave.new@example.com")
    changed = mails_to(sender, "dave@example.com")[-1]
    assert changed.subject == "The e-mail address of your Doorkeeper account was changed"
    assert "dave.new@example.com" in changed.text
    assert events == [
        ("on_email_change_pending", "dave@example.com"),
        ("on_after_request_email_change_existing", "taken@example.com"),
        ("on_email_change_pending", "dave@example.com"),
        ("on_after_request_email_change", "dave@example.com"),
        ("on_after_email_change", "dave.new@example.com"),
    ]


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_security_39_mails_outside_requests_are_sent_at_once(database_url: str) -> None:
    auth, sender = confirming_auth(database_url)
    await auth.startup()
    try:
        manager = auth.create_user_manager(auth.adapter.user)
        user = await auth.adapter.user.create(
            {"email": "erin@example.com", "hashed_password": "x", "is_verified": True}
        )
        await manager.request_email_change(user, "erin.new@example.com")
    finally:
        await auth.shutdown()
    assert sorted(message.to for message in sender.outbox) == [
        "erin.new@example.com",
        "erin@example.com",
    ]
