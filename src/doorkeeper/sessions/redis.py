"""Sessions and refresh tokens in Redis, for apps on the Redis strategy.

Keys, under `key_prefix`:

- `s:<session id>`: the session, as JSON; expires with the session.
- `u:<user id>`: a sorted set of the user's session ids, by start time.
- `a:<access token id>`: the session id of an access token.
- `r:<refresh token digest>`: `n|<session id>|<expiry>` while unused, `u|...` once used.

Using a refresh token and recording a refresh are Lua scripts, so each is atomic: of
two concurrent uses of one token, exactly one sees it unused.
"""

import json
import math
from datetime import datetime, timezone
from typing import Any

import redis.asyncio

from doorkeeper.sessions.records import (
    RefreshTokenRecord,
    RefreshUse,
    RefreshUseStatus,
    SessionRecord,
)

__all__ = ["RedisSessionStore"]

REPLAY_MEMORY_SECONDS = 86400
"""How long a used or expired refresh token is remembered, to recognise a replay."""

_USE_REFRESH = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
local state, sid, expiry = string.match(value, '^(%a)|([^|]+)|(%d+)$')
if not state then return false end
if state == 'u' then return 'reused|' .. sid end
if tonumber(expiry) <= tonumber(ARGV[1]) then return 'expired|' .. sid end
redis.call('SET', KEYS[1], 'u|' .. sid .. '|' .. expiry, 'KEEPTTL')
return 'ok|' .. sid
"""

_ROTATE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local session = cjson.decode(raw)
if session['revoked_at'] ~= cjson.null then return 0 end
session['last_seen_at'] = ARGV[1]
local token_id = cjson.null
if ARGV[2] ~= '' then token_id = ARGV[2] end
session['access_token_id'] = token_id
redis.call('SET', KEYS[1], cjson.encode(session), 'KEEPTTL')
local ttl = redis.call('TTL', KEYS[1])
if ARGV[2] ~= '' and ttl > 0 then redis.call('SET', KEYS[2], ARGV[5], 'EX', ttl) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3], 'EX', tonumber(ARGV[4])) end
return 1
"""

_REVOKE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local session = cjson.decode(raw)
if session['revoked_at'] == cjson.null then
  session['revoked_at'] = ARGV[1]
  redis.call('SET', KEYS[1], cjson.encode(session), 'KEEPTTL')
end
return raw
"""

_TIMES = ("created_at", "last_seen_at", "expires_at", "revoked_at")


def _dump(session: SessionRecord) -> str:
    data: dict[str, Any] = dict(session.__dict__)
    for name in _TIMES:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return json.dumps(data)


def _load(raw: Any) -> SessionRecord | None:
    try:
        data = json.loads(raw)
        for name in _TIMES:
            if data.get(name) is not None:
                data[name] = datetime.fromisoformat(data[name])
        return SessionRecord(**data)
    except (TypeError, ValueError, KeyError):
        return None


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


class RedisSessionStore:
    """:param redis: An asyncio Redis client, created once per app.
    :param key_prefix: Namespace of the keys.
    """

    def __init__(
        self, redis: redis.asyncio.Redis, *, key_prefix: str = "doorkeeper:session:"
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self._use_refresh = redis.register_script(_USE_REFRESH)
        self._rotate = redis.register_script(_ROTATE)
        self._revoke = redis.register_script(_REVOKE)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.key_prefix}{kind}:{name}"

    def _refresh_value(self, refresh: RefreshTokenRecord) -> str:
        return f"n|{refresh.session_id}|{int(refresh.expires_at.timestamp())}"

    async def create(self, session: SessionRecord, refresh: RefreshTokenRecord | None) -> None:
        now = session.created_at
        ttl = _seconds_until(session.expires_at, now)
        user_key = self._key("u", session.user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key("s", session.id), _dump(session), ex=ttl)
            pipe.zadd(user_key, {session.id: now.timestamp()})
            pipe.zremrangebyscore(user_key, "-inf", now.timestamp() - ttl - REPLAY_MEMORY_SECONDS)
            pipe.expire(user_key, ttl, gt=True)
            pipe.expire(user_key, ttl, nx=True)
            if session.access_token_id:
                pipe.set(self._key("a", session.access_token_id), session.id, ex=ttl)
            if refresh is not None:
                pipe.set(
                    self._key("r", refresh.digest),
                    self._refresh_value(refresh),
                    ex=_seconds_until(refresh.expires_at, now) + REPLAY_MEMORY_SECONDS,
                )
            await pipe.execute()

    async def get(self, session_id: str) -> SessionRecord | None:
        raw = await self.redis.get(self._key("s", session_id))
        return None if raw is None else _load(raw)

    async def get_with_user(self, session_id: str) -> tuple[SessionRecord, Any | None] | None:
        record = await self.get(session_id)
        return None if record is None else (record, None)

    async def find_by_access_token(self, access_token_id: str) -> SessionRecord | None:
        session_id = await self.redis.get(self._key("a", access_token_id))
        if session_id is None:
            return None
        if isinstance(session_id, bytes):
            session_id = session_id.decode("utf-8")
        return await self.get(session_id)

    async def list_for_user(self, user_id: str) -> list[SessionRecord]:
        ids = await self.redis.zrevrange(self._key("u", user_id), 0, -1)
        if not ids:
            return []
        keys = [self._key("s", i.decode() if isinstance(i, bytes) else str(i)) for i in ids]
        records = [_load(raw) for raw in await self.redis.mget(keys) if raw is not None]
        return [record for record in records if record is not None]

    async def revoke(self, session_id: str, now: datetime) -> SessionRecord | None:
        raw = await self._revoke(keys=[self._key("s", session_id)], args=[now.isoformat()])
        return None if raw is None else _load(raw)

    async def revoke_all(
        self, user_id: str, now: datetime, except_session_id: str | None = None
    ) -> list[SessionRecord]:
        revoked = []
        for record in await self.list_for_user(user_id):
            alive = record.revoked_at is None and record.id != except_session_id
            if alive and await self.revoke(record.id, now) is not None:
                revoked.append(record)
        return revoked

    async def use_refresh_token(self, digest: str, now: datetime) -> RefreshUse:
        answer = await self._use_refresh(keys=[self._key("r", digest)], args=[int(now.timestamp())])
        if answer is None:
            return RefreshUse(RefreshUseStatus.INVALID)
        if isinstance(answer, bytes):
            answer = answer.decode("utf-8")
        status, session_id = str(answer).split("|", 1)
        return RefreshUse(RefreshUseStatus(status), session_id)

    async def rotate(
        self,
        session_id: str,
        now: datetime,
        access_token_id: str | None,
        refresh: RefreshTokenRecord | None,
    ) -> bool:
        refresh_key = self._key("r", refresh.digest) if refresh is not None else ""
        refresh_ttl = (
            _seconds_until(refresh.expires_at, now) + REPLAY_MEMORY_SECONDS
            if refresh is not None
            else 0
        )
        done = await self._rotate(
            keys=[
                self._key("s", session_id),
                self._key("a", access_token_id or "-"),
                refresh_key or self._key("r", "-"),
            ],
            args=[
                now.astimezone(timezone.utc).isoformat(),
                access_token_id or "",
                self._refresh_value(refresh) if refresh is not None else "",
                refresh_ttl,
                session_id,
            ],
        )
        return bool(done)
