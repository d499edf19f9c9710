"""Audit events (SECURITY 45): one structured record per authentication event.

Each event goes to the `doorkeeper.audit` logger (INFO, a JSON message plus the
record's `audit` attribute) and to the user manager's `on_event` hook. An event holds
the event type, the outcome, the UTC time, the user id, the client IP and a few
details; never a password, a token, a hash or a secret.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from starlette.requests import HTTPConnection

from doorkeeper.client_ip import client_ip

audit_logger = logging.getLogger("doorkeeper.audit")
_hook_logger = logging.getLogger("doorkeeper")

SUCCESS = "success"
FAILURE = "failure"
BLOCKED = "blocked"

_SECRET_WORDS = ("password", "token", "secret", "hash", "code")


@dataclass(frozen=True)
class AuditEvent:
    """One authentication event.

    :param type: what happened: `register`, `login`, `logout`, `lockout`, `refresh`,
        `refresh_reuse`, `session_revoked`, `password_change`, `email_change`,
        `forgot_password`, `reset_password`, `request_verify`, `verify`, `oauth_link`,
        `delete`, ...
    :param outcome: `success`, `failure` or `blocked`.
    :param user_id: the user concerned, when known.
    :param ip: the client's address, when the event comes from a request.
    :param time: when it happened (UTC).
    :param details: a few non-secret facts (a reason code, a session id, a backend name).
    """

    type: str
    outcome: str
    user_id: str | None
    ip: str | None
    time: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.type,
            "outcome": self.outcome,
            "user_id": self.user_id,
            "ip": self.ip,
            "time": self.time.isoformat(),
            **{key: value for key, value in self.details.items() if key not in _RESERVED},
        }


_RESERVED = frozenset({"event", "outcome", "user_id", "ip", "time"})


def _safe_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Drop anything whose name suggests a secret, and anything that is not a scalar."""
    safe: dict[str, Any] = {}
    for key, value in details.items():
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith("_id"):
            continue
        if value is None or isinstance(value, str | int | float | bool):
            safe[key] = value
    return safe


def build_event(
    type: str,
    *,
    outcome: str = SUCCESS,
    user: Any = None,
    user_id: Any = None,
    request: HTTPConnection | None = None,
    trusted_proxies: tuple[str, ...] = (),
    **details: Any,
) -> AuditEvent:
    """An event for `user` (or `user_id`) and `request`."""
    if user_id is None and user is not None:
        user_id = getattr(user, "id", None)
    return AuditEvent(
        type=type,
        outcome=outcome,
        user_id=None if user_id is None else str(user_id),
        ip=client_ip(request, trusted_proxies) if request is not None else None,
        time=datetime.now(timezone.utc),
        details=_safe_details(details),
    )


async def record_event(
    user_manager: Any,
    type: str,
    *,
    outcome: str = SUCCESS,
    user: Any = None,
    user_id: Any = None,
    request: HTTPConnection | None = None,
    **details: Any,
) -> AuditEvent:
    """Build, log and hand to `user_manager.on_event` one event.

    The client IP honours the manager's `trusted_proxies`. A failing hook is logged and
    never breaks the request that caused the event.
    """
    event = build_event(
        type,
        outcome=outcome,
        user=user,
        user_id=user_id,
        request=request,
        trusted_proxies=tuple(getattr(user_manager, "trusted_proxies", ()) or ()),
        **details,
    )
    audit_logger.info(json.dumps(event.to_dict(), sort_keys=True), extra={"audit": event})
    hook = getattr(user_manager, "on_event", None)
    if hook is not None:
        try:
            await hook(event, request)
        except Exception:
            _hook_logger.exception("The on_event hook failed for a %r event", type)
    return event
