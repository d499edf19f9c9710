"""The single-use store protocol, and its in-memory implementation.

Keys are digests (`single_use_key`): a store never sees an OAuth state id or a
one-time code as such, so a leaked table or Redis dump gives nothing to replay.
"""

import base64
import hashlib
import time
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["KEY_MAX_LENGTH", "VALUE_MAX_LENGTH", "MemorySingleUseStore", "SingleUseStore"]

KEY_MAX_LENGTH = 64
VALUE_MAX_LENGTH = 1024


def single_use_key(purpose: str, raw: str) -> str:
    """The key under which `raw` (a state id, a one-time code) is stored for `purpose`:
    a SHA-256 digest, 43 characters."""
    digest = hashlib.sha256(f"{purpose}:{raw}".encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SingleUseStore(Protocol):
    """Where single-use keys live; shared by every instance of the app (SQL or Redis)."""

    async def claim(self, key: str, expires_at: datetime) -> bool:
        """Mark `key` used; `True` for the first caller, `False` for every later one
        (until `expires_at`, after which the key is forgotten)."""
        ...

    async def put(self, key: str, value: str, expires_at: datetime) -> None:
        """Keep `value` under `key` until it is taken or `expires_at` passes."""
        ...

    async def take(self, key: str) -> str | None:
        """The value under `key`, which is spent: at most one caller ever gets it;
        `None` if unknown, taken already or expired."""
        ...


def _timestamp(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class MemorySingleUseStore(SingleUseStore):
    """Keys in this process's memory.

    Only for a single process (tests, a one-instance app): another instance, or this one
    after a restart, knows nothing of the keys spent here, so a state replayed against
    another instance is not recognised. Use the SQL or Redis store otherwise.
    """

    def __init__(self) -> None:
        self._claimed: dict[str, float] = {}
        self._values: dict[str, tuple[str, float]] = {}

    def _forget_expired(self, now: float) -> None:
        self._claimed = {key: end for key, end in self._claimed.items() if end > now}
        self._values = {key: item for key, item in self._values.items() if item[1] > now}

    async def claim(self, key: str, expires_at: datetime) -> bool:
        now = time.time()
        self._forget_expired(now)
        if key in self._claimed:
            return False
        self._claimed[key] = _timestamp(expires_at)
        return True

    async def put(self, key: str, value: str, expires_at: datetime) -> None:
        self._forget_expired(time.time())
        self._values[key] = (value, _timestamp(expires_at))

    async def take(self, key: str) -> str | None:
        now = time.time()
        item = self._values.pop(key, None)
        if item is None or item[1] <= now:
            return None
        return item[0]
