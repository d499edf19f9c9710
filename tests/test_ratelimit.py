"""The pieces of `doorkeeper.ratelimit` that HTTP tests do not reach easily: settings
validation, identifiers, storage choice, and a storage failing on one operation."""

import logging
from typing import Any

import pytest
from fastapi import HTTPException
from limits.aio.storage import MemoryStorage, RedisStorage
from starlette.requests import Request

from doorkeeper.ratelimit import RATE_LIMITED, RateLimiter, RateLimits, too_many_requests
from doorkeeper.ratelimit.keys import KeyHasher
from doorkeeper.ratelimit.storage import make_storage
from doorkeeper.router import ErrorCode


def test_defaults_follow_security_13() -> None:
    limits = RateLimits()
    assert limits.login_per_account == "10/15 minutes"
    assert limits.login_per_ip == "100/15 minutes"
    (item,) = limits.items("login_per_account")
    assert (item.amount, item.get_expiry()) == (10, 900)


def test_a_limit_that_does_not_parse_names_its_field() -> None:
    with pytest.raises(ValueError, match=r"RateLimits.token_per_ip: 'often' is not a rate"):
        RateLimits(token_per_ip="often")


def test_a_bad_trusted_proxy_is_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(trusted_proxies=["not-an-address"])


def test_identifiers_are_hashed_and_normalized() -> None:
    plain, keyed = KeyHasher(), KeyHasher("a-secret")
    account = plain.account("Arthur@Camelot.BT ")
    assert account == plain.account("arthur@camelot.bt")
    assert "arthur" not in account
    assert len(account) == 64
    assert keyed.account("arthur@camelot.bt") != account
    assert keyed.account("arthur@camelot.bt") == KeyHasher(b"a-secret").account("arthur@camelot.bt")
    assert plain.account("not an address") == plain.account(" NOT AN ADDRESS")
    assert plain.ip(None) == plain.ip("unknown") != plain.ip("192.0.2.1")


def test_storage_is_memory_without_redis_and_redis_with_it() -> None:
    assert isinstance(make_storage(None, "p", 1.0), MemoryStorage)
    tcp = make_storage("redis://127.0.0.1:6379/0", "p", 1.0)
    assert isinstance(tcp, RedisStorage)
    assert tcp.target_server == "redis"
    unix = make_storage("unix:///run/redis.sock?db=0", "p", 1.0)
    assert isinstance(unix, RedisStorage)
    assert unix.target_server == "redis"  # not read as a Valkey URL


def test_the_429_carries_the_stable_code() -> None:
    exc = too_many_requests(42)
    assert (exc.status_code, exc.detail) == (429, RATE_LIMITED)
    assert exc.headers == {"Retry-After": "42"}
    assert ErrorCode.RATE_LIMITED.value == RATE_LIMITED


class ClearFails(MemoryStorage):
    async def clear(self, key: str) -> None:
        raise ConnectionError("storage went away")


async def test_a_failing_clear_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="doorkeeper.ratelimit")
    limiter = RateLimiter(storage=ClearFails())
    with pytest.raises(HTTPException) as raised:
        await limiter.login_succeeded("arthur@camelot.bt")
    assert raised.value.status_code == 503
    assert raised.value.detail == "SERVICE_UNAVAILABLE"
    assert "ConnectionError" in caplog.text
    assert "login-per-account" in caplog.text
    assert "arthur" not in caplog.text
    await limiter.aclose()  # a memory storage has nothing to close


async def test_a_request_without_a_client_address_is_counted_as_unknown() -> None:
    limiter = RateLimiter(RateLimits(token_per_ip="1/minute"))
    scope: dict[str, Any] = {"type": "http", "headers": [], "client": None}
    request = Request(scope)
    await limiter.check_token(request, None, "verify")
    await limiter.token_failed(request)
    with pytest.raises(HTTPException) as raised:
        await limiter.check_token(request, None, "verify")
    assert raised.value.status_code == 429
