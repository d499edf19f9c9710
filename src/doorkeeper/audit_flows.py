"""The audit events of the user manager's flows (SECURITY 45).

`audited(type)` wraps a flow method of the manager so that each call records one event
through `doorkeeper.audit.record_event`: `success` when the method returns, `failure`
with a `reason` when it raises one of Doorkeeper's exceptions. `audited_update` does the
same for `update`, which may be several auth events at once (a password change, an
e-mail change, a deactivation). A failure recorded by an inner flow is not recorded
again by the flow that called it.
"""

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from doorkeeper import exceptions
from doorkeeper.audit import FAILURE, record_event
from doorkeeper.normalization import normalize_email

__all__ = ["audited", "audited_update", "failure_reason", "record_failure"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (exceptions.UserAlreadyExists, "already_exists"),
    (exceptions.UserNotExists, "unknown_user"),
    (exceptions.UserInactive, "inactive"),
    (exceptions.UserAlreadyVerified, "already_verified"),
    (exceptions.InvalidVerifyToken, "invalid_token"),
    (exceptions.InvalidResetPasswordToken, "invalid_token"),
    (exceptions.InvalidEmailChangeToken, "invalid_token"),
    (exceptions.InvalidID, "invalid_id"),
)
_PASSWORD_REASONS = {
    "CURRENT_PASSWORD_REQUIRED": "current_password_required",
    "CURRENT_PASSWORD_INVALID": "current_password_invalid",
}
_RECORDED = "_doorkeeper_audit_recorded"


def failure_reason(error: Exception) -> str:
    """A short, non-secret code for why a flow failed."""
    if isinstance(error, exceptions.InvalidPasswordException):
        return _PASSWORD_REASONS.get(str(error.reason), "invalid_password")
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "error"


async def record_failure(
    manager: Any,
    type: str,
    error: Exception,
    *,
    user_id: Any = None,
    request: Any = None,
    **details: Any,
) -> None:
    """Record `error` as the failure of a `type` event, once: an outer flow that sees
    the same exception records nothing more."""
    if getattr(error, _RECORDED, False):
        return
    setattr(error, _RECORDED, True)
    await record_event(
        manager,
        type,
        outcome=FAILURE,
        user_id=user_id,
        request=request,
        reason=failure_reason(error),
        **details,
    )


def audited(
    type: str, *, user_arg: str | None = None
) -> Callable[
    [Callable[Concatenate[S, P], Awaitable[R]]], Callable[Concatenate[S, P], Awaitable[R]]
]:
    """Record one `type` event per call of the decorated flow method.

    The user is the argument named `user_arg` (read before the call, so that a deleted
    user still has its id), else the user the method returns. The client IP comes from
    its `request` argument.
    """

    def decorate(
        method: Callable[Concatenate[S, P], Awaitable[R]],
    ) -> Callable[Concatenate[S, P], Awaitable[R]]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            arguments = signature.bind(self, *args, **kwargs).arguments
            request = arguments.get("request")
            user_id = getattr(arguments.get(user_arg or ""), "id", None)
            try:
                result = await method(self, *args, **kwargs)
            except exceptions.FastAPIUsersException as error:
                await record_failure(self, type, error, user_id=user_id, request=request)
                raise
            if user_id is None:
                user_id = getattr(result, "id", None)
            await record_event(self, type, user_id=user_id, request=request)
            return result

        return wrapper

    return decorate


def _snapshot(user: Any) -> tuple[str, bool, str]:
    return normalize_email(user.email), bool(user.is_active), user.hashed_password


def audited_update(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Record the auth events of `update`: `password_change`, `email_change` and
    `deactivate`, each with `self_service` (the user changing their own account)."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        user, request = bound.arguments["user"], bound.arguments["request"]
        self_service = bool(bound.arguments["safe"])
        user_id = user.id
        email, active, password = _snapshot(user)
        try:
            result = await method(self, *args, **kwargs)
        except (exceptions.InvalidPasswordException, exceptions.UserAlreadyExists) as error:
            already = isinstance(error, exceptions.UserAlreadyExists)
            await record_failure(
                self,
                "email_change" if already else "password_change",
                error,
                user_id=user_id,
                request=request,
                self_service=self_service,
            )
            raise
        new_email, new_active, new_password = _snapshot(result)
        changes = [
            ("password_change", new_password != password),
            ("email_change", new_email != email),
            ("deactivate", active and not new_active),
        ]
        for event_type, happened in changes:
            if happened:
                await record_event(
                    self, event_type, user_id=user_id, request=request, self_service=self_service
                )
        return result

    return wrapper
