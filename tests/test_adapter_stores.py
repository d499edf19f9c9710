"""The sub-adapters (`.user`, `.token`, `.session`, `.oauth`) on SQLite, PostgreSQL and
MariaDB: each call opens its own session, so they work outside requests."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.adapter.models import OneTimeToken, User
from doorkeeper.authentication.strategy.digest import hash_token
from doorkeeper.exceptions import UserAlreadyExists


@pytest.fixture
async def adapter(database_url: str) -> AsyncIterator[SQLAlchemyAdapter]:
    adapter = SQLAlchemyAdapter(database_url)
    await adapter.create_tables()
    yield adapter
    await adapter.dispose()


async def _user(adapter: SQLAlchemyAdapter, email: str = "Ann@Example.com") -> User:
    return await adapter.user.create({"email": email, "hashed_password": "hash"})


# --- .user ------------------------------------------------------------------------------


async def test_user_store_crud_outside_requests(adapter: SQLAlchemyAdapter) -> None:
    store = adapter.user
    user = await _user(adapter)
    assert user.email_normalized == "ann@example.com" and user.is_active
    with pytest.raises(UserAlreadyExists):
        await _user(adapter, "ANN@example.com")

    found = await store.get_by_email(" ann@EXAMPLE.com ")
    assert found is not None and found.id == user.id
    assert await store.get(uuid.uuid4()) is None

    updated = await store.update(found, {"is_verified": True, "email": "Ann@New.example"})
    assert updated.is_verified and updated.email_normalized == "ann@new.example"
    reloaded = await store.get(user.id)
    assert reloaded is not None and reloaded.is_verified and reloaded.email == "Ann@New.example"

    assert await store.update_if(reloaded, {"is_active": False}, {"is_active": True}) is not None
    assert await store.update_if(reloaded, {"is_active": False}, {"is_active": True}) is None
    again = await store.get(user.id)
    assert again is not None and again.is_active is False

    await store.delete(again)
    assert await store.get(user.id) is None


async def test_user_store_accepts_a_user_from_an_open_session(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    async with adapter.session_maker() as session:
        attached = await session.get(User, user.id)
        assert attached is not None
        updated = await adapter.user.update(attached, {"is_superuser": True})
        assert updated.is_superuser
    stored = await adapter.user.get(user.id)
    assert stored is not None and stored.is_superuser


async def test_user_store_list_and_count(adapter: SQLAlchemyAdapter) -> None:
    assert await adapter.user.count() == 0
    assert await adapter.user.list() == []
    for email in ["carol@example.com", "Alice@example.com", "bob@example.com"]:
        await _user(adapter, email)
    assert await adapter.user.count() == 3
    everyone = await adapter.user.list()
    assert [user.email for user in everyone] == [
        "Alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    page = await adapter.user.list(offset=1, limit=1)
    assert [user.email for user in page] == ["bob@example.com"]
    with pytest.raises(ValueError, match="must not be negative"):
        await adapter.user.list(offset=-1)


async def test_user_store_oauth_accounts(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    account = {
        "oauth_name": "github",
        "access_token": "a",
        "account_id": "42",
        "account_email": "ann@example.com",
    }
    user = await adapter.user.add_oauth_account(user, account)
    assert [a.account_id for a in user.oauth_accounts] == ["42"]
    linked = await adapter.user.get_by_oauth_account("github", "42")
    assert linked is not None and linked.id == user.id
    assert await adapter.user.get_by_oauth_account("github", "43") is None

    user = await adapter.user.update_oauth_account(
        linked, linked.oauth_accounts[0], {"access_token": "b", "expires_at": 7}
    )
    stored = await adapter.oauth.get("github", "42")
    assert stored is not None and stored.access_token == "b" and stored.expires_at == 7

    other = await _user(adapter, "bob@example.com")
    with pytest.raises(UserAlreadyExists):  # one provider account, one user
        await adapter.user.add_oauth_account(other, account)


async def test_deleting_a_user_deletes_its_rows(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    user = await adapter.user.add_oauth_account(
        user,
        {"oauth_name": "google", "access_token": "a", "account_id": "1", "account_email": "x"},
    )
    await adapter.session.create({"token": hash_token("t"), "user_id": user.id})
    await adapter.token.create("verify", user.id, 60)
    await adapter.user.delete(user)
    assert await adapter.oauth.list_for_user(user.id) == []
    assert await adapter.session.list_for_user(user.id) == []
    async with adapter.session_maker() as session:
        assert (await session.scalars(select(OneTimeToken))).all() == []


# --- .token -----------------------------------------------------------------------------


async def test_one_time_tokens_are_single_use(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    token = await adapter.token.create("email_change", user.id, 600, {"email": "new@x.example"})
    assert len(token) == 43
    async with adapter.session_maker() as session:
        row = (await session.scalars(select(OneTimeToken))).one()
    assert row.digest == hash_token(token) != token  # only the digest is stored
    assert row.used_at is None

    assert await adapter.token.consume("reset", token) is None  # another purpose
    consumed = await adapter.token.consume("email_change", token)
    assert consumed is not None
    assert consumed.user_id == user.id and consumed.purpose == "email_change"
    assert consumed.payload == {"email": "new@x.example"}
    assert consumed.used_at is not None and consumed.used_at.tzinfo is not None
    assert consumed.expires_at - consumed.created_at == timedelta(seconds=600)
    assert await adapter.token.consume("email_change", token) is None  # used

    assert await adapter.token.consume("email_change", "unknown-token") is None
    assert await adapter.token.consume("email_change", "") is None
    assert await adapter.token.consume("email_change", "x" * 10_000) is None


async def test_five_concurrent_consumes_get_one_row(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    token = await adapter.token.create("reset", user.id, 600)
    results = await asyncio.gather(*(adapter.token.consume("reset", token) for _ in range(5)))
    assert sum(result is not None for result in results) == 1


async def _age(adapter: SQLAlchemyAdapter, token: str, seconds: int) -> None:
    """Move a token's expiry `seconds` into the past."""
    past = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    async with adapter.session_maker() as session:
        await session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.digest == hash_token(token))
            .values(expires_at=past)
        )
        await session.commit()


