"""Brute-force protection over HTTP (SECURITY D 13-16): per-account and per-IP limits on
every credential path, 429 with `Retry-After`, counters in memory or shared through
Redis, `X-Forwarded-For` only from trusted proxies, and failing closed without Redis."""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage, RedisStorage
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from doorkeeper import FastAPIUsers
from doorkeeper.authentication import AuthenticationBackend
from doorkeeper.ratelimit import RateLimiter, RateLimits
from doorkeeper.router import ErrorCode
from tests.apps import (
    NEW_PASSWORD,
    PASSWORD,
    App,
    Mailbox,
    UserManager,
    UserRead,
    build_app,
    make_transport,
)
from tests.models import User
from tests.services import REDIS_URL

LIMITS = RateLimits(
    login_per_account="3/minute",
    login_per_ip="5/minute",
    token_per_ip="3/minute",
    forgot_password_per_address="2/minute",
    forgot_password_per_ip="4/minute",
    request_verify_per_address="2/minute",
    request_verify_per_ip="4/minute",
)
CLIENT = "198.51.100.7"
"""The peer address of the test client, unless a test says otherwise."""
PROXY = "10.0.0.1"
WRONG = "not-the-password-at-all"

MakeLimiter = Callable[..., RateLimiter]


@pytest.fixture
def db_kind() -> str:
    """SQLite: limits do not depend on the database (the two-instance test says which)."""
    return "sqlite"


@pytest.fixture(params=["memory", "redis"])
def redis_prefix(request: pytest.FixtureRequest) -> str | None:
    """`None` for counters in memory, else this test's key prefix in the real Redis
    (a sync fixture: the Redis fixture is only set up when needed)."""
    if request.param == "memory":
        return None
    prefix: str = request.getfixturevalue("redis").test_prefix
    return prefix.rstrip(":")


@pytest.fixture
async def make_limiter(redis_prefix: str | None) -> AsyncIterator[MakeLimiter]:
    """Builds limiters on this test's storage: memory, or the real Redis under this
    test's key prefix (so two limiters built here share their counters)."""
    made: list[RateLimiter] = []

    def make(limits: RateLimits = LIMITS, **options: Any) -> RateLimiter:
        if redis_prefix is not None:
            options.setdefault("redis_url", REDIS_URL)
            options.setdefault("key_prefix", redis_prefix)
        limiter = RateLimiter(limits, **options)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


def limited_app(
    session_maker: async_sessionmaker[AsyncSession],
    limiter: RateLimiter | None,
    *,
    mailbox: Mailbox | None = None,
) -> App:
    """The documented app, with `limiter` handed to `FastAPIUsers`, and two login
    backends (bearer under /auth/jwt, cookie under /auth/cookie) on one strategy."""
    base = build_app(session_maker, mailbox=mailbox)
    cookie_backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        name="cookie", transport=make_transport("cookie"), get_strategy=base.backend.get_strategy
    )
    users = FastAPIUsers[User, uuid.UUID](
        base.fastapi_users.get_user_manager,
        [base.backend, cookie_backend],
        rate_limiter=limiter,
    )
    app = FastAPI()
    app.include_router(users.get_auth_router(base.backend), prefix="/auth/jwt")
    app.include_router(users.get_auth_router(cookie_backend), prefix="/auth/cookie")
    app.include_router(users.get_reset_password_router(), prefix="/auth")
    app.include_router(users.get_verify_router(UserRead), prefix="/auth")
    return replace(base, app=app, fastapi_users=users)


def client(dk: App, peer: str = CLIENT) -> httpx.AsyncClient:
    """A client whose requests come from the address `peer`."""
    transport = httpx.ASGITransport(app=dk.app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="https://test")


