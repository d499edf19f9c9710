"""The storage behind OAuth sign-in: single-use keys (in memory, SQL on SQLite,
PostgreSQL and MariaDB, and Redis), provider tokens encrypted at rest with key rotation
(SECURITY 35), and provider tokens too long for FastAPI Users' columns."""

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from doorkeeper.oauth.crypto import PREFIX, TokenCipher, TokenDecryptionError, encrypted_length
from doorkeeper.singleuse import MemorySingleUseStore, SingleUseStore, single_use_key
from doorkeeper.singleuse.redis import RedisSingleUseStore
from doorkeeper.singleuse.sqlalchemy import PURGE_EVERY, SQLAlchemySingleUseStore
from tests.managers import UserManager
from tests.oauth_apps import sql_store

SECRET = "the-current-secret-of-the-app-0123456789abcdef"
OLD_SECRET = "the-previous-secret-of-the-app-0123456789abcd"


def soon(seconds: float = 60) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def check_contract(store: SingleUseStore) -> None:
    key, other = single_use_key("test", "a"), single_use_key("test", "b")
    assert len(key) == 43 and key != single_use_key("other", "a")
    assert await store.claim(key, soon()) is True
    assert await store.claim(key, soon()) is False
    claims = await asyncio.gather(*(store.claim(other, soon()) for _ in range(8)))
    assert sorted(claims) == [False] * 7 + [True]
    value_key = single_use_key("value", "c")
    await store.put(value_key, '{"user_id": "1"}', soon())
    takes = await asyncio.gather(*(store.take(value_key) for _ in range(8)))
    assert sorted(takes, key=str) == [*([None] * 7), '{"user_id": "1"}']
    assert await store.take(single_use_key("value", "unknown")) is None
    expired = single_use_key("value", "d")
    await store.put(expired, "x", soon(-1))
    assert await store.take(expired) is None


async def test_memory_store() -> None:
    store = MemorySingleUseStore()
    await check_contract(store)
    assert await store.claim("naive", datetime.now() + timedelta(seconds=60))


async def test_sql_store(db_kind: str, engine: AsyncEngine) -> None:
    store = await sql_store(engine)
    await check_contract(store)
    assert await store.purge_expired() >= 2  # the taken value and the expired one
    with pytest.raises(ValueError, match="at most"):
        await store.put("k", "x" * 2000, soon())


async def test_sql_store_purges_now_and_then(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await sql_store(engine)
    purged: list[int] = []
    real = SQLAlchemySingleUseStore.purge_expired

    async def counting(self: SQLAlchemySingleUseStore) -> int:
        purged.append(1)
        return await real(self)

    monkeypatch.setattr(SQLAlchemySingleUseStore, "purge_expired", counting)
    for index in range(PURGE_EVERY):
        await store.claim(f"key-{index}", soon())
    assert purged == [1]


async def test_redis_store(redis: Any) -> None:
    store = RedisSingleUseStore(redis, key_prefix=redis.test_prefix)
    await check_contract(store)
    keys = [key async for key in redis.scan_iter(match=redis.test_prefix + "*")]
    lifetimes = [await redis.pttl(key) for key in keys]
    assert lifetimes and all(0 < ms <= 60_000 for ms in lifetimes)


async def test_redis_store_naive_times(redis: Any) -> None:
    store = RedisSingleUseStore(redis, key_prefix=redis.test_prefix)
    naive = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=60)
    assert await store.claim("naive", naive) is True


async def test_redis_store_reads_bytes(redis: Any) -> None:
    class BytesRedis:
        async def getdel(self, key: str) -> bytes:
            return b"value"

    assert await RedisSingleUseStore(BytesRedis()).take("k") == "value"


# --- encryption ------------------------------------------------------------------------


