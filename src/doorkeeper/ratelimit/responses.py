"""The answers of the brute-force protection: 429 with `Retry-After`, 503 when the
counters cannot be reached."""

from fastapi import HTTPException, status

from doorkeeper.authentication.errors import SERVICE_UNAVAILABLE
from doorkeeper.openapi import OpenAPIResponseType

__all__ = ["RATE_LIMITED", "RATE_LIMITED_RESPONSES", "rate_limit_responses", "too_many_requests"]

RATE_LIMITED = "RATE_LIMITED"
"""The `detail` of a 429 (also `ErrorCode.RATE_LIMITED`)."""

RATE_LIMITED_RESPONSES: OpenAPIResponseType = {
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "description": "Too many attempts; retry after `Retry-After` seconds.",
        "headers": {
            "Retry-After": {
                "description": "Seconds until an attempt is allowed again.",
                "schema": {"type": "integer"},
            }
        },
        "content": {"application/json": {"example": {"detail": RATE_LIMITED}}},
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "description": "The rate-limit storage (or the database) is unreachable.",
        "content": {"application/json": {"example": {"detail": SERVICE_UNAVAILABLE}}},
    },
}
"""The OpenAPI documentation of the answers a limited route adds."""


def too_many_requests(retry_after: int) -> HTTPException:
    """The 429 to raise: a fixed code, and `Retry-After` in whole seconds."""
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=RATE_LIMITED,
        headers={"Retry-After": str(retry_after)},
    )


def rate_limit_responses(rate_limiter: object | None) -> OpenAPIResponseType:
    """`RATE_LIMITED_RESPONSES` for a route guarded by `rate_limiter`, else nothing."""
    return RATE_LIMITED_RESPONSES if rate_limiter is not None else {}