async def login(
    http: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    backend: str = "jwt",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await http.post(
        f"/auth/{backend}/login",
        data={"username": email, "password": password},
        headers=headers,
    )


def assert_429(response: httpx.Response, max_wait: int = 60) -> int:
    """A rate-limited answer: 429, the stable code, `Retry-After` in whole seconds."""
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": "RATE_LIMITED"}
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= max_wait
    return int(retry_after)


@pytest.fixture
def authentications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The usernames `authenticate` was called with (each call costs a hash)."""
    calls: list[str] = []
    original = UserManager.authenticate

    async def counting(self: UserManager, credentials: Any) -> Any:
        calls.append(credentials.username)
        return await original(self, credentials)

    monkeypatch.setattr(UserManager, "authenticate", counting)
    return calls


def lockouts(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "doorkeeper.audit" and '"lockout"' in record.getMessage()
    ]


# --- SECURITY 13: failed logins per account and per IP ------------------------------------


async def test_security_13_failed_logins_per_account_lock_even_the_right_password(
    session_maker: async_sessionmaker[AsyncSession],
    make_limiter: MakeLimiter,
    authentications: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("arthur@camelot.bt")
    # Three failures from three addresses and three spellings: one account counter.
    for peer, spelling in [
        ("203.0.113.1", "arthur@camelot.bt"),
        ("203.0.113.2", "ARTHUR@Camelot.bt"),
        ("203.0.113.3", "  arthur@CAMELOT.BT "),
    ]:
        async with client(dk, peer) as http:
            response = await login(http, spelling, WRONG)
        assert response.status_code == 400
        assert response.json() == {"detail": ErrorCode.LOGIN_BAD_CREDENTIALS}
    assert len(authentications) == 3
    async with client(dk, "203.0.113.4") as http:
        blocked = await login(http, "arthur@camelot.bt", PASSWORD)
        cookie_blocked = await login(http, "arthur@camelot.bt", PASSWORD, backend="cookie")
    assert_429(blocked)
    assert_429(cookie_blocked)  # every login backend shares the counters
    assert len(authentications) == 3, "a refused attempt costs no hash"
    assert dk.mailbox.logins == []
    events = lockouts(caplog)
    assert len(events) == 2
    assert events[0]["outcome"] == "blocked"
    assert events[0]["scope"] == "account"
    assert events[0]["route"] == "login"
    assert events[0]["user_id"] is None
    assert events[0]["ip"] == "203.0.113.4"
    assert "arthur" not in caplog.text.lower()
    assert PASSWORD not in caplog.text


async def test_security_13_failed_logins_per_ip(
    session_maker: async_sessionmaker[AsyncSession],
    make_limiter: MakeLimiter,
    authentications: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("lancelot@camelot.bt")
    async with client(dk) as http:
        # Credential stuffing: one wrong guess per account, known or not, from one IP.
        for index in range(5):
            response = await login(http, f"knight{index}@camelot.bt", WRONG)
            assert response.status_code == 400
        assert_429(await login(http, "lancelot@camelot.bt", PASSWORD))
        assert_429(await login(http, "knight9@camelot.bt", WRONG))
    assert len(authentications) == 5
    assert [event["scope"] for event in lockouts(caplog)] == ["ip", "ip"]
    async with client(dk, "203.0.113.50") as http:
        assert (await login(http, "lancelot@camelot.bt", PASSWORD)).status_code == 200


async def test_security_13_success_clears_the_account_counter_not_the_ip_one(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("gawain@camelot.bt")
    async with client(dk) as http:
        for _ in range(2):
            assert (await login(http, "gawain@camelot.bt", WRONG)).status_code == 400
        assert (await login(http, "gawain@camelot.bt")).status_code == 200
        # The account counter starts again from zero...
        for _ in range(2):
            assert (await login(http, "gawain@camelot.bt", WRONG)).status_code == 400
        # ...but the IP has 4 failures: one more reaches its limit of 5.
        assert (await login(http, "gawain@camelot.bt", WRONG)).status_code == 400
        assert_429(await login(http, "gawain@camelot.bt"))


async def test_security_13_concurrent_guesses_cannot_overshoot_the_account_limit(
    session_maker: async_sessionmaker[AsyncSession],
    make_limiter: MakeLimiter,
    authentications: list[str],
) -> None:
    dk = limited_app(session_maker, make_limiter(replace(LIMITS, login_per_ip="100/minute")))
    await dk.create_user("mordred@camelot.bt")
    async with client(dk) as http:
        responses = await asyncio.gather(
            *(login(http, "mordred@camelot.bt", f"{WRONG}-{i}") for i in range(8))
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [400] * 3 + [429] * 5
    assert len(authentications) == 3


# --- SECURITY 14: the owner cannot be locked out ------------------------------------------


async def test_security_14_forgot_reset_login_works_during_a_lockout(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("guinevere@camelot.bt")
    async with client(dk, "203.0.113.66") as attacker:
        for _ in range(3):
            assert (await login(attacker, "guinevere@camelot.bt", WRONG)).status_code == 400
    async with client(dk) as owner:
        assert_429(await login(owner, "guinevere@camelot.bt", PASSWORD))
        response = await owner.post("/auth/forgot-password", json={"email": "guinevere@camelot.bt"})
        assert response.status_code == 202
        token = dk.mailbox.last_reset_token("guinevere@camelot.bt")
        response = await owner.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert response.status_code == 200
        assert (await login(owner, "GUINEVERE@camelot.bt", NEW_PASSWORD)).status_code == 200
        # The reset cleared the counter: a typo is an ordinary failure again.
        assert (await login(owner, "guinevere@camelot.bt", WRONG)).status_code == 400


# --- SECURITY 15: where counters live, whose address counts -------------------------------


@pytest.mark.parametrize("db_kind", ["postgresql"])
async def test_security_15_a_second_app_instance_sees_the_first_ones_counters(
    database_url: str,
    session_maker: async_sessionmaker[AsyncSession],
    redis: Any,
) -> None:
    """Two app objects, each with its own engine and limiter, on one database and one
    Redis: a lock made through the first holds on the second."""
    prefix = redis.test_prefix.rstrip(":")
    first_limiter = RateLimiter(LIMITS, redis_url=REDIS_URL, key_prefix=prefix, secret="s" * 32)
    second_limiter = RateLimiter(LIMITS, redis_url=REDIS_URL, key_prefix=prefix, secret="s" * 32)
    second_engine = create_async_engine(database_url)
    try:
        first = limited_app(session_maker, first_limiter)
        second = limited_app(
            async_sessionmaker(second_engine, expire_on_commit=False), second_limiter
        )
        assert isinstance(first_limiter.storage, RedisStorage)
        await first.create_user("percival@camelot.bt")
        async with client(first) as http:
            for _ in range(3):
                assert (await login(http, "percival@camelot.bt", WRONG)).status_code == 400
        async with client(second, "203.0.113.80") as http:
            assert_429(await login(http, "percival@camelot.bt", PASSWORD))
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        assert keys
        assert not [key for key in keys if "percival" in key or CLIENT in key]
    finally:
        await first_limiter.aclose()
        await second_limiter.aclose()
        await second_engine.dispose()


async def test_security_15_counters_are_in_memory_without_redis(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    limiter = RateLimiter(LIMITS)
    assert isinstance(limiter.storage, MemoryStorage)
    first = limited_app(session_maker, limiter)
    await first.create_user("bors@camelot.bt")
    async with client(first) as http:
        for _ in range(3):
            await login(http, "bors@camelot.bt", WRONG)
        assert_429(await login(http, "bors@camelot.bt"))
    # Another process has its own memory: its counters start empty.
    other = limited_app(session_maker, RateLimiter(LIMITS))
    async with client(other) as http:
        assert (await login(http, "bors@camelot.bt")).status_code == 200
    await limiter.aclose()


async def test_security_15_x_forwarded_for_is_honoured_from_a_trusted_proxy(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter(trusted_proxies=["10.0.0.0/8"]))
    await dk.create_user("tristan@camelot.bt")
    behind_proxy = {"X-Forwarded-For": "203.0.113.9, 10.0.0.2"}
    async with client(dk, PROXY) as proxy:
        for index in range(5):
            response = await login(proxy, f"k{index}@camelot.bt", WRONG, headers=behind_proxy)
            assert response.status_code == 400
        assert_429(await login(proxy, "tristan@camelot.bt", headers=behind_proxy))
        # Another client behind the same proxy is another address.
        other = {"X-Forwarded-For": "203.0.113.10"}
        assert (await login(proxy, "tristan@camelot.bt", headers=other)).status_code == 200


async def test_security_15_a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter(trusted_proxies=["10.0.0.0/8"]))
    await dk.create_user("kay@camelot.bt")
    async with client(dk) as http:
        # The attacker makes up a new address for every attempt: it does not count.
        for index in range(5):
            forged = {"X-Forwarded-For": f"192.0.2.{index}"}
            response = await login(http, f"k{index}@camelot.bt", WRONG, headers=forged)
            assert response.status_code == 400
        forged = {"X-Forwarded-For": "192.0.2.200"}
        assert_429(await login(http, "kay@camelot.bt", headers=forged))
    # Without trusted proxies the header is never read, even from a proxy's address.
    plain = limited_app(session_maker, make_limiter())
    async with client(plain, PROXY) as proxy:
        for index in range(5):
            forged = {"X-Forwarded-For": f"192.0.2.{index}"}
            await login(proxy, f"k{index}@camelot.bt", WRONG, headers=forged)
        assert_429(await login(proxy, "kay@camelot.bt"))


# --- SECURITY 16: every credential path ----------------------------------------------------


async def test_security_16_verify_tokens_are_limited_per_ip(
    session_maker: async_sessionmaker[AsyncSession],
    make_limiter: MakeLimiter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeeper.audit")
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("galahad@camelot.bt")
    async with client(dk) as http:
        await http.post("/auth/request-verify-token", json={"email": "galahad@camelot.bt"})
        token = dk.mailbox.last_verify_token("galahad@camelot.bt")
        for index in range(3):
            response = await http.post("/auth/verify", json={"token": f"guess-{index}"})
            assert response.json() == {"detail": ErrorCode.VERIFY_USER_BAD_TOKEN}
        assert_429(await http.post("/auth/verify", json={"token": token}))
        # Bad verify and reset tokens share the counter.
        response = await http.post(
            "/auth/reset-password", json={"token": "guess", "password": NEW_PASSWORD}
        )
        assert_429(response)
    assert [(e["scope"], e["route"]) for e in lockouts(caplog)] == [
        ("ip", "verify"),
        ("ip", "reset-password"),
    ]
    async with client(dk, "203.0.113.20") as http:
        response = await http.post("/auth/verify", json={"token": token})
        assert response.status_code == 200
        # A valid token counts nothing, even when refused for another reason.
        for _ in range(4):
            response = await http.post("/auth/verify", json={"token": token})
            assert response.json() == {"detail": ErrorCode.VERIFY_USER_ALREADY_VERIFIED}


async def test_security_16_reset_tokens_are_limited_per_ip(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("bedivere@camelot.bt")
    async with client(dk) as http:
        await http.post("/auth/forgot-password", json={"email": "bedivere@camelot.bt"})
        token = dk.mailbox.last_reset_token("bedivere@camelot.bt")
        # A weak password with a valid token is no guess: it does not count.
        weak = await http.post("/auth/reset-password", json={"token": token, "password": "x"})
        assert weak.json()["detail"]["code"] == ErrorCode.RESET_PASSWORD_INVALID_PASSWORD
        for index in range(3):
            response = await http.post(
                "/auth/reset-password", json={"token": f"guess-{index}", "password": NEW_PASSWORD}
            )
            assert response.json() == {"detail": ErrorCode.RESET_PASSWORD_BAD_TOKEN}
        response = await http.post(
            "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert_429(response)
        assert_429(await http.post("/auth/verify", json={"token": "guess"}))


@pytest.mark.parametrize("path", ["/auth/forgot-password", "/auth/request-verify-token"])
async def test_security_16_mail_requests_are_limited_per_address_known_or_not(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter, path: str
) -> None:
    dk = limited_app(session_maker, make_limiter())
    await dk.create_user("known@camelot.bt")
    answers: dict[str, list[tuple[int, Any]]] = {}
    for email in ["known@camelot.bt", "unknown@camelot.bt"]:
        answers[email] = []
        # From a new address each time: the per-address limit alone applies.
        for index, spelling in enumerate([email, email.upper(), email]):
            async with client(dk, f"203.0.113.{index + 1}") as http:
                response = await http.post(path, json={"email": spelling})
            answers[email].append((response.status_code, response.json()))
            if response.status_code == 429:
                assert_429(response)
    # Known and unknown addresses get exactly the same answers (SECURITY 11).
    assert answers["known@camelot.bt"] == answers["unknown@camelot.bt"]
    assert [status for status, _ in answers["known@camelot.bt"]] == [202, 202, 429]
    sent = dk.mailbox.reset if path == "/auth/forgot-password" else dk.mailbox.verify
    assert len(sent) == 2, "a refused request mails nothing"


@pytest.mark.parametrize("path", ["/auth/forgot-password", "/auth/request-verify-token"])
async def test_security_16_mail_requests_are_limited_per_ip(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter, path: str
) -> None:
    dk = limited_app(session_maker, make_limiter())
    async with client(dk) as http:
        for index in range(4):
            response = await http.post(path, json={"email": f"a{index}@camelot.bt"})
            assert response.status_code == 202
        assert_429(await http.post(path, json={"email": "fresh@camelot.bt"}))
    async with client(dk, "203.0.113.30") as http:
        assert (await http.post(path, json={"email": "fresh@camelot.bt"})).status_code == 202


async def test_security_16_forgot_and_request_verify_count_apart(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter())
    async with client(dk) as http:
        for _ in range(2):
            await http.post("/auth/forgot-password", json={"email": "x@camelot.bt"})
        assert_429(await http.post("/auth/forgot-password", json={"email": "x@camelot.bt"}))
        response = await http.post("/auth/request-verify-token", json={"email": "x@camelot.bt"})
        assert response.status_code == 202


# --- limits, failure and configuration -----------------------------------------------------


async def test_retry_after_counts_down_to_the_oldest_attempt_leaving_the_window(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    limits = replace(LIMITS, login_per_account="1/minute; 2/hour")
    dk = limited_app(session_maker, make_limiter(limits))
    async with client(dk) as http:
        assert (await login(http, "x@camelot.bt", WRONG)).status_code == 400
        assert 55 <= assert_429(await login(http, "x@camelot.bt", WRONG)) <= 60
    # Past the hourly limit too, `Retry-After` is the longest of the waits.
    limiter = make_limiter(replace(LIMITS, login_per_account="2/minute; 2/hour"))
    dk = limited_app(session_maker, limiter)
    async with client(dk) as http:
        for _ in range(2):
            assert (await login(http, "y@camelot.bt", WRONG)).status_code == 400
        assert assert_429(await login(http, "y@camelot.bt"), max_wait=3600) > 3500


async def test_a_limit_set_to_none_is_off_and_a_disabled_limiter_counts_nothing(
    session_maker: async_sessionmaker[AsyncSession], make_limiter: MakeLimiter
) -> None:
    dk = limited_app(session_maker, make_limiter(replace(LIMITS, login_per_account=None)))
    async with client(dk, "203.0.113.1") as http:
        for _ in range(4):
            assert (await login(http, "x@camelot.bt", WRONG)).status_code == 400
    async with client(dk, "203.0.113.2") as http:
        assert (await login(http, "x@camelot.bt", WRONG)).status_code == 400

    disabled = limited_app(session_maker, make_limiter(enabled=False))
    async with client(disabled) as http:
        for _ in range(8):
            assert (await login(http, "y@camelot.bt", WRONG)).status_code == 400
            response = await http.post("/auth/forgot-password", json={"email": "y@camelot.bt"})
            assert response.status_code == 202
            assert (await http.post("/auth/verify", json={"token": "t"})).status_code == 400


async def test_without_a_limiter_nothing_is_limited(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = limited_app(session_maker, None)
    async with client(dk) as http:
        for _ in range(12):
            assert (await login(http, "x@camelot.bt", WRONG)).status_code == 400
    login_doc = dk.app.openapi()["paths"]["/auth/jwt/login"]["post"]["responses"]
    assert "429" not in login_doc


async def test_limited_routes_document_429(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    dk = limited_app(session_maker, RateLimiter(LIMITS))
    paths = dk.app.openapi()["paths"]
    for path in [
        "/auth/jwt/login",
        "/auth/cookie/login",
        "/auth/forgot-password",
        "/auth/reset-password",
        "/auth/request-verify-token",
        "/auth/verify",
    ]:
        responses = paths[path]["post"]["responses"]
        assert "Retry-After" in responses["429"]["headers"], path
        assert "503" in responses, path
    assert ErrorCode.RATE_LIMITED == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/jwt/login", None),
        ("/auth/forgot-password", {"email": "x@camelot.bt"}),
        ("/auth/request-verify-token", {"email": "x@camelot.bt"}),
        ("/auth/verify", {"token": "t"}),
        ("/auth/reset-password", {"token": "t", "password": NEW_PASSWORD}),
    ],
)
async def test_redis_unreachable_fails_closed_with_503(
    session_maker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    authentications: list[str],
    path: str,
    body: dict[str, str] | None,
) -> None:
    caplog.set_level(logging.WARNING, logger="doorkeeper.ratelimit")
    limiter = RateLimiter(LIMITS, redis_url="redis://127.0.0.1:1/0", redis_timeout=1.0)
    dk = limited_app(session_maker, limiter)
    async with client(dk) as http:
        if body is None:
            response = await login(http, "x@camelot.bt")
        else:
            response = await http.post(path, json=body)
    assert response.status_code == 503
    assert response.json() == {"detail": "SERVICE_UNAVAILABLE"}
    assert authentications == []
    assert dk.mailbox.reset == dk.mailbox.verify == []
    records = [r for r in caplog.records if r.name == "doorkeeper.ratelimit"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "fail closed" in records[0].getMessage()
    assert "x@camelot.bt" not in caplog.text
    await limiter.aclose()
