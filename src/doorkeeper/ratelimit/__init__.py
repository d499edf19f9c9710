"""Brute-force protection (SECURITY 13-16) with the `limits` package.

`RateLimiter` counts attempts on every credential path, per account and per client IP,
in Redis when configured (shared by every app instance) or in memory, and refuses them
with 429 and `Retry-After` past the limits of `RateLimits`. Pass it to `FastAPIUsers`
(or to the `get_*_router` functions) as `rate_limiter=`; see docs/rate-limits.md.
"""

from doorkeeper.ratelimit.config import RateLimits
from doorkeeper.ratelimit.limiter import DEFAULT_KEY_PREFIX, EmailRoute, RateLimiter
from doorkeeper.ratelimit.responses import (
    RATE_LIMITED,
    RATE_LIMITED_RESPONSES,
    rate_limit_responses,
    too_many_requests,
)

__all__ = [
    "DEFAULT_KEY_PREFIX",
    "RATE_LIMITED",
    "RATE_LIMITED_RESPONSES",
    "EmailRoute",
    "RateLimiter",
    "RateLimits",
    "rate_limit_responses",
    "too_many_requests",
]