def test_security_35_cipher_round_trip_and_tampering() -> None:
    cipher = TokenCipher(SECRET)
    sealed = cipher.encrypt("ya29.provider-access-token")
    assert sealed.startswith(f"{PREFIX}{cipher.key_id}:") and "ya29" not in sealed
    assert cipher.encrypt("same") != cipher.encrypt("same")  # a fresh nonce each time
    assert cipher.decrypt(sealed) == "ya29.provider-access-token"
    assert len(sealed) == encrypted_length(len("ya29.provider-access-token"))
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    for bad in (tampered, sealed[:30], f"{PREFIX}unknown0:{sealed.rsplit(':', 1)[1]}"):
        with pytest.raises(TokenDecryptionError):
            cipher.decrypt(bad)
    other_purpose = TokenCipher(SECRET, purpose="something-else")
    with pytest.raises(TokenDecryptionError):
        other_purpose.decrypt(sealed)
    assert cipher.decrypt("legacy-plaintext") == "legacy-plaintext"


def test_security_35_key_rotation() -> None:
    old = TokenCipher(OLD_SECRET)
    sealed_by_old = old.encrypt("refresh-token")
    rotated = TokenCipher(SECRET, OLD_SECRET)
    assert rotated.key_id != old.key_id
    assert rotated.decrypt(sealed_by_old) == "refresh-token"
    assert rotated.needs_rotation(sealed_by_old) and rotated.needs_rotation("plaintext")
    renewed = rotated.rotate(sealed_by_old)
    assert not rotated.needs_rotation(renewed) and rotated.rotate(renewed) == renewed
    assert TokenCipher(SECRET).decrypt(renewed) == "refresh-token"
    assert rotated.decrypt(rotated.rotate("plaintext")) == "plaintext"
    with pytest.raises(TokenDecryptionError):
        TokenCipher(SECRET).decrypt(sealed_by_old)


def test_encrypted_sizes_fit_fastapi_users_columns() -> None:
    """Google and GitHub tokens, encrypted, fit the 1,024 characters of FastAPI Users'
    columns; Microsoft's JWT access tokens do not even in clear (see docs/oauth.md)."""
    assert encrypted_length(256) <= 1024 and encrypted_length(720) <= 1024
    assert encrypted_length(750) > 1024


async def test_tokens_too_long_for_their_column_are_not_stored(
    user_manager: UserManager, caplog: Any
) -> None:
    from doorkeeper.db import SQLAlchemyUserDatabase
    from tests.models import OAuthAccount, User

    manager = UserManager(
        SQLAlchemyUserDatabase(user_manager.user_db.session, User, OAuthAccount),  # type: ignore[attr-defined]
        user_manager.password_helper,
    )
    with caplog.at_level(logging.WARNING, logger="doorkeeper.oauth"):
        user = await manager.oauth_callback(
            "microsoft", "a" * 2000, "sub-1", "lancelot@camelot.bt", None, "r" * 1500
        )
    (account,) = user.oauth_accounts
    assert account.access_token == "" and account.refresh_token is None
    assert "does not fit its column" in caplog.text
    assert "a" * 50 not in caplog.text


async def test_unlinking_in_the_storage_layer(user_manager: UserManager) -> None:
    from doorkeeper.db import BaseUserDatabase, SQLAlchemyUserDatabase
    from doorkeeper.oauth_flows import _fit_tokens
    from tests.models import OAuthAccount, User

    session = user_manager.user_db.session  # type: ignore[attr-defined]
    with pytest.raises(NotImplementedError):
        await BaseUserDatabase[Any, Any]().delete_oauth_account(None, None)
    with pytest.raises(NotImplementedError):
        await SQLAlchemyUserDatabase(session, User).delete_oauth_account(None, None)  # type: ignore[arg-type]
    db = SQLAlchemyUserDatabase(session, User, OAuthAccount)
    user = await db.create({"email": "gawain@camelot.bt", "hashed_password": "h"})
    user = await db.add_oauth_account(
        user, {"oauth_name": "x", "access_token": "t", "account_id": "1", "account_email": "g@x"}
    )
    detached = OAuthAccount(id=user.oauth_accounts[0].id)
    stray = await session.merge(detached)
    user.oauth_accounts.remove(user.oauth_accounts[0])
    await db.delete_oauth_account(user, stray)
    session.expunge_all()
    reloaded = await db.get(user.id)
    assert reloaded is not None and reloaded.oauth_accounts == []
    account = {"access_token": "a" * 5000}
    assert _fit_tokens(object(), account) == account
