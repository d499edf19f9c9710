"""`RateLimiter`: the brute-force protection of every credential path (SECURITY 13-16).

Counters use the moving-window strategy of `limits`: an attempt counts for exactly the
window's length after it was made, so there is no window boundary at which an attacker
gets twice the allowance, and a lock lifts one attempt at a time as old attempts age
out. `Retry-After` is the time until the oldest counted attempt leaves the window.
"""

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException
from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from doorkeeper.audit import BLOCKED, record_event
from doorkeeper.authentication.errors import service_unavailable
from doorkeeper.client_ip import client_ip, parse_trusted_proxies
from doorkeeper.ratelimit.config import RateLimits
from doorkeeper.ratelimit.keys import KeyHasher
from doorkeeper.ratelimit.responses import too_many_requests
from doorkeeper.ratelimit.storage import close_storage, make_storage

__all__ = ["DEFAULT_KEY_PREFIX", "EmailRoute", "RateLimiter"]

logger = logging.getLogger("doorkeeper.ratelimit")

DEFAULT_KEY_PREFIX = "doorkeeper:ratelimit"
EmailRoute = Literal["forgot-password", "request-verify-token"]
"""The routes that send a mail to an address given in the request."""


@dataclass(frozen=True)
class _Counter:
    """One kind of counter: its name in the storage's keys, what it counts by (for the
    audit event), and its limits (none when turned off)."""

    name: str
    scope: Literal["account", "ip"]
    items: tuple[RateLimitItem, ...]


