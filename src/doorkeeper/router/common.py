"""What every router shares: error models and codes, and the route class that turns a
storage outage into 503 and an unparsable body into 422."""

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from enum import Enum
from typing import Any

from fastapi import BackgroundTasks, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from doorkeeper.authentication import csrf
from doorkeeper.authentication.errors import (
    SERVICE_UNAVAILABLE,
    is_unavailable_error,
    schema_outdated_response_error,
)
from doorkeeper.openapi import OpenAPIResponseType as OpenAPIResponseType
from doorkeeper.rbac import errors as rbac_errors
from doorkeeper.router.body_limit import (
    DEFAULT_MAX_BODY_BYTES,
    BodyTooLarge,
    Receive,
    Scope,
    body_limit_for,
    declared_length,
    limit_receive,
    too_large_response,
)

logger = logging.getLogger("doorkeeper")


_BODY_PARSE_ERROR = "There was an error parsing the body"
"""The `detail` FastAPI gives (with a 400) to a body it cannot parse at all."""


class ErrorModel(BaseModel):
    detail: str | dict[str, str]


class ErrorCodeReasonModel(BaseModel):
    code: str
    reason: str


class ErrorCode(str, Enum):
    REGISTER_INVALID_PASSWORD = "REGISTER_INVALID_PASSWORD"  # noqa: S105
    REGISTER_USER_ALREADY_EXISTS = "REGISTER_USER_ALREADY_EXISTS"
    OAUTH_NOT_AVAILABLE_EMAIL = "OAUTH_NOT_AVAILABLE_EMAIL"
    OAUTH_USER_ALREADY_EXISTS = "OAUTH_USER_ALREADY_EXISTS"
    OAUTH_INVALID_STATE = "OAUTH_INVALID_STATE"
    LOGIN_BAD_CREDENTIALS = "LOGIN_BAD_CREDENTIALS"
    LOGIN_USER_NOT_VERIFIED = "LOGIN_USER_NOT_VERIFIED"
    RESET_PASSWORD_BAD_TOKEN = "RESET_PASSWORD_BAD_TOKEN"  # noqa: S105
    RESET_PASSWORD_INVALID_PASSWORD = "RESET_PASSWORD_INVALID_PASSWORD"  # noqa: S105
    VERIFY_USER_BAD_TOKEN = "VERIFY_USER_BAD_TOKEN"  # noqa: S105
    VERIFY_USER_ALREADY_VERIFIED = "VERIFY_USER_ALREADY_VERIFIED"
    UPDATE_USER_EMAIL_ALREADY_EXISTS = "UPDATE_USER_EMAIL_ALREADY_EXISTS"
    UPDATE_USER_INVALID_PASSWORD = "UPDATE_USER_INVALID_PASSWORD"  # noqa: S105
    ACCESS_TOKEN_ALREADY_EXPIRED = "ACCESS_TOKEN_ALREADY_EXPIRED"  # noqa: S105
    ACCESS_TOKEN_DECODE_ERROR = "ACCESS_TOKEN_DECODE_ERROR"  # noqa: S105
    EMAIL_CHANGE_BAD_TOKEN = "EMAIL_CHANGE_BAD_TOKEN"  # noqa: S105
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    REFRESH_TOKEN_INVALID = "REFRESH_TOKEN_INVALID"  # noqa: S105
    REFRESH_TOKEN_EXPIRED = "REFRESH_TOKEN_EXPIRED"  # noqa: S105
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"  # noqa: S105
    REFRESH_TOKEN_REVOKED = "REFRESH_TOKEN_REVOKED"  # noqa: S105
    RATE_LIMITED = "RATE_LIMITED"
    CSRF_ORIGIN_MISMATCH = csrf.CSRF_ORIGIN_MISMATCH
    CSRF_TOKEN_MISSING = csrf.CSRF_TOKEN_MISSING
    CSRF_TOKEN_INVALID = csrf.CSRF_TOKEN_INVALID
    FORBIDDEN_ROLE = rbac_errors.FORBIDDEN_ROLE
    INSUFFICIENT_PERMISSIONS = rbac_errors.INSUFFICIENT_PERMISSIONS
    USER_NOT_FOUND = "USER_NOT_FOUND"
    ROLE_NOT_FOUND = "ROLE_NOT_FOUND"
    ROLE_ALREADY_EXISTS = "ROLE_ALREADY_EXISTS"
    ROLE_STILL_GRANTED = "ROLE_STILL_GRANTED"
    OAUTH_AUTHORIZATION_ERROR = "OAUTH_AUTHORIZATION_ERROR"
    OAUTH_CODE_MISSING = "OAUTH_CODE_MISSING"
    OAUTH_STATE_ALREADY_USED = "OAUTH_STATE_ALREADY_USED"
    OAUTH_INVALID_REDIRECT = "OAUTH_INVALID_REDIRECT"
    OAUTH_PROVIDER_ERROR = "OAUTH_PROVIDER_ERROR"
    OAUTH_TOKEN_EXCHANGE_FAILED = "OAUTH_TOKEN_EXCHANGE_FAILED"  # noqa: S105
    OAUTH_ID_TOKEN_INVALID = "OAUTH_ID_TOKEN_INVALID"  # noqa: S105
    OAUTH_NONCE_MISMATCH = "OAUTH_NONCE_MISMATCH"
    OAUTH_INVALID_RESPONSE = "OAUTH_INVALID_RESPONSE"
    OAUTH_ACCOUNT_ALREADY_LINKED = "OAUTH_ACCOUNT_ALREADY_LINKED"
    OAUTH_ACCOUNT_NOT_FOUND = "OAUTH_ACCOUNT_NOT_FOUND"
    OAUTH_LAST_SIGN_IN_METHOD = "OAUTH_LAST_SIGN_IN_METHOD"
    OAUTH_EXCHANGE_CODE_INVALID = "OAUTH_EXCHANGE_CODE_INVALID"