async def test_expired_tokens_are_refused_and_purged(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    expired = await adapter.token.create("verify", user.id, 60)
    await _age(adapter, expired, 1)
    assert await adapter.token.consume("verify", expired) is None

    used = await adapter.token.create("verify", user.id, 60)
    assert await adapter.token.consume("verify", used) is not None
    live = await adapter.token.create("verify", user.id, 60)

    assert await adapter.token.purge_expired() == 2  # the expired one and the used one
    assert await adapter.token.purge_expired() == 0
    assert await adapter.token.consume("verify", live) is not None


async def test_revoking_a_users_tokens(adapter: SQLAlchemyAdapter) -> None:
    ann, bob = await _user(adapter), await _user(adapter, "bob@example.com")
    reset = await adapter.token.create("reset", ann.id, 60)
    verify = await adapter.token.create("verify", ann.id, 60)
    bobs = await adapter.token.create("reset", bob.id, 60)

    assert await adapter.token.revoke_for_user(ann.id, "reset") == 1
    assert await adapter.token.consume("reset", reset) is None
    assert await adapter.token.revoke_for_user(ann.id) == 1
    assert await adapter.token.consume("verify", verify) is None
    assert await adapter.token.consume("reset", bobs) is not None


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_token_arguments_are_checked(adapter: SQLAlchemyAdapter) -> None:
    user_id = uuid.uuid4()
    with pytest.raises(ValueError, match="purpose"):
        await adapter.token.create("", user_id, 60)
    with pytest.raises(ValueError, match="purpose"):
        await adapter.token.create("p" * 33, user_id, 60)
    with pytest.raises(ValueError, match="lifetime_seconds"):
        await adapter.token.create("verify", user_id, 0)


# --- .session -----------------------------------------------------------------------------


async def test_login_sessions_outside_requests(adapter: SQLAlchemyAdapter) -> None:
    ann, bob = await _user(adapter), await _user(adapter, "bob@example.com")
    first = await adapter.session.create({"token": hash_token("one"), "user_id": ann.id})
    second = await adapter.session.create(
        {
            "token": hash_token("two"),
            "user_id": ann.id,
            "created_at": first.created_at + timedelta(seconds=5),
        }
    )
    await adapter.session.create({"token": hash_token("three"), "user_id": bob.id})

    found = await adapter.session.get_by_token(hash_token("one"))
    assert found is not None and found.user_id == ann.id
    assert await adapter.session.get_by_token("nope") is None
    recent = first.created_at + timedelta(seconds=1)
    assert await adapter.session.get_by_token(hash_token("one"), max_age=recent) is None
    assert await adapter.session.get_by_token(hash_token("two"), max_age=recent) is not None

    listed = await adapter.session.list_for_user(ann.id)
    assert [row.token for row in listed] == [second.token, first.token]  # newest first

    moved = second.created_at + timedelta(seconds=10)
    updated = await adapter.session.update(first, {"created_at": moved})
    assert updated.created_at == moved
    stored = await adapter.session.get_by_token(first.token)
    assert stored is not None and stored.created_at == moved

    await adapter.session.delete(stored)
    assert await adapter.session.get_by_token(first.token) is None
    assert await adapter.session.delete_by_user(ann.id) == 1
    assert await adapter.session.list_for_user(ann.id) == []
    assert len(await adapter.session.list_for_user(bob.id)) == 1


# --- .oauth -----------------------------------------------------------------------------


async def test_oauth_accounts_outside_requests(adapter: SQLAlchemyAdapter) -> None:
    user = await _user(adapter)
    for name, account_id in [("google", "g1"), ("github", "h1")]:
        user = await adapter.user.add_oauth_account(
            user,
            {
                "oauth_name": name,
                "access_token": "a",
                "account_id": account_id,
                "account_email": user.email,
            },
        )
    accounts = await adapter.oauth.list_for_user(user.id)
    assert [(a.oauth_name, a.account_id) for a in accounts] == [("github", "h1"), ("google", "g1")]
    google = await adapter.oauth.get("google", "g1")
    assert google is not None and google.user_id == user.id
    assert await adapter.oauth.get("google", "h1") is None

    assert await adapter.oauth.delete(google.id) is True
    assert await adapter.oauth.delete(google.id) is False
    reloaded = await adapter.user.get(user.id)
    assert reloaded is not None
    assert [a.oauth_name for a in reloaded.oauth_accounts] == ["github"]