class RateLimiter:
    """Counts attempts on the credential paths and refuses them past the limits.

    :param limits: the limits (see `RateLimits`).
    :param redis_url: keep the counters in this Redis, shared by every app instance
        using it with the same `key_prefix` (and `secret`); `None`: in this process's
        memory.
    :param storage: a `limits.aio.storage.Storage` of your own (overrides `redis_url`).
    :param key_prefix: the namespace of the Redis keys.
    :param trusted_proxies: addresses or CIDR blocks of the reverse proxies whose
        `X-Forwarded-For` header names the client; from any other peer the header is
        ignored.
    :param enabled: `False` turns every limit off (nothing is counted or stored).
    :param secret: a key for hashing the identifiers (HMAC-SHA256); without one they
        are hashed with plain SHA-256. Either way no address appears in the keys.
    :param redis_timeout: seconds allowed for connecting to Redis and for each command.

    When the storage fails (Redis unreachable) the credential paths fail closed: 503
    `SERVICE_UNAVAILABLE`, and a warning on the `doorkeeper.ratelimit` logger.
    """

    def __init__(
        self,
        limits: RateLimits = RateLimits(),  # frozen: safe to share
        *,
        redis_url: str | None = None,
        storage: Storage | None = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        trusted_proxies: Sequence[str] = (),
        enabled: bool = True,
        secret: str | bytes | None = None,
        redis_timeout: float = 2.0,
    ) -> None:
        self.limits = limits
        self.enabled = enabled
        self.trusted_proxies = parse_trusted_proxies(trusted_proxies)
        self.storage = (
            storage if storage is not None else make_storage(redis_url, key_prefix, redis_timeout)
        )
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._hash = KeyHasher(secret)

        def counter(field: str, scope: Literal["account", "ip"]) -> _Counter:
            items = limits.items(field) if enabled else ()
            return _Counter(field.replace("_", "-"), scope, items)

        self._login_account = counter("login_per_account", "account")
        self._login_ip = counter("login_per_ip", "ip")
        self._token_ip = counter("token_per_ip", "ip")
        self._email_counters: dict[str, tuple[_Counter, _Counter]] = {
            "forgot-password": (
                counter("forgot_password_per_ip", "ip"),
                counter("forgot_password_per_address", "account"),
            ),
            "request-verify-token": (
                counter("request_verify_per_ip", "ip"),
                counter("request_verify_per_address", "account"),
            ),
        }

    # --- the flows ---------------------------------------------------------------------

    async def check_login(
        self, request: HTTPConnection, username: str, user_manager: Any, route: str = "login"
    ) -> None:
        """Before a password is checked: 429 if the client's IP or the account has too
        many failed logins, whatever the password. Counts this attempt against the
        account at once (so concurrent guesses cannot overshoot); `login_succeeded`
        clears it again."""
        await self._guard(request, user_manager, route, self._login_ip, self._ip(request))
        account = self._hash.account(username)
        await self._guard(request, user_manager, route, self._login_account, account, hit=True)

    async def login_failed(self, request: HTTPConnection) -> None:
        """After a failed login: count it against the client's IP."""
        await self._hit(self._login_ip, self._ip(request))

    async def login_succeeded(self, username: str) -> None:
        """After a successful login: clear the account's counter (not the IP's)."""
        await self._clear(self._login_account, self._hash.account(username))

    async def password_was_reset(self, email: str) -> None:
        """After a successful password reset: the owner may log in again at once
        (SECURITY 14)."""
        await self._clear(self._login_account, self._hash.account(email))

    async def check_token(self, request: HTTPConnection, user_manager: Any, route: str) -> None:
        """Before a verify or reset token is checked: 429 if the client's IP sent too
        many bad tokens."""
        await self._guard(request, user_manager, route, self._token_ip, self._ip(request))

    async def token_failed(self, request: HTTPConnection) -> None:
        """After a bad verify or reset token: count it against the client's IP."""
        await self._hit(self._token_ip, self._ip(request))

    async def check_email_request(
        self, request: HTTPConnection, email: str, user_manager: Any, route: EmailRoute
    ) -> None:
        """Count a request that mails `email` (forgot-password, request-verify-token)
        per client IP and per address; 429 past either limit.

        The address is counted whether or not an account has it, so the answer tells
        nothing about which addresses are registered (SECURITY 11).
        """
        per_ip, per_address = self._email_counters[route]
        await self._guard(request, user_manager, route, per_ip, self._ip(request), hit=True)
        address = self._hash.account(email)
        await self._guard(request, user_manager, route, per_address, address, hit=True)

    async def aclose(self) -> None:
        """Close the Redis connection pool (call it at shutdown)."""
        await close_storage(self.storage)

    # --- counters ----------------------------------------------------------------------

    def _ip(self, request: HTTPConnection) -> str:
        return self._hash.ip(client_ip(request, self.trusted_proxies))

    async def _guard(
        self,
        request: HTTPConnection,
        user_manager: Any,
        route: str,
        counter: _Counter,
        identifier: str,
        *,
        hit: bool = False,
    ) -> None:
        """Raise 429 (and record a `lockout` audit event) if `counter` is exhausted for
        `identifier`; with `hit`, count this attempt in the same step."""
        if hit:
            retry_after = await self._hit(counter, identifier)
        else:
            retry_after = await self._test(counter, identifier)
        if retry_after is None:
            return
        await record_event(
            user_manager,
            "lockout",
            outcome=BLOCKED,
            request=request,
            user_id=None,
            scope=counter.scope,
            route=route,
        )
        raise too_many_requests(retry_after)

    async def _test(self, counter: _Counter, identifier: str) -> int | None:
        """`Retry-After` if one more attempt would exceed a limit, else `None`."""
        try:
            blocked = await self._blocked(counter, identifier)
            return await self._retry_after(counter, identifier, blocked)
        except Exception as exc:
            raise self._unavailable(counter, exc) from None

    async def _hit(self, counter: _Counter, identifier: str) -> int | None:
        """Count one attempt; `Retry-After` if a limit refused it, else `None`.

        Each hit checks and counts in one atomic step. With several limits in one
        setting ("5/minute; 20/hour"), an attempt one of them refuses must not count
        against the others, so they are all tested first.
        """
        try:
            blocked = await self._blocked(counter, identifier) if len(counter.items) > 1 else []
            if not blocked:
                blocked = [
                    item
                    for item in counter.items
                    if not await self._strategy.hit(item, counter.name, identifier)
                ]
            return await self._retry_after(counter, identifier, blocked)
        except Exception as exc:
            raise self._unavailable(counter, exc) from None

    async def _blocked(self, counter: _Counter, identifier: str) -> list[RateLimitItem]:
        """The limits of `counter` that one more attempt would exceed."""
        return [
            item
            for item in counter.items
            if not await self._strategy.test(item, counter.name, identifier)
        ]

    async def _clear(self, counter: _Counter, identifier: str) -> None:
        try:
            for item in counter.items:
                await self._strategy.clear(item, counter.name, identifier)
        except Exception as exc:
            raise self._unavailable(counter, exc) from None

    async def _retry_after(
        self, counter: _Counter, identifier: str, blocked: list[RateLimitItem]
    ) -> int | None:
        """Whole seconds until every limit in `blocked` allows an attempt again."""
        if not blocked:
            return None
        now = time.time()
        wait = 1
        for item in blocked:
            stats = await self._strategy.get_window_stats(item, counter.name, identifier)
            wait = max(wait, math.ceil(stats.reset_time - now))
        return wait

    def _unavailable(self, counter: _Counter, exc: Exception) -> HTTPException:
        logger.warning(
            "rate limit storage unavailable (%s) for the %s counter: "
            "credential request refused with 503 (fail closed)",
            type(exc).__name__,
            counter.name,
        )
        return service_unavailable()