def error(code: ErrorCode) -> HTTPException:
    """A 400 whose detail is the bare error code."""
    return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=code.value)


def error_with_reason(code: ErrorCode, reason: Any) -> HTTPException:
    """A 400 whose detail names the code and the reason (a refused password)."""
    return HTTPException(
        status_code=status.HTTP_400_BAD_REQUEST,
        detail={"code": code.value, "reason": reason},
    )


def too_long(field: str, max_length: int) -> RequestValidationError:
    """The 422 FastAPI would give for a string field over its length limit.

    The offending value is not echoed back (it is a password).
    """
    return RequestValidationError(
        [
            {
                "type": "string_too_long",
                "loc": ("body", field),
                "msg": f"String should have at most {max_length} characters",
                "ctx": {"max_length": max_length},
            }
        ]
    )


def example(summary: str, detail: Any) -> dict[str, Any]:
    """One OpenAPI example of an error body."""
    return {"summary": summary, "value": {"detail": detail}}


def bad_request_responses(examples: dict[str, dict[str, Any]]) -> OpenAPIResponseType:
    """The OpenAPI documentation of a route's 400 answers."""
    return {
        status.HTTP_400_BAD_REQUEST: {
            "model": ErrorModel,
            "content": {"application/json": {"examples": examples}},
        }
    }


_BACKGROUND_TASKS = "doorkeeper_background_tasks"


def share_background_tasks(request: Request, background_tasks: BackgroundTasks) -> None:
    """Let the hooks of this request's flows schedule work after the response (mail)."""
    setattr(request.state, _BACKGROUND_TASKS, background_tasks)


def background_tasks_of(request: Request | None) -> BackgroundTasks | None:
    """The tasks the route shared with `share_background_tasks`, if any."""
    tasks = getattr(request.state, _BACKGROUND_TASKS, None) if request is not None else None
    return tasks if isinstance(tasks, BackgroundTasks) else None


async def run_quietly(
    job: Callable[[], Awaitable[None]], what: str, user_manager: object = None
) -> None:
    """Run a background job; log, never raise, whatever goes wrong.

    The response has already been sent: an exception here could only end up in the
    server's error log as a stack trace, or reach a test client. Afterwards the database
    session of `user_manager` is closed (see `release_session`).
    """
    try:
        await job()
    except Exception as exc:
        if schema_outdated_response_error(exc) is not None:
            pass  # logged, with the command to run
        elif is_unavailable_error(exc):
            logger.warning("%s skipped: storage unavailable (%s)", what, type(exc).__name__)
        else:
            logger.error("%s failed (%s)", what, type(exc).__name__, exc_info=exc)
    finally:
        await release_session(user_manager, what)


