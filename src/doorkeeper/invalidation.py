"""A process-wide signal: "what authenticates this user has changed".

Writers (the user database adapter, the session service, logout) announce the user id
after their change is committed; caches of authentication answers (`AuthCache`)
listen and forget that user. This module sits on the lowest floor and imports nothing
of Doorkeeper, so every floor may announce a change.
"""

import logging
import weakref
from typing import Any, Protocol

logger = logging.getLogger("doorkeeper.authentication")


class UserChangeListener(Protocol):
    async def user_changed(self, user_id: str) -> None: ...


_listeners: "weakref.WeakSet[Any]" = weakref.WeakSet()


def add_listener(listener: UserChangeListener) -> None:
    """Hear about every change from now on (held weakly: a dropped listener leaves)."""
    _listeners.add(listener)


def remove_listener(listener: UserChangeListener) -> None:
    _listeners.discard(listener)


def has_listeners() -> bool:
    return len(_listeners) > 0


async def user_changed(user_id: Any) -> None:
    """Announce a committed change of the user's account, tokens or sessions.

    Costs nothing when no cache listens. A listener that fails is logged and skipped:
    the change itself is already written.
    """
    if not _listeners:
        return
    key = str(user_id)
    for listener in list(_listeners):
        try:
            await listener.user_changed(key)
        except Exception:
            logger.exception("A listener failed to hear about a change of a user")
