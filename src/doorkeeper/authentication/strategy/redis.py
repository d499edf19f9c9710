"""Redis strategy: opaque tokens whose SHA-256 digests are keys in Redis."""

import json
import math
import time
from datetime import datetime, timezone
from typing import Any, Generic

import redis.asyncio

from doorkeeper import exceptions
from doorkeeper.authentication.strategy.base import Strategy, note_token_expiry
from doorkeeper.authentication.strategy.digest import generate_token, hash_token
from doorkeeper.jwt import MAX_TOKEN_LENGTH
from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP
from doorkeeper.revocation import is_token_revoked


def _parse_value(raw: Any) -> tuple[str, datetime] | None:
    """The user id and issue time stored for a token; `None` if the value is not ours."""
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    sub, iat = data.get("sub"), data.get("iat")
    if not isinstance(sub, str) or isinstance(iat, bool) or not isinstance(iat, int | float):
        return None
    if not math.isfinite(iat):
        return None
    try:
        return sub, datetime.fromtimestamp(iat, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


class RedisStrategy(Strategy[UP, ID], Generic[UP, ID]):
    """:param redis: An asyncio Redis client, created once per app.
    :param lifetime_seconds: Key expiry; `None`: tokens last until logout or revocation.
    :param key_prefix: Namespace of the keys.

    A token is stored as `key_prefix + SHA-256 digest` with the value
    `{"sub": <user id>, "iat": <issue time>}`; the token itself is never stored.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        lifetime_seconds: int | None = None,
        *,
        key_prefix: str = "fastapi_users_token:",
    ):
        self.redis = redis
        self.lifetime_seconds = lifetime_seconds
        self.key_prefix = key_prefix

    def _key(self, token: str) -> str:
        return f"{self.key_prefix}{hash_token(token)}"

    async def read_token(
        self, token: str | None, user_manager: BaseUserManager[UP, ID]
    ) -> UP | None:
        if token is None or len(token) > MAX_TOKEN_LENGTH:
            return None
        parsed = _parse_value(await self.redis.get(self._key(token)))
        if parsed is None:
            return None
        sub, issued_at = parsed
        try:
            user = await user_manager.get(user_manager.parse_id(sub))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            return None
        if is_token_revoked(user, issued_at, hash_token(token)):
            return None
        if self.lifetime_seconds:
            note_token_expiry(issued_at.timestamp() + self.lifetime_seconds)
        return user

    async def write_token(self, user: UP) -> str:
        token = generate_token()
        value = json.dumps({"sub": str(user.id), "iat": time.time()})
        await self.redis.set(self._key(token), value, ex=self.lifetime_seconds)
        return token

    async def destroy_token(self, token: str, user: UP) -> None:
        if len(token) <= MAX_TOKEN_LENGTH:
            await self.redis.delete(self._key(token))

    async def destroy_token_id(self, token_id: str) -> None:
        """End the token whose digest is `token_id` (a session ended from elsewhere)."""
        await self.redis.delete(f"{self.key_prefix}{token_id}")

    def token_id(self, token: str) -> str:
        """The digest: what the key holds for this token."""
        return hash_token(token)