async def release_session(user_manager: object, what: str) -> None:
    """Close the database session a background job used, if the manager's storage has one.

    A session dependency of scope "function" is closed before background tasks run; using
    it again opens a new connection that nothing would return to the pool. Closing is
    harmless otherwise: the session stays usable, and its dependency closes it again.
    """
    session = getattr(getattr(user_manager, "user_db", None), "session", None)
    close = getattr(session, "close", None)
    if close is None or not inspect.iscoroutinefunction(close):
        return
    try:
        await close()
    except Exception as exc:
        logger.warning("%s: closing the session failed (%s)", what, type(exc).__name__)


_SECRET_FIELDS = ("password", "token")


def _without_secrets(errors: Sequence[Any]) -> list[Any]:
    """Validation errors without the rejected value of a password or token field: a 422
    must not echo a secret back (into logs, proxies, error trackers)."""
    cleaned = []
    for item in errors:
        location = [str(part).lower() for part in item.get("loc", ())]
        if any(word in part for part in location for word in _SECRET_FIELDS):
            item = {key: value for key, value in item.items() if key not in ("input", "ctx")}
        cleaned.append(item)
    return cleaned


def _is_body_parse_error(exc: StarletteHTTPException) -> bool:
    """Whether FastAPI or Starlette refused the body as unparsable (with a 400)."""
    if exc.status_code != status.HTTP_400_BAD_REQUEST:
        return False
    return exc.detail == _BODY_PARSE_ERROR or isinstance(exc.__context__, MultiPartException)


class DoorkeeperRoute(APIRoute):
    """The route class of Doorkeeper's routers.

    * An error of the database or of Redis being unreachable (raised by a dependency,
      the authenticator included, or by the endpoint) becomes 503
      `{"detail": "SERVICE_UNAVAILABLE"}`: never a 500 or a stack trace.
    * A user table without Doorkeeper's columns (a FastAPI Users database not yet
      migrated) becomes 503 `{"detail": "DATABASE_SCHEMA_OUTDATED"}`, with an error
      logged that names `doorkeeper db upgrade`.
    * A body FastAPI cannot parse at all (a broken multipart form) becomes 422, like
      every other malformed body, instead of FastAPI's 400.
    * A body over `max_body_bytes` (64 KiB; `app.state.doorkeeper_max_body_bytes`
      overrides it) becomes 413 `REQUEST_BODY_TOO_LARGE` before it is parsed
      (SECURITY 43; `doorkeeper.router.body_limit`).
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    async def handle(self, scope: Scope, receive: Receive, send: Any) -> None:
        if scope.get("type") != "http":
            await super().handle(scope, receive, send)
            return
        limit = body_limit_for(scope, self.max_body_bytes)
        length = declared_length(scope)
        if length is not None and length > limit:
            await too_large_response()(scope, receive, send)
            return
        await super().handle(scope, limit_receive(receive, limit), send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except BodyTooLarge:
                return too_large_response()
            except RequestValidationError as exc:
                raise RequestValidationError(_without_secrets(exc.errors())) from None
            except StarletteHTTPException as exc:
                if isinstance(exc.__cause__, BodyTooLarge):
                    return too_large_response()
                if not _is_body_parse_error(exc):
                    raise
                raise RequestValidationError(
                    [{"type": "body_invalid", "loc": ("body",), "msg": _BODY_PARSE_ERROR}]
                ) from exc
            except Exception as exc:
                outdated = schema_outdated_response_error(exc)
                if outdated is not None:
                    return JSONResponse(
                        {"detail": outdated.detail}, status_code=outdated.status_code
                    )
                if not is_unavailable_error(exc):
                    raise
                logger.warning(
                    "%s %s: storage unavailable (%s)",
                    request.method,
                    request.url.path,
                    type(exc).__name__,
                )
                return JSONResponse(
                    {"detail": SERVICE_UNAVAILABLE},
                    status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                )

        return guarded_handler
