"""Where the `Doorkeeper` object keeps each piece of state (issue 13.2): one setting per
store, the documented defaults, nothing moved by another option's Redis URL, and one
start-up log line saying where everything lives (docs/doorkeeper.md#where-state-lives)."""

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from doorkeeper import Doorkeeper, DoorkeeperSettings
from doorkeeper.adapter import SingleUse
from doorkeeper.adapter.models import Session
from doorkeeper.email import MemoryEmailSender
from doorkeeper.settings import ConfigurationError, load_settings
from tests.conftest import cheap_password_helper
from tests.oidc_provider import OIDCProvider, oidc_provider_fixture  # noqa: F401
from tests.services import REDIS_URL
from tests.test_doorkeeper import (  # noqa: F401
    SECRET,
    bearer,
    clean_environment,
    create_user,
    design_example,
    login,
    serving,
)
from tests.test_oauth_doorkeeper import sign_in


def prefixed_auth(redis: Any, database_url: str, provider: OIDCProvider, **settings: Any) -> Any:
    class PrefixedDoorkeeper(Doorkeeper):
        redis_key_prefix = redis.test_prefix + "token:"
        redis_session_key_prefix = redis.test_prefix + "session:"
        oauth_redis_key_prefix = redis.test_prefix + "oauth:"

    return PrefixedDoorkeeper(
        database_url,
        settings=DoorkeeperSettings(
            secret=SECRET,
            redis_url=REDIS_URL,
            rate_limit_key_prefix=redis.test_prefix + "ratelimit",
            **settings,
        ),
        email_sender=MemoryEmailSender(),
        password_helper=cheap_password_helper(),
        oauth_providers=[provider.client(name="oidc")],
    )


async def rows(auth: Doorkeeper, table: Any) -> int:
    async with auth.adapter.session_maker() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def redis_keys(redis: Any, kind: str) -> list[str]:
    return [key async for key in redis.scan_iter(match=f"{redis.test_prefix}{kind}*")]


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_the_auth_cache_and_rate_limits_move_no_session_out_of_the_database(
    database_url: str, redis: Any, oidc_provider: OIDCProvider
) -> None:
    """A Redis URL given for the cache's invalidations and shared rate limits, with the
    JWT strategy: sessions and OAuth states stay in SQL, as the docs say."""
    auth = prefixed_auth(redis, database_url, oidc_provider, strategy="jwt", auth_cache_seconds=5)
    assert auth.settings.state_locations == {
        "users": "database",
        "access tokens": "signed tokens",
        "sessions": "database",
        "oauth states": "database",
        "rate limits": "redis",
        "auth cache": "memory, invalidated over redis",
    }
    async with serving(design_example(auth), auth) as client:
        await create_user(auth, "ann@example.com")
        access = await login(client, "ann@example.com")
        assert (await client.get("/hello", headers=bearer(access))).status_code == 200
        bad = await client.post(
            "/auth/bearer/login", data={"username": "ann@example.com", "password": "wrong-1"}
        )
        assert bad.status_code == 400
        answer = await sign_in(client, "/auth/oidc/cookie", oidc_provider)
        assert answer.status_code == 303
        assert await rows(auth, Session) == 2  # the password login and the social one
        assert await rows(auth, SingleUse) >= 1
    assert await redis_keys(redis, "session:") == []
    assert await redis_keys(redis, "oauth:") == []
    assert await redis_keys(redis, "ratelimit") != []


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_each_store_can_be_moved_to_redis_by_its_own_setting(
    database_url: str, redis: Any, oidc_provider: OIDCProvider
) -> None:
    auth = prefixed_auth(
        redis,
        database_url,
        oidc_provider,
        strategy="jwt",
        session_store="redis",
        oauth_state_store="redis",
        rate_limit_store="memory",
    )
    async with serving(design_example(auth), auth) as client:
        await create_user(auth, "bob@example.com")
        access = await login(client, "bob@example.com")
        assert (await client.get("/hello", headers=bearer(access))).status_code == 200
        bad = await client.post(
            "/auth/bearer/login", data={"username": "bob@example.com", "password": "wrong-1"}
        )
        assert bad.status_code == 400
        assert (await sign_in(client, "/auth/oidc/cookie", oidc_provider)).status_code == 303
        assert await rows(auth, Session) == 0
        assert await rows(auth, SingleUse) == 0
    assert await redis_keys(redis, "session:") != []
    assert await redis_keys(redis, "oauth:") != []
    assert await redis_keys(redis, "ratelimit") == []


def test_the_redis_strategy_keeps_its_sessions_in_redis_by_default() -> None:
    settings = load_settings(secret=SECRET, redis_url=REDIS_URL)
    assert settings.auth_strategy == "redis"
    assert settings.session_store == settings.oauth_state_store == "redis"
    moved = load_settings(settings, session_store="database")
    assert moved.session_store == "database"
    assert moved.oauth_state_store == "database"  # follows the session store
    assert load_settings(secret=SECRET).state_locations["rate limits"] == "memory"
    assert load_settings(secret=SECRET, rate_limits_enabled=False).state_locations[
        "rate limits"
    ] == ("off")


@pytest.mark.parametrize("store", ["session_store", "oauth_state_store", "rate_limit_store"])
def test_a_store_in_redis_needs_a_redis_url(store: str) -> None:
    with pytest.raises(ConfigurationError, match=f"DOORKEEPER_{store.upper()}=redis needs"):
        load_settings(secret=SECRET, **{store: "redis"})


def test_no_redis_client_when_nothing_lives_in_redis() -> None:
    auth = Doorkeeper(
        "sqlite+aiosqlite:///./x.db", SECRET, settings=DoorkeeperSettings(secret=SECRET)
    )
    assert auth.redis is None
    limited = Doorkeeper(
        "sqlite+aiosqlite:///./x.db",
        SECRET,
        settings=DoorkeeperSettings(secret=SECRET, redis_url=REDIS_URL, strategy="database"),
    )
    assert limited.redis is None  # only the rate limits use Redis, through their own pool


async def test_the_start_up_logs_where_each_piece_of_state_lives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = Doorkeeper(
        "sqlite+aiosqlite:///./state.db",
        settings=DoorkeeperSettings(
            secret=SECRET,
            strategy="jwt",
            redis_url="redis://:hunter2-password@127.0.0.1:6379/0",
            rate_limits_enabled=False,
        ),
        password_helper=cheap_password_helper(),
    )
    with caplog.at_level(logging.INFO, logger="doorkeeper"):
        async with auth.lifespan():
            pass
    lines = [r.getMessage() for r in caplog.records if r.name == "doorkeeper"]
    assert lines == [auth.describe_state()]
    assert lines[0] == (
        "Doorkeeper state: users: database (sqlite+aiosqlite:///./state.db); "
        "access tokens: signed tokens; sessions: database (sqlite+aiosqlite:///./state.db); "
        "oauth states: database (sqlite+aiosqlite:///./state.db); rate limits: off; "
        "auth cache: off"
    )
    assert "hunter2" not in caplog.text
