"""RedisStrategy on a real Redis: round trip, digests only, expiry, revocation, and
malformed values."""

import json
import time
import uuid
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from doorkeeper.authentication import RedisStrategy
from doorkeeper.authentication.strategy.digest import hash_token
from tests.managers import UserManager
from tests.models import User
from tests.services import REDIS_URL


@pytest.fixture
def db_kind() -> str:
    """The users live in SQLite; these tests are about Redis."""
    return "sqlite"


@pytest.fixture
def strategy(redis: Any) -> RedisStrategy[User, uuid.UUID]:
    return RedisStrategy(redis, lifetime_seconds=3600, key_prefix=redis.test_prefix)


async def _keys(redis: Any) -> list[str]:
    return [key async for key in redis.scan_iter(match=redis.test_prefix + "*")]


async def test_round_trip_stores_only_the_digest(
    strategy: RedisStrategy[User, uuid.UUID], user: User, user_manager: UserManager, redis: Any
) -> None:
    before = time.time()
    token = await strategy.write_token(user)
    assert len(token) == 43
    keys = await _keys(redis)
    assert keys == [redis.test_prefix + hash_token(token)]
    value = await redis.get(keys[0])
    assert token not in keys[0]
    assert token not in value
    stored = json.loads(value)
    assert stored["sub"] == str(user.id)
    assert before <= stored["iat"] <= time.time()
    assert 3590 <= await redis.ttl(keys[0]) <= 3600
    found = await strategy.read_token(token, user_manager)
    assert found is not None
    assert found.id == user.id
    assert strategy.token_id(token) == hash_token(token)
    assert await strategy.read_token(hash_token(token), user_manager) is None


async def test_default_prefix_and_no_lifetime(redis: Any, user: User) -> None:
    strategy: RedisStrategy[User, uuid.UUID] = RedisStrategy(redis)
    assert strategy.key_prefix == "fastapi_users_token:"
    token = await strategy.write_token(user)
    key = "fastapi_users_token:" + hash_token(token)
    try:
        assert await redis.ttl(key) == -1  # no expiry
    finally:
        await redis.delete(key)


async def test_destroy(
    strategy: RedisStrategy[User, uuid.UUID], user: User, user_manager: UserManager, redis: Any
) -> None:
    token = await strategy.write_token(user)
    other = await strategy.write_token(user)
    await strategy.destroy_token(token, user)
    assert await strategy.read_token(token, user_manager) is None
    assert await strategy.read_token(other, user_manager) is not None
    assert await _keys(redis) == [redis.test_prefix + hash_token(other)]
    await strategy.destroy_token("x" * 9000, user)
    assert len(await _keys(redis)) == 1


@pytest.mark.parametrize("token", [None, "", "unknown", "x" * 9000])
async def test_unknown_tokens(
    strategy: RedisStrategy[User, uuid.UUID],
    user: User,
    user_manager: UserManager,
    token: str | None,
) -> None:
    await strategy.write_token(user)
    assert await strategy.read_token(token, user_manager) is None


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "42",
        "null",
        json.dumps(["sub", "iat"]),
        json.dumps({"iat": 1.0}),
        json.dumps({"sub": 42, "iat": 1.0}),
        json.dumps({"sub": "{user_id}"}),
        json.dumps({"sub": "{user_id}", "iat": "yesterday"}),
        json.dumps({"sub": "{user_id}", "iat": True}),
        '{"sub": "{user_id}", "iat": NaN}',
        '{"sub": "{user_id}", "iat": Infinity}',
        json.dumps({"sub": "{user_id}", "iat": -1e20}),
        json.dumps({"sub": "not-a-uuid", "iat": 1.0}),
        json.dumps({"sub": str(uuid.UUID(int=1)), "iat": 1.0}),
        "{user_id}",  # FastAPI Users' format: the bare user id
    ],
)
async def test_malformed_values(
    strategy: RedisStrategy[User, uuid.UUID],
    user: User,
    user_manager: UserManager,
    redis: Any,
    value: str,
) -> None:
    token = "a-token-with-a-strange-value"
    await redis.set(redis.test_prefix + hash_token(token), value.replace("{user_id}", str(user.id)))
    assert await strategy.read_token(token, user_manager) is None
    # The control: the same key with a well-formed value is accepted.
    good = json.dumps({"sub": str(user.id), "iat": time.time()})
    await redis.set(redis.test_prefix + hash_token(token), good)
    assert await strategy.read_token(token, user_manager) is not None


async def test_bytes_client(redis: Any, user: User, user_manager: UserManager) -> None:
    """A client without decode_responses returns bytes; that works too."""
    client = redis_asyncio.from_url(REDIS_URL)
    try:
        strategy: RedisStrategy[User, uuid.UUID] = RedisStrategy(
            client, 60, key_prefix=redis.test_prefix
        )
        token = await strategy.write_token(user)
        assert await strategy.read_token(token, user_manager) is not None
        await client.set(redis.test_prefix + hash_token(token), b"\xff\xfe")
        assert await strategy.read_token(token, user_manager) is None
    finally:
        await client.aclose()


async def test_revocation(
    strategy: RedisStrategy[User, uuid.UUID], user: User, user_manager: UserManager
) -> None:
    old = await strategy.write_token(user)
    kept = await strategy.write_token(user)
    await user_manager.revoke_tokens(user, keep_token_id=strategy.token_id(kept))
    assert await strategy.read_token(old, user_manager) is None
    assert await strategy.read_token(kept, user_manager) is not None
    new = await strategy.write_token(user)
    assert await strategy.read_token(new, user_manager) is not None
    await user_manager.revoke_tokens(user)
    assert await strategy.read_token(kept, user_manager) is None
    assert await strategy.read_token(new, user_manager) is None
